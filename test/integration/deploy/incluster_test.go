// Package deploy tests what runs the KubeStellar core in a hosting cluster: the init
// container's work, the kubeconfig retrieval and the Helm deployment, against real API servers.
package deploy

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/pkg/incluster"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

const namespace = "ks-system"

// hostClient returns a client for the hosting cluster that knows OpenShift Routes.
func hostClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, routev1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return c
}

// emptySecret makes the namespace and the empty Secret, as the chart does.
func emptySecret(t *testing.T, c client.Client) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: deploy.SecretName, Namespace: namespace}}))
}

// connect loads a published kubeconfig and lists the spaces through it, dialing the space
// server whatever host name the kubeconfig names (as DNS or an ingress would), so that the
// TLS handshake uses that name for SNI and verification, with only the kubeconfig's CA.
func connect(t *testing.T, kubeconfig []byte, serverAddr string) (*url.URL, []string) {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	require.NoError(t, err)
	assert.False(t, cfg.Insecure, "the kubeconfig must verify TLS")
	assert.NotEmpty(t, cfg.CAData, "the kubeconfig must carry the CA")
	u, err := url.Parse(cfg.Host)
	require.NoError(t, err)
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, serverAddr)
	}
	c, _, err := spaces.NewClient(cfg)
	require.NoError(t, err)
	names, err := c.List(t.Context())
	require.NoError(t, err, "listing spaces through %s", cfg.Host)
	return u, names
}

func TestInitInCluster(t *testing.T) {
	host := framework.StartAPIServer(t)
	srv := framework.StartSpaceServer(t)
	hc := hostClient(t, host.Config)
	emptySecret(t, hc)
	admin, err := clientcmd.LoadFromFile(srv.Kubeconfig)
	require.NoError(t, err)
	serverURL, err := url.Parse(admin.Clusters[admin.Contexts["root"].Cluster].Server)
	require.NoError(t, err)
	serverAddr := net.JoinHostPort("127.0.0.1", serverURL.Port())

	var lines []string
	o := incluster.Options{
		RootDir:          filepath.Dir(srv.Kubeconfig),
		Namespace:        namespace,
		SecretName:       deploy.SecretName,
		ServiceName:      "kubestellar",
		ExternalEndpoint: "kubestellar.example.test:9443",
		Bootstrap:        bootstrap.Options{ESPWPath: "root:espw", IMWs: []string{"root:imw1"}, WMWs: []string{"root:wmw1"}, Timeout: 2 * time.Minute},
		Host:             hc,
		Progress:         func(format string, args ...any) { lines = append(lines, format) },
	}
	require.NoError(t, incluster.Publish(t.Context(), o))

	secret := &corev1.Secret{}
	require.NoError(t, hc.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deploy.SecretName}, secret))
	for key, wantHost := range map[string]string{
		deploy.KeyAdmin:    serverURL.Host,
		deploy.KeyCluster:  "kubestellar." + namespace + ".svc:6443",
		deploy.KeyExternal: "kubestellar.example.test:9443",
	} {
		t.Run(key+" connects", func(t *testing.T) {
			require.NotEmpty(t, secret.Data[key])
			u, names := connect(t, secret.Data[key], serverAddr)
			assert.Equal(t, wantHost, u.Host)
			assert.Equal(t, "/clusters/root", u.Path)
			assert.Subset(t, names, []string{"root:espw", "root:imw1", "root:wmw1"})
		})
	}

	t.Run("a second run changes nothing", func(t *testing.T) {
		before := secret.ResourceVersion
		require.NoError(t, incluster.Publish(t.Context(), o))
		again := &corev1.Secret{}
		require.NoError(t, hc.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deploy.SecretName}, again))
		assert.Equal(t, before, again.ResourceVersion)
	})

	t.Run("a missing Secret is an error that says who makes it", func(t *testing.T) {
		o2 := o
		o2.SecretName = "not-there"
		err := incluster.Publish(t.Context(), o2)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the chart makes it")
	})

	t.Run("on OpenShift the external host comes from the Route", func(t *testing.T) {
		installRouteCRD(t, host.Config)
		route := &routev1.Route{
			ObjectMeta: metav1.ObjectMeta{Name: "kubestellar", Namespace: namespace},
			Spec: routev1.RouteSpec{
				To:  routev1.RouteTargetReference{Kind: "Service", Name: "kubestellar"},
				TLS: &routev1.TLSConfig{Termination: routev1.TLSTerminationPassthrough},
			},
		}
		require.NoError(t, hc.Create(t.Context(), route))
		o2 := o
		o2.ExternalEndpoint = ""
		o2.RouteName = "kubestellar"
		done := make(chan error, 1)
		go func() { done <- incluster.Publish(t.Context(), o2) }()
		// The router admits the Route a little later, as on a real cluster.
		time.Sleep(2 * time.Second)
		route.Status.Ingress = []routev1.RouteIngress{{
			Host: "kubestellar-ks-system.apps.example.test", RouterName: "default",
			Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue}},
		}}
		require.NoError(t, hc.Status().Update(t.Context(), route))
		require.NoError(t, <-done)
		require.NoError(t, hc.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deploy.SecretName}, secret))
		u, names := connect(t, secret.Data[deploy.KeyExternal], serverAddr)
		assert.Equal(t, "kubestellar-ks-system.apps.example.test:443", u.Host)
		assert.Contains(t, names, "root:espw")
	})
}

