// Package spaces tests the space server with real processes: the server, every space's
// kube-apiserver and kube-controller-manager, and kubectl.
package spaces

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestSpaceServer(t *testing.T) {
	// A certificate from a CA of its own, given with --tls-sni-cert-key.
	otherPKI := framework.TempDir(t)
	sniCreds, err := server.EnsureDomainCreds(filepath.Join(otherPKI, "pki"), "sni.example.test")
	require.NoError(t, err)

	srv := framework.StartSpaceServer(t, func(o *server.Options) {
		o.ExternalHostnames = []string{"ks.example.test"}
		o.SNICertKeys = []string{sniCreds.CertFile + "," + sniCreds.KeyFile}
	})
	ctx := t.Context()

	names := []string{"imw1", "wmw1", "espw"}
	created := map[string]*spacev1alpha1.Space{}
	for _, name := range names {
		created[name] = srv.CreateSpace(name)
	}

	t.Run("spaces are ready with IDs and URLs", func(t *testing.T) {
		ids := map[string]bool{}
		for _, name := range names {
			s := created[name]
			assert.Regexp(t, regexp.MustCompile(`^[0-9a-z]{16}$`), s.Status.Cluster)
			assert.False(t, ids[s.Status.Cluster], "IDs are distinct")
			ids[s.Status.Cluster] = true
			assert.Equal(t, "https://localhost:"+fmt.Sprint(srv.Options.SecurePort)+"/clusters/root:"+name, s.Status.URL)
			assert.Contains(t, s.Finalizers, server.Finalizer)
		}
		out := framework.Kubectl(t, srv.Kubeconfig, "get", "spaces")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 4, out)
		assert.Regexp(t, `^NAME\s+PHASE\s+CLUSTER\s+URL\s+AGE$`, lines[0])
		assert.Regexp(t, `^espw\s+Ready\s+[0-9a-z]{16}\s+https://localhost:\d+/clusters/root:espw\s+\S+$`, lines[1])
	})

	t.Run("the admin kubeconfig verifies TLS and has contexts root and base", func(t *testing.T) {
		cfg, err := clientcmd.LoadFromFile(srv.Kubeconfig)
		require.NoError(t, err)
		assert.Equal(t, "root", cfg.CurrentContext)
		assert.True(t, strings.HasSuffix(cfg.Clusters[cfg.Contexts["root"].Cluster].Server, "/clusters/root"))
		assert.NotContains(t, cfg.Clusters[cfg.Contexts["base"].Cluster].Server, "/clusters")
		for name, c := range cfg.Clusters {
			assert.False(t, c.InsecureSkipTLSVerify, name)
			assert.NotEmpty(t, c.CertificateAuthorityData, name)
		}
		info, err := os.Stat(srv.Kubeconfig)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	})

	t.Run("objects in one space are invisible in the others", func(t *testing.T) {
		kubeconfigFor := func(path string) string {
			return kubeconfigForPath(t, srv, path)
		}
		framework.Kubectl(t, kubeconfigFor("root:imw1"), "create", "configmap", "only-in-imw1", "--from-literal=k=v")
		assert.Contains(t, framework.Kubectl(t, kubeconfigFor("root:imw1"), "get", "configmaps"), "only-in-imw1")
		for _, other := range []string{"root", "root:wmw1", "root:espw"} {
			assert.NotContains(t, framework.Kubectl(t, kubeconfigFor(other), "get", "configmaps"), "only-in-imw1", other)
		}
	})

	t.Run("kubectl apply and get -w stream through the front proxy", func(t *testing.T) {
		kc := kubeconfigForPath(t, srv, "root:wmw1")
		watchCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		watch := framework.KubectlCommand(watchCtx, t, kc, "get", "configmaps", "--watch", "-o", "name")
		stdout, err := watch.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, watch.Start())
		defer func() { cancel(); _ = watch.Wait() }()
		lines := make(chan string, 100)
		go func() {
			scanner := bufio.NewScanner(stdout)
			for scanner.Scan() {
				lines <- scanner.Text()
			}
			close(lines)
		}()
		// The watch is established once the existing objects are listed.
		waitForLine(t, lines, "configmap/kube-root-ca.crt")

		manifest := framework.WriteFile(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {a: b}\n")
		assert.Contains(t, framework.Kubectl(t, kc, "apply", "-f", manifest), "configmap/applied created")
		waitForLine(t, lines, "configmap/applied")
		assert.Contains(t, framework.Kubectl(t, kc, "apply", "-f", manifest), "configmap/applied unchanged")
	})

	t.Run("client certificates identify their holder", func(t *testing.T) {
		ca, err := pki.Load(srv.CAFile(), filepath.Join(srv.Options.RootDir, "pki", "private", "ca.key"))
		require.NoError(t, err)
		alice, err := ca.Issue(pki.CertSpec{CommonName: "alice", Organization: []string{"edge-admins"}, Usage: pki.ClientUsage})
		require.NoError(t, err)
		cfg := rest.AnonymousClientConfig(srv.Config("root:imw1"))
		cfg.CertData, cfg.KeyData = alice.CertPEM, alice.KeyPEM
		user := whoami(t, cfg)
		assert.Equal(t, "alice", user.Username)
		assert.ElementsMatch(t, []string{"edge-admins", "system:authenticated"}, user.Groups)

		// The holder of a valid certificate cannot claim another identity with headers.
		cfg.WrapTransport = spoofIdentity
		assert.Equal(t, "alice", whoami(t, cfg).Username)

		// A certificate from another CA is refused.
		stranger, err := pki.NewCA("stranger")
		require.NoError(t, err)
		mallory, err := stranger.Issue(pki.CertSpec{CommonName: "mallory", Organization: []string{"system:masters"}, Usage: pki.ClientUsage})
		require.NoError(t, err)
		cfg = rest.AnonymousClientConfig(srv.Config("root:imw1"))
		cfg.CertData, cfg.KeyData = mallory.CertPEM, mallory.KeyPEM
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsUnauthorized(err), "want 401, got %v", err)
	})

	t.Run("a service-account token is valid only in its own space", func(t *testing.T) {
		admin := kubernetes.NewForConfigOrDie(srv.Config("root:imw1"))
		_, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "syncer"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "syncer",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		require.NoError(t, err)

		inA := rest.AnonymousClientConfig(srv.Config("root:imw1"))
		inA.BearerToken = tr.Status.Token
		assert.Equal(t, "system:serviceaccount:default:syncer", whoami(t, inA).Username)

		inB := rest.AnonymousClientConfig(srv.Config("root:wmw1"))
		inB.BearerToken = tr.Status.Token
		_, err = kubernetes.NewForConfigOrDie(inB).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		assert.True(t, apierrors.IsUnauthorized(err), "want 401 in another space, got %v", err)

		// Spoofed identity headers do not lift a token's identity either.
		inA.WrapTransport = spoofIdentity
		assert.Equal(t, "system:serviceaccount:default:syncer", whoami(t, inA).Username)
	})

	t.Run("spoofed identity headers without credentials are refused", func(t *testing.T) {
		for _, path := range []string{"root", "root:imw1"} {
			cfg := rest.AnonymousClientConfig(srv.Config(path))
			cfg.WrapTransport = spoofIdentity
			_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{})
			require.Error(t, err)
			assert.True(t, apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err), "want 401 or 403, got %v", err)
			assert.Contains(t, err.Error(), "system:anonymous")
		}
	})

	t.Run("an unknown space gets a Kubernetes Status 404", func(t *testing.T) {
		client := httpClient(t, srv, "")
		for _, path := range []string{"/clusters/root:nope/api/v1/namespaces", "/api/v1/namespaces"} {
			resp, err := client.Get(srv.BaseURL() + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			var status metav1.Status
			require.NoError(t, json.Unmarshal(body, &status), string(body))
			assert.Equal(t, "Status", status.Kind)
			assert.Equal(t, metav1.StatusReasonNotFound, status.Reason)
			if strings.HasPrefix(path, "/clusters/") {
				assert.Equal(t, `spaces.space.kubestellar.io "root:nope" not found`, status.Message)
			} else {
				assert.Contains(t, status.Message, "/clusters/<path>/")
			}
		}
	})

	t.Run("namespaces are deleted and owner references collected", func(t *testing.T) {
		c := kubernetes.NewForConfigOrDie(srv.Config("root:espw"))
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		owner, err := c.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = c.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: "dependent", OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}},
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, c.CoreV1().ConfigMaps("doomed").Delete(ctx, "owner", metav1.DeleteOptions{}))
		framework.Eventually(t, time.Minute, "the dependent is garbage-collected", func() bool {
			_, err := c.CoreV1().ConfigMaps("doomed").Get(ctx, "dependent", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		require.NoError(t, c.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}))
		framework.Eventually(t, time.Minute, "the namespace is deleted", func() bool {
			_, err := c.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("serving certificates are chosen by SNI", func(t *testing.T) {
		serverCA := readPool(t, srv.CAFile())
		for _, name := range []string{"localhost", "127.0.0.1", "ks.example.test"} {
			leaf := handshake(t, srv, name, serverCA)
			assert.NoError(t, leaf.VerifyHostname(name))
		}
		// The --tls-sni-cert-key pair, trusted through its own CA only.
		leaf := handshake(t, srv, "sni.example.test", readPool(t, sniCreds.CAFile))
		assert.Equal(t, []string{"sni.example.test"}, leaf.DNSNames)

		// A certificate made at run time in the server's PKI is served without a restart.
		_, err := server.EnsureDomainCreds(filepath.Join(srv.Options.RootDir, "pki"), "late.example.test")
		require.NoError(t, err)
		framework.Eventually(t, 30*time.Second, "the new certificate is served", func() bool {
			conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(srv.Options.SecurePort)),
				&tls.Config{ServerName: "late.example.test", RootCAs: serverCA, MinVersion: tls.VersionTLS12})
			if err != nil {
				return false
			}
			conn.Close()
			return true
		})
		// And a kubeconfig that only trusts the CA works by that name.
		cfg := srv.Config("root")
		cfg.Host = strings.Replace(cfg.Host, "127.0.0.1", "late.example.test", 1)
		cfg.Host = strings.Replace(cfg.Host, "localhost", "late.example.test", 1)
		cfg.Dial = dialLocal
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		assert.NoError(t, err)
	})

	t.Run("deleting a space stops it and deletes its data", func(t *testing.T) {
		root := srv.Client(spaces.RootPath)
		wmw1 := created["wmw1"]
		dir := filepath.Join(srv.Options.RootDir, "spaces", wmw1.Status.Cluster)
		require.DirExists(t, dir)
		require.NoError(t, root.Delete(ctx, wmw1))
		framework.Eventually(t, time.Minute, "the Space is gone", func() bool {
			err := root.Get(ctx, client.ObjectKeyFromObject(wmw1), &spacev1alpha1.Space{})
			return apierrors.IsNotFound(err)
		})
		assert.NoDirExists(t, dir)
		_, err := kubernetes.NewForConfigOrDie(srv.Config("root:wmw1")).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the space is no longer served: %v", err)

		// A new space of the same name is a new, empty space.
		again := srv.CreateSpace("wmw1")
		assert.NotEqual(t, wmw1.Status.Cluster, again.Status.Cluster)
		cms, err := kubernetes.NewForConfigOrDie(srv.Config("root:wmw1")).CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, cm := range cms.Items {
			assert.NotEqual(t, "applied", cm.Name, "data of the deleted space came back")
		}
	})
}

