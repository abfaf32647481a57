package spaces

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/transport"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/pkg/status"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestCertificateRenewal runs a space server whose certificates are valid for 90 seconds, so
// that they are renewed (after 60) and the first ones expire (after 90) within the test, and
// shows that nothing needs a restart: the front proxy and the spaces' API servers serve
// renewed certificates, a kubeconfig copied before the renewal still works, and the
// components' kubeconfigs still work once the certificates they started with have expired.
func TestCertificateRenewal(t *testing.T) {
	// client-go reads a client certificate file at every new connection, but closes the
	// connections made with the old one only when it looks every CertCallbackRefreshDuration
	// (5 minutes). With real lifetimes renewal comes years before expiry; here the old
	// certificates expire 30 seconds after renewal, so it looks every second. This is the
	// knob client-go exposes for such tests.
	refresh := transport.CertCallbackRefreshDuration
	transport.CertCallbackRefreshDuration = time.Second
	t.Cleanup(func() { transport.CertCallbackRefreshDuration = refresh })

	const validity = 90 * time.Second
	metricsPort, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	metricsAddress := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	srv := framework.StartSpaceServer(t, func(o *server.Options) {
		o.CertificateValidity = validity
		o.MetricsBindAddress = metricsAddress
	})
	ctx := t.Context()
	caPool := x509.NewCertPool()
	caPEM, err := os.ReadFile(srv.CAFile())
	require.NoError(t, err)
	require.True(t, caPool.AppendCertsFromPEM(caPEM))

	frontProxy := strings.TrimPrefix(srv.BaseURL(), "https://")
	firstServing := servedCertificate(t, frontProxy, caPool)
	assert.WithinDuration(t, firstServing.NotBefore.Add(5*time.Minute+validity), firstServing.NotAfter, 5*time.Second,
		"the serving certificate is issued for --certificate-validity")
	rootAPIServer := rootSpaceAPIServer(t, srv)
	firstAPIServing := servedCertificate(t, rootAPIServer, caPool)

	// A kubeconfig handed out now, like get-external-kubeconfig's: the CA and, inside, the
	// admin certificate of now.
	handedOut, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	handedOutConfig := configFromBytes(t, handedOut, spaces.RootPath)
	firstAdmin, err := clientCertificateOf(handedOutConfig)
	require.NoError(t, err)
	_, err = kubernetes.NewForConfigOrDie(handedOutConfig).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)

	// Every certificate the client sees expires within 30 days: status says so, with dates.
	warnings, err := status.CheckCertificates(ctx, handedOutConfig, time.Now())
	require.NoError(t, err)
	require.Len(t, warnings, 2, "%v", warnings)
	assert.Contains(t, warnings[0].String(), `the client certificate of user "`+server.AdminUser+`"`)
	assert.Contains(t, warnings[0].String(), firstAdmin.NotAfter.UTC().Format(time.RFC3339))
	assert.Contains(t, warnings[1].String(), "the serving certificate of")
	assert.Contains(t, warnings[1].String(), firstServing.NotAfter.UTC().Format(time.RFC3339))

	// The components' clients, made now and kept, each asking who it is.
	components := map[string]*kubernetes.Clientset{}
	for _, component := range server.Components() {
		components[component] = kubernetes.NewForConfigOrDie(componentConfig(t, srv, component, spaces.RootPath))
		assertUser(ctx, t, components[component], server.ComponentUser(component))
	}

	var renewedServing *x509.Certificate
	waitFor(ctx, t, validity, "the front proxy to serve a renewed certificate", func() bool {
		renewedServing = servedCertificate(t, frontProxy, caPool)
		return renewedServing.SerialNumber.Cmp(firstServing.SerialNumber) != 0
	})
	assert.True(t, renewedServing.NotAfter.After(firstServing.NotAfter), "the renewed certificate expires later")
	require.True(t, time.Now().Before(firstAdmin.NotAfter), "the test was too slow to see the renewal before the first certificates expired")
	_, err = kubernetes.NewForConfigOrDie(configFromBytes(t, handedOut, spaces.RootPath)).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	assert.NoError(t, err, "a kubeconfig handed out before the renewal trusts the renewed serving certificate")

	waitFor(ctx, t, validity, "the root space's API server to serve a renewed certificate", func() bool {
		return servedCertificate(t, rootAPIServer, caPool).SerialNumber.Cmp(firstAPIServing.SerialNumber) != 0
	})

	// Past the expiry of every certificate of the start.
	time.Sleep(time.Until(firstAdmin.NotAfter.Add(3 * time.Second)))
	for component, c := range components {
		assertUser(ctx, t, c, server.ComponentUser(component))
	}
	for _, component := range server.Components() {
		c := kubernetes.NewForConfigOrDie(componentConfig(t, srv, component, spaces.RootPath))
		assertUser(ctx, t, c, server.ComponentUser(component))
	}
	// The admin kubeconfig holds the renewed certificate; requests through the front proxy
	// reach the space's API server with the front proxy's renewed client certificate.
	admin := kubernetes.NewForConfigOrDie(srv.Config(spaces.RootPath))
	assertUser(ctx, t, admin, server.AdminUser)
	_, err = admin.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	assert.NoError(t, err)
	rewritten, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	renewedAdmin, err := clientCertificateOf(configFromBytes(t, rewritten, spaces.RootPath))
	require.NoError(t, err)
	assert.True(t, renewedAdmin.NotAfter.After(firstAdmin.NotAfter), "admin.kubeconfig holds the renewed admin certificate")

	// The metric gives each certificate's expiry.
	metrics := scrape(ctx, t, "http://"+metricsAddress+"/metrics")
	assert.Contains(t, metrics, fmt.Sprintf(`%s{certificate="ca"}`, server.CertificateExpiryMetric))
	servingLine := fmt.Sprintf(`%s{certificate="serving"}`, server.CertificateExpiryMetric)
	assert.Contains(t, metrics, servingLine)
	for _, line := range strings.Split(metrics, "\n") {
		if value, ok := strings.CutPrefix(line, servingLine+" "); ok {
			var seconds float64
			_, err := fmt.Sscan(value, &seconds)
			require.NoError(t, err)
			assert.Greater(t, int64(seconds), firstServing.NotAfter.Unix(), "the metric follows the renewal")
		}
	}
}

