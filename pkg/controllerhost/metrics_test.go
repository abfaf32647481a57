package controllerhost_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2/ktesting"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/test/framework"
)

// testCounter is registered where the controllers register theirs, so that a scrape that
// shows it shows the controllers' metrics too.
var testCounter = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "kubestellar_controllerhost_test_total", Help: "Counts nothing; the metrics tests look for it.",
})

func init() {
	ctrlmetrics.Registry.MustRegister(testCounter)
}

func freeAddress(t *testing.T) string {
	t.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// startMetrics serves metrics as o says until the test ends and waits until they answer.
func startMetrics(t *testing.T, srv *framework.APIServer, o *controllerhost.Options) string {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	failed := make(chan error, 1)
	require.NoError(t, controllerhost.ServeMetrics(ctx, o, srv.Config, func(err error) { failed <- err }))
	scheme := "http"
	if o.MetricsSecure {
		scheme = "https"
	}
	base := scheme + "://" + o.MetricsBindAddress
	framework.Eventually(t, 30*time.Second, "the metrics server answers", func() bool {
		select {
		case err := <-failed:
			t.Fatalf("the metrics server failed: %v", err)
		default:
		}
		_, _, err := get(t, base+"/metrics", "")
		return err == nil
	})
	return base
}

// get does a GET with the bearer token (none when empty), trusting any server certificate,
// as a scraper given the self-signed one would.
func get(t *testing.T, url, token string) (int, string, error) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the server's certificate is self-signed
	}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func mustGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	code, body, err := get(t, url, token)
	require.NoError(t, err)
	return code, body
}

