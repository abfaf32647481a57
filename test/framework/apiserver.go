package framework

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/pkg/process"
)

// APIServer is a real kube-apiserver, backed by its own real etcd, for one test.
type APIServer struct {
	// Config is an administrator's (system:masters) client configuration, verifying TLS.
	Config *rest.Config
	// URL is the server's base URL.
	URL string
	// CA signed the server's serving certificate and is trusted for client certificates.
	CA *pki.KeyPair
	// Dir holds the servers' data, certificates and logs; it is removed after the test.
	Dir string
}

// APIServerPKI is what a test kube-apiserver needs to serve and to authenticate: a CA, a
// serving certificate for localhost, an administrator's (system:masters) client certificate
// and a service-account key, written under Dir.
type APIServerPKI struct {
	Dir       string
	CA, Admin *pki.KeyPair
}

// NewAPIServerPKI makes and writes the PKI of a test kube-apiserver into dir; prefix names
// its CA and administrator.
func NewAPIServerPKI(t testing.TB, dir, prefix string) *APIServerPKI {
	t.Helper()
	ca, err := pki.NewCA(prefix + "-ca")
	must(t, err)
	must(t, ca.Write(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")))
	serving, err := ca.Issue(pki.CertSpec{
		CommonName: "kube-apiserver", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage,
	})
	must(t, err)
	must(t, serving.Write(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")))
	admin, err := ca.Issue(pki.CertSpec{CommonName: prefix + "-admin", Organization: []string{"system:masters"}, Usage: pki.ClientUsage})
	must(t, err)
	_, _, err = keyutil.LoadOrGenerateKeyFile(filepath.Join(dir, "service-account.key"))
	must(t, err)
	return &APIServerPKI{Dir: dir, CA: ca, Admin: admin}
}

// Config returns cfg with the PKI's serving, client-CA and service-account settings filled in.
func (p *APIServerPKI) Config(cfg kubeapiserver.Config) kubeapiserver.Config {
	saKey := filepath.Join(p.Dir, "service-account.key")
	cfg.ServingCertFile = filepath.Join(p.Dir, "serving.crt")
	cfg.ServingKeyFile = filepath.Join(p.Dir, "serving.key")
	cfg.ServingCAFile = filepath.Join(p.Dir, "ca.crt")
	cfg.ClientCAFile = filepath.Join(p.Dir, "ca.crt")
	cfg.ServiceAccountIssuer = "https://kubernetes.default.svc"
	cfg.ServiceAccountKeyFile, cfg.ServiceAccountSigningKeyFile = saKey, saKey
	return cfg
}

// StartAPIServer starts etcd and kube-apiserver for the test and stops them, removing their
// data, when the test ends.
func StartAPIServer(t testing.TB) *APIServer {
	t.Helper()
	dir := TempDir(t)
	etcdURL := StartEtcd(t, filepath.Join(dir, "etcd"))

	certs := NewAPIServerPKI(t, filepath.Join(dir, "pki"), "kubestellar-test")

	logFile := filepath.Join(dir, "kube-apiserver.log")
	srv, err := kubeapiserver.Start(t.Context(), certs.Config(kubeapiserver.Config{
		Binary:      Binary(t, "kube-apiserver"),
		Name:        t.Name(),
		LogFile:     logFile,
		EtcdServers: []string{etcdURL},
		EtcdPrefix:  "/registry",
	}))
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-apiserver log (last lines):\n%s", logTail(logFile, 30))
		}
		srv.Stop(10 * time.Second)
	})

	return &APIServer{
		URL: srv.URL,
		CA:  certs.CA,
		Dir: dir,
		Config: &rest.Config{
			Host:  srv.URL,
			QPS:   200,
			Burst: 400,
			TLSClientConfig: rest.TLSClientConfig{
				CAData: certs.CA.CertPEM, CertData: certs.Admin.CertPEM, KeyData: certs.Admin.KeyPEM,
			},
		},
	}
}

// StartEtcd starts an etcd with its data in dir, stopped when the test ends, and returns its
// client URL.
func StartEtcd(t testing.TB, dir string) string {
	t.Helper()
	url, _ := StartEtcdProcess(t, dir)
	return url
}

// StartEtcdProcess is StartEtcd that also returns the etcd process, for tests that stop or
// kill it.
func StartEtcdProcess(t testing.TB, dir string) (string, *process.Process) {
	t.Helper()
	bin := Binary(t, "etcd")
	logFile := filepath.Join(dir, "etcd.log")
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		clientPort, err := kubeapiserver.FreePort("127.0.0.1")
		must(t, err)
		peerPort, err := kubeapiserver.FreePort("127.0.0.1")
		must(t, err)
		clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
		proc, err := process.Start(process.Spec{
			Name: "etcd",
			Path: bin,
			Args: []string{
				"--name=test",
				"--data-dir=" + filepath.Join(dir, "data"),
				"--listen-client-urls=" + clientURL,
				"--advertise-client-urls=" + clientURL,
				"--listen-peer-urls=" + peerURL,
				"--initial-advertise-peer-urls=" + peerURL,
				"--initial-cluster=test=" + peerURL,
				// Test data need not survive a power cut.
				"--unsafe-no-fsync",
				"--log-level=warn",
			},
			LogFile: logFile,
		})
		must(t, err)
		lastErr = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			if exited, err := proc.Exited(); exited {
				return false, err
			}
			return kubeapiserver.Probe(ctx, client, clientURL+"/health") == nil, nil
		})
		if lastErr == nil {
			t.Cleanup(func() { proc.Stop(10 * time.Second) })
			return clientURL, proc
		}
		proc.Stop(5 * time.Second)
	}
	t.Fatalf("starting etcd: %v\n%s", lastErr, logTail(logFile, 20))
	return "", nil
}

// InstallCRDs installs KubeStellar's CRDs of the given API groups (all when none are given).
func (s *APIServer) InstallCRDs(t testing.TB, groups ...string) {
	t.Helper()
	list, err := crds.Load(groups...)
	must(t, err)
	if err := crds.Install(t.Context(), s.Config, list, time.Minute); err != nil {
		t.Fatalf("installing CRDs: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}

// WriteKubeconfig writes a kubeconfig with one context per entry, named by its key, and
// returns its path.
func WriteKubeconfig(t testing.TB, contexts map[string]*rest.Config) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, rc := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: rc.CertData, ClientKeyData: rc.KeyData, Token: rc.BearerToken}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		cfg.CurrentContext = name
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// ApplyCRDFiles installs the CustomResourceDefinitions in the YAML files and waits until
// they are served.
func ApplyCRDFiles(t testing.TB, cfg *rest.Config, files ...string) {
	t.Helper()
	var list []*apiextensionsv1.CustomResourceDefinition
	for _, file := range files {
		data, err := os.ReadFile(file)
		must(t, err)
		crd := &apiextensionsv1.CustomResourceDefinition{}
		must(t, yaml.Unmarshal(data, crd))
		list = append(list, crd)
	}
	if err := crds.Install(t.Context(), cfg, list, time.Minute); err != nil {
		t.Fatalf("installing CRDs: %v", err)
	}
}