// servedCertificate is the certificate the TLS server at address presents, verified with pool.
func servedCertificate(t *testing.T, address string, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	host, _, _ := strings.Cut(address, ":")
	conn, err := tls.Dial("tcp", address, &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// rootSpaceAPIServer is the host:port of the root space's kube-apiserver, as given to its
// kube-controller-manager.
func rootSpaceAPIServer(t *testing.T, srv *framework.SpaceServer) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(filepath.Join(srv.Options.RootDir, "spaces", spaces.RootID, "kube-controller-manager.kubeconfig"))
	require.NoError(t, err)
	for _, cluster := range cfg.Clusters {
		u, err := url.Parse(cluster.Server)
		require.NoError(t, err)
		return u.Host
	}
	t.Fatal("the root space's kube-controller-manager has no server")
	return ""
}

// configFromBytes is the client configuration, for the space at path, of a kubeconfig.
func configFromBytes(t *testing.T, data []byte, path string) *rest.Config {
	t.Helper()
	raw, err := clientcmd.Load(data)
	require.NoError(t, err)
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, kubeconfig.BaseContext, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	require.NoError(t, err)
	return spaces.ConfigFor(cfg, path)
}

// clientCertificateOf is the client certificate inside cfg.
func clientCertificateOf(cfg *rest.Config) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(pair.Certificate[0])
}

// assertUser asserts that the client is authenticated as user.
func assertUser(ctx context.Context, t *testing.T, c *kubernetes.Clientset, user string) {
	t.Helper()
	review, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if assert.NoError(t, err, "as %s", user) {
		assert.Equal(t, user, review.Status.UserInfo.Username)
	}
}

// waitFor polls cond every half second until it holds, failing the test after timeout.
func waitFor(ctx context.Context, t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond(), nil })
	require.NoError(t, err, "waiting for %s", what)
}

// scrape reads a metrics page.
func scrape(ctx context.Context, t *testing.T, address string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	return string(body)
}