// serviceAccountToken makes a ServiceAccount in the API server, bound to a ClusterRole with
// rules when there are any, and returns a token of it.
func serviceAccountToken(t *testing.T, cs kubernetes.Interface, name string, rules ...rbacv1.PolicyRule) string {
	t.Helper()
	ctx := t.Context()
	_, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	if len(rules) > 0 {
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: name}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

func TestSecureMetrics(t *testing.T) {
	srv := framework.StartAPIServer(t)
	cs := kubernetes.NewForConfigOrDie(srv.Config)
	scraper := serviceAccountToken(t, cs, "scraper", rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}})
	profiler := serviceAccountToken(t, cs, "profiler", rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics", "/debug/pprof/*"}, Verbs: []string{"get"}})
	stranger := serviceAccountToken(t, cs, "stranger")
	testCounter.Inc()

	t.Run("only a client allowed to get /metrics in the root space reads them", func(t *testing.T) {
		o := controllerhost.NewOptions("test", freeAddress(t))
		o.MetricsSecure = true
		require.NoError(t, o.Validate())
		base := startMetrics(t, srv, o)

		code, _ := mustGet(t, base+"/metrics", "")
		assert.Equal(t, http.StatusUnauthorized, code, "without a token")
		// controller-runtime answers 500 here: the root space reports an error for a token it
		// cannot parse, rather than an unauthenticated user.
		code, body := mustGet(t, base+"/metrics", "not-a-token")
		assert.NotEqual(t, http.StatusOK, code, "with a token the root space does not accept")
		assert.NotContains(t, body, "kubestellar_controllerhost_test_total")
		code, _ = mustGet(t, base+"/metrics", stranger)
		assert.Equal(t, http.StatusForbidden, code, "with the token of a ServiceAccount not allowed /metrics")
		code, body = mustGet(t, base+"/metrics", scraper)
		assert.Equal(t, http.StatusOK, code, "with the token of a ServiceAccount allowed /metrics: %s", body)
		assert.Contains(t, body, "kubestellar_controllerhost_test_total 1", "the registry the controllers use")

		code, _ = mustGet(t, base+"/debug/pprof/", profiler)
		assert.Equal(t, http.StatusNotFound, code, "no profiles without --enable-pprof")
	})

	t.Run("with --enable-pprof profiles are behind the same authorization", func(t *testing.T) {
		o := controllerhost.NewOptions("test", freeAddress(t))
		o.MetricsSecure, o.EnablePprof = true, true
		require.NoError(t, o.Validate())
		base := startMetrics(t, srv, o)

		code, _ := mustGet(t, base+"/debug/pprof/", "")
		assert.Equal(t, http.StatusUnauthorized, code, "without a token")
		code, _ = mustGet(t, base+"/debug/pprof/", scraper)
		assert.Equal(t, http.StatusForbidden, code, "allowed /metrics only")
		code, body := mustGet(t, base+"/debug/pprof/", profiler)
		assert.Equal(t, http.StatusOK, code, "allowed /debug/pprof/*: %s", body)
		assert.Contains(t, body, "goroutine")
		code, _ = mustGet(t, base+"/debug/pprof/cmdline", profiler)
		assert.Equal(t, http.StatusOK, code)
	})
}

func TestPlainMetrics(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		t.Run(fmt.Sprintf("--enable-pprof=%t", pprof), func(t *testing.T) {
			o := controllerhost.NewOptions("test", freeAddress(t))
			o.EnablePprof = pprof
			require.NoError(t, o.Validate())
			// Without --metrics-secure the root space is not asked anything.
			base := startMetrics(t, &framework.APIServer{}, o)

			code, body := mustGet(t, base+"/metrics", "")
			assert.Equal(t, http.StatusOK, code)
			assert.Contains(t, body, "kubestellar_controllerhost_test_total")
			want := http.StatusNotFound
			if pprof {
				want = http.StatusOK
			}
			code, _ = mustGet(t, base+"/debug/pprof/", "")
			assert.Equal(t, want, code, "/debug/pprof/")
			code, _ = mustGet(t, base+"/healthz", "")
			assert.Equal(t, http.StatusNotFound, code, "the probes have their own address")
		})
	}
}

func TestMetricsAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, ctx := ktesting.NewTestContext(t)
	o := controllerhost.NewOptions("test", l.Addr().String())
	failed := make(chan error, 1)
	require.NoError(t, controllerhost.ServeMetrics(ctx, o, nil, func(err error) { failed <- err }))
	select {
	case err := <-failed:
		assert.ErrorContains(t, err, "--metrics-bind-address "+l.Addr().String())
	case <-time.After(10 * time.Second):
		t.Fatal("no error for an address in use")
	}
}

func TestHealthWithoutCredentials(t *testing.T) {
	addr := freeAddress(t)
	var ready atomic.Bool
	stop, err := controllerhost.ServeHealth(t.Context(), addr, ready.Load)
	require.NoError(t, err)
	defer stop()
	code, _ := mustGet(t, "http://"+addr+"/healthz", "")
	assert.Equal(t, http.StatusOK, code, "/healthz")
	code, _ = mustGet(t, "http://"+addr+"/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "/readyz before ready")
	ready.Store(true)
	code, _ = mustGet(t, "http://"+addr+"/readyz", "")
	assert.Equal(t, http.StatusOK, code, "/readyz once ready")
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		code, _ = mustGet(t, "http://"+addr+path, "")
		assert.Equal(t, http.StatusNotFound, code, "%s is not on the health address", path)
	}
}

func TestServerFlagsValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		set  func(o *controllerhost.Options)
		want string
	}{
		"bad metrics address": {func(o *controllerhost.Options) { o.MetricsBindAddress = "10203" }, `--metrics-bind-address "10203" must be [host]:port`},
		"bad health address":  {func(o *controllerhost.Options) { o.HealthBindAddress = "nope" }, `--health-bind-address "nope" must be [host]:port`},
		"one address for both": {func(o *controllerhost.Options) { o.HealthBindAddress = o.MetricsBindAddress },
			"--health-bind-address and --metrics-bind-address are both"},
		"cert dir without secure": {func(o *controllerhost.Options) { o.MetricsCertDir = "/certs" }, "--metrics-cert-dir is for --metrics-secure"},
		"pprof without metrics": {func(o *controllerhost.Options) { o.MetricsBindAddress, o.EnablePprof = "0", true },
			"--enable-pprof serves on the metrics address"},
	} {
		t.Run(name, func(t *testing.T) {
			o := controllerhost.NewOptions("test", "127.0.0.1:10203")
			o.HealthBindAddress = ":10213"
			require.NoError(t, o.Validate())
			tc.set(o)
			assert.ErrorContains(t, o.Validate(), tc.want)
		})
	}
	o := controllerhost.NewOptions("test", "")
	require.NoError(t, o.Validate(), "nothing served")
	assert.False(t, o.MetricsOn())
}

func TestMetricsCertDir(t *testing.T) {
	srv := framework.StartAPIServer(t)
	dir := t.TempDir()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("metrics.example.test", nil, nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600))

	o := controllerhost.NewOptions("test", freeAddress(t))
	o.MetricsSecure, o.MetricsCertDir = true, dir
	require.NoError(t, o.Validate())
	startMetrics(t, srv, o)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	conn, err := tls.Dial("tcp", o.MetricsBindAddress, &tls.Config{RootCAs: pool, ServerName: "metrics.example.test", MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "the server presents the certificate of --metrics-cert-dir")
	require.NoError(t, conn.Close())

	_, ctx := ktesting.NewTestContext(t)
	o.MetricsCertDir = t.TempDir()
	err = controllerhost.ServeMetrics(ctx, o, srv.Config, func(error) {})
	assert.ErrorContains(t, err, "--metrics-cert-dir", "a directory without the certificate is an error, not a silent self-signed one")
}