// installRouteCRD installs OpenShift's Route CRD, from the openshift/api module, into the
// hosting cluster.
func installRouteCRD(t *testing.T, cfg *rest.Config) {
	t.Helper()
	dir := framework.ModuleDir(t, "github.com/openshift/api")
	framework.ApplyCRDFiles(t, cfg, filepath.Join(dir, "route", "v1", "zz_generated.crd-manifests", "routes.crd.yaml"))
}

func TestGetKubeconfig(t *testing.T) {
	host := framework.StartAPIServer(t)
	bin := framework.BuildCommands(t, "kubectl-kubestellar")
	hc := hostClient(t, host.Config)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"host": host.Config})
	dir := t.TempDir()
	run := func(ctx context.Context, args ...string) framework.Result {
		return framework.Run(ctx, dir, filepath.Join(bin, "kubectl-kubestellar"), append(args, "--kubeconfig", kubeconfig)...)
	}

	t.Run("no Secret: says KubeStellar is not deployed there", func(t *testing.T) {
		r := run(t.Context(), "get-external-kubeconfig", "-n", namespace, "-o", "ks.kubeconfig", "--timeout", "2s")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "Secret kubestellar does not exist in namespace "+namespace)
		assert.NoFileExists(t, filepath.Join(dir, "ks.kubeconfig"))
	})

	emptySecret(t, hc)
	t.Run("an empty Secret: waits, then times out naming the key", func(t *testing.T) {
		r := run(t.Context(), "get-internal-kubeconfig", "-n", namespace, "-o", "ks.kubeconfig", "--timeout", "3s")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "has no cluster.kubeconfig yet")
		assert.Contains(t, r.Stderr, "gave up after 3s")
	})

	t.Run("waits until the init container writes the key, then writes the file 0600", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(host.Config)
		require.NoError(t, err)
		want := []byte("apiVersion: v1\nkind: Config\nclusters: []\n")
		go func() {
			time.Sleep(3 * time.Second)
			_, err := cs.CoreV1().Secrets(namespace).Patch(context.Background(), deploy.SecretName, "application/merge-patch+json",
				[]byte(`{"stringData":{"external.kubeconfig":`+quote(string(want))+`}}`), metav1.PatchOptions{})
			assert.NoError(t, err)
		}()
		r := run(t.Context(), "get-external-kubeconfig", "-n", namespace, "-o", "ks.kubeconfig", "--timeout", "1m")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stderr, "has no external.kubeconfig yet")
		got, err := os.ReadFile(filepath.Join(dir, "ks.kubeconfig"))
		require.NoError(t, err)
		assert.Equal(t, want, got)
		info, err := os.Stat(filepath.Join(dir, "ks.kubeconfig"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		r = run(t.Context(), "get-external-kubeconfig", "-n", namespace, "-o", "-")
		require.NoError(t, r.Err, r.Stderr)
		assert.Equal(t, string(want), r.Stdout)
	})

	t.Run("-o is required, once", func(t *testing.T) {
		r := run(t.Context(), "get-external-kubeconfig", "-n", namespace)
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "-o/--output FILE is required")
		r = run(t.Context(), "get-external-kubeconfig", "-n", namespace, "-o", "a", "-o", "b")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "may be given only once")
		assert.Contains(t, r.Stdout+r.Stderr, "Usage:", "a bad flag shows the usage")
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