func TestRestart(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	ctx := t.Context()
	before := map[string]string{}
	for _, name := range []string{"imw1", "wmw1"} {
		before[name] = srv.CreateSpace(name).Status.Cluster
	}
	c := kubernetes.NewForConfigOrDie(srv.Config("root:imw1"))
	_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	oldKubeconfig, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	oldCA, err := os.ReadFile(srv.CAFile())
	require.NoError(t, err)
	handedOut := framework.WriteFile(t, "handed-out.kubeconfig", string(oldKubeconfig))

	srv.Stop()
	port := srv.Options.SecurePort
	srv.Options.SecurePort = port // same address, as a user's kubeconfig expects
	srv.Start()

	for name, id := range before {
		space := srv.WaitSpaceReady(name)
		assert.Equal(t, id, space.Status.Cluster, "space %s keeps its ID", name)
	}
	newCA, err := os.ReadFile(srv.CAFile())
	require.NoError(t, err)
	assert.Equal(t, oldCA, newCA, "the CA survives")
	newKubeconfig, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	assert.Equal(t, string(oldKubeconfig), string(newKubeconfig), "the admin kubeconfig is unchanged")

	// The kubeconfig handed out before the restart still works, and the data is there.
	out := framework.Kubectl(t, handedOut, "--server", srv.BaseURL()+"/clusters/root:imw1", "get", "configmap", "survivor", "-o", "jsonpath={.data.k}")
	assert.Equal(t, "v", out)
}

func TestDomainCommands(t *testing.T) {
	bin := framework.BuildCommands(t, "switch-domain", "wait-and-switch-domain", "kubestellar-ensure-kcp-server-creds")
	srv := framework.StartSpaceServer(t)
	srv.CreateSpace("imw1")
	ctx := t.Context()

	// A kubeconfig with several clusters and contexts, like one a user accumulates.
	in := clientcmdConfig(t, srv.Kubeconfig)
	in.Clusters["imw1"] = in.Clusters["root"].DeepCopy()
	in.Clusters["imw1"].Server = strings.Replace(in.Clusters["root"].Server, "/clusters/root", "/clusters/root:imw1", 1)
	in.Contexts["imw1"] = in.Contexts["root"].DeepCopy()
	in.Contexts["imw1"].Cluster = "imw1"
	in.Clusters["elsewhere"] = &clientcmdapi.Cluster{Server: "https://elsewhere.example:443"}
	inFile := filepath.Join(t.TempDir(), "in.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*in, inFile))
	inBytes, err := os.ReadFile(inFile)
	require.NoError(t, err)

	// The server's own CA, through the domain name the PKI in the root dir now covers.
	creds, err := server.EnsureDomainCreds(filepath.Join(srv.Options.RootDir, "pki"), "ks.example.test")
	require.NoError(t, err)
	port := fmt.Sprint(srv.Options.SecurePort)

	for _, command := range []string{"switch-domain", "wait-and-switch-domain"} {
		t.Run(command, func(t *testing.T) {
			outFile := filepath.Join(t.TempDir(), "out.kubeconfig")
			r := framework.Run(ctx, "", filepath.Join(bin, command), inFile, outFile, "root", "ks.example.test", port, creds.CAFile)
			require.NoError(t, r.Err, r.Stderr)
			after, err := os.ReadFile(inFile)
			require.NoError(t, err)
			assert.Equal(t, string(inBytes), string(after), "IN is only read")

			out := clientcmdConfig(t, outFile)
			assert.Equal(t, "https://ks.example.test:"+port+"/clusters/root", out.Clusters["root"].Server)
			assert.Equal(t, "https://ks.example.test:"+port+"/clusters/root:imw1", out.Clusters["imw1"].Server)
			assert.Equal(t, "https://ks.example.test:"+port, out.Clusters["base"].Server)
			assert.Equal(t, "https://elsewhere.example:443", out.Clusters["elsewhere"].Server)

			for _, context := range []string{"root", "imw1"} {
				cfg, err := clientcmd.NewNonInteractiveClientConfig(*out, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
				require.NoError(t, err)
				cfg.Dial = dialLocal
				_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
				assert.NoError(t, err, "context %s through the new domain", context)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{inFile, "out"}, "accepts 6 arg(s), received 2"},
			{[]string{"/nonexistent", "out", "root", "d", "443", creds.CAFile}, "reading IN: "},
			{[]string{inFile, "out", "root", "d", "443", "/nonexistent"}, "reading CAFILE: "},
			{[]string{inFile, "out", "nope", "d", "443", creds.CAFile}, `context "nope" not found`},
			{[]string{inFile, "out", "root", "d", "port", creds.CAFile}, `port "port" is not a valid port number: give a number from 1 to 65535`},
		} {
			for _, command := range []string{"switch-domain", "wait-and-switch-domain"} {
				r := framework.Run(ctx, t.TempDir(), filepath.Join(bin, command), tc.args...)
				assert.Error(t, r.Err, "%s %v", command, tc.args)
				assert.Contains(t, r.Stderr, tc.want, "%s %v", command, tc.args)
			}
		}
	})

	t.Run("kubestellar-ensure-kcp-server-creds", func(t *testing.T) {
		work := t.TempDir()
		first := framework.Run(ctx, work, filepath.Join(bin, "kubestellar-ensure-kcp-server-creds"), "edge.example.org")
		require.NoError(t, first.Err, first.Stderr)
		paths := strings.Fields(first.Stdout)
		require.Len(t, paths, 3, "one line with three paths: %q", first.Stdout)
		assert.Equal(t, []string{
			filepath.Join(work, "pki", "ca.crt"),
			filepath.Join(work, "pki", "issued", "kcp-DNS-edge.example.org.crt"),
			filepath.Join(work, "pki", "private", "kcp-DNS-edge.example.org.key"),
		}, paths)
		assert.Equal(t, 1, strings.Count(first.Stdout, "\n"))
		assert.Contains(t, first.Stderr, "Created the CA")
		leaf, err := pki.Load(paths[1], paths[2])
		require.NoError(t, err)
		assert.Equal(t, []string{"edge.example.org"}, leaf.Cert.DNSNames)
		assert.Empty(t, leaf.Cert.IPAddresses)
		assert.Empty(t, leaf.Cert.URIs)
		assert.Empty(t, leaf.Cert.EmailAddresses)
		assert.NoError(t, leaf.Cert.CheckSignatureFrom(mustLoadCert(t, paths[0])))

		certBefore, err := os.ReadFile(paths[1])
		require.NoError(t, err)
		second := framework.Run(ctx, work, filepath.Join(bin, "kubestellar-ensure-kcp-server-creds"), "edge.example.org")
		require.NoError(t, second.Err)
		assert.Equal(t, first.Stdout, second.Stdout)
		assert.Contains(t, second.Stderr, "Using the existing CA")
		certAfter, err := os.ReadFile(paths[1])
		require.NoError(t, err)
		assert.Equal(t, certBefore, certAfter, "re-used, not re-issued")

		bad := framework.Run(ctx, work, filepath.Join(bin, "kubestellar-ensure-kcp-server-creds"))
		assert.Error(t, bad.Err)
		assert.Contains(t, bad.Stderr, "accepts 1 arg(s), received 0")
		bad = framework.Run(ctx, work, filepath.Join(bin, "kubestellar-ensure-kcp-server-creds"), "10.0.0.1")
		assert.Error(t, bad.Err)
		assert.Contains(t, bad.Stderr, `"10.0.0.1" is not a DNS domain name`)
	})
}

// spoofIdentity adds headers that claim the identity of a cluster administrator.
func spoofIdentity(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Remote-User", "system:admin")
		r.Header.Add("X-Remote-Group", "system:masters")
		r.Header.Set("X-Remote-Extra-Scopes", "all")
		return rt.RoundTrip(r)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func whoami(t *testing.T, cfg *rest.Config) authenticationv1.UserInfo {
	t.Helper()
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.UserInfo
}

// kubeconfigForPath writes a copy of the admin kubeconfig whose current context addresses path.
func kubeconfigForPath(t *testing.T, srv *framework.SpaceServer, path string) string {
	t.Helper()
	cfg := clientcmdConfig(t, srv.Kubeconfig)
	cfg.Clusters["root"].Server = spaces.URL(cfg.Clusters["base"].Server, path)
	file := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, file))
	return file
}

func clientcmdConfig(t *testing.T, file string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(file)
	require.NoError(t, err)
	return cfg
}

func httpClient(t *testing.T, srv *framework.SpaceServer, serverName string) *http.Client {
	t.Helper()
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: readPool(t, srv.CAFile()), ServerName: serverName, MinVersion: tls.VersionTLS12},
	}}
}

// handshake connects with the given SNI name, trusting only roots, and returns the leaf.
func handshake(t *testing.T, srv *framework.SpaceServer, serverName string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(srv.Options.SecurePort)),
		&tls.Config{ServerName: serverName, RootCAs: roots, MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "TLS to %s", serverName)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// dialLocal resolves every name to loopback, as a DNS entry for the external name would.
func dialLocal(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

func readPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(data))
	return pool
}

func mustLoadCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	certs, err := certutil.ParseCertsPEM(data)
	require.NoError(t, err)
	return certs[0]
}

func waitForLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the watch ended before %q arrived", want)
			}
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("%q did not arrive through the watch within 30s", want)
		}
	}
}
