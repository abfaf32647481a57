//go:build chaos

package chaos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/process"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// proc is a restartable child process: started with its output appended to one log file,
// killed by the kernel if the test process dies.
type proc struct {
	name, path, log string
	args            []string

	mu sync.Mutex
	p  *process.Process
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, err := process.Start(process.Spec{Name: p.name, Path: p.path, Args: p.args, LogFile: p.log})
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.p = pr
	return nil
}

func (p *proc) current() *process.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p
}

// pid is the running process's ID, 0 when none runs.
func (p *proc) pid() int {
	if pr := p.current(); pr != nil {
		if exited, _ := pr.Exited(); !exited {
			return pr.Pid()
		}
	}
	return 0
}

// signal sends sig to the process alone (not its group).
func (p *proc) signal(sig syscall.Signal) error {
	pid := p.pid()
	if pid == 0 {
		return fmt.Errorf("%s is not running", p.name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("sending %s to %s (pid %d): %w", sig, p.name, pid, err)
	}
	return nil
}

// kill9 sends SIGKILL and waits until the process has gone.
func (p *proc) kill9() error {
	pr := p.current()
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-pr.Done()
	return nil
}

// stop stops the process gracefully (SIGCONT first, in case a fault left it stopped).
func (p *proc) stop() {
	if pr := p.current(); pr != nil {
		_ = syscall.Kill(pr.Pid(), syscall.SIGCONT)
		pr.Stop(10 * time.Second)
	}
}

// core is the KubeStellar core as bare processes.
type core struct {
	t       testing.TB
	rootDir string
	port    int
	server  *proc
	// controllers by binary name.
	controllers map[string]*proc
}

// Controller binaries, in the order `kubestellar start` starts them.
const (
	mailboxController   = "mailbox-controller"
	placementTranslator = "placement-translator"
	whereResolver       = "kubestellar-where-resolver"
	spaceServer         = "kubestellar-space-server"
	syncerCommand       = "kubestellar-syncer"
)

var controllerNames = []string{mailboxController, placementTranslator, whereResolver}

const espwPath = "root:espw"

// startCore starts the space server and, once it serves, the three controllers.
func startCore(t testing.TB, bin, dir string) *core {
	t.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	if err != nil {
		t.Fatalf("choosing the space server's port: %v", err)
	}
	c := &core{t: t, rootDir: filepath.Join(dir, "core"), port: port, controllers: map[string]*proc{}}
	c.server = &proc{
		name: spaceServer, path: filepath.Join(bin, spaceServer), log: filepath.Join(dir, "logs", spaceServer+".log"),
		args: []string{
			"--root-dir", c.rootDir, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
			"--kube-apiserver", framework.Binary(t, "kube-apiserver"),
			"--kube-controller-manager", framework.Binary(t, "kube-controller-manager"),
			"-v=2",
		},
	}
	t.Cleanup(c.server.stop)
	if err := c.restartServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	kc := c.kubeconfigPath()
	for _, name := range controllerNames {
		p := &proc{
			name: name, path: filepath.Join(bin, name), log: filepath.Join(dir, "logs", name+".log"),
			args: []string{"--root-kubeconfig", kc, "--base-kubeconfig", kc, "--espw-path", espwPath, "--metrics-bind-address", "", "--health-bind-address", "", "-v=2"},
		}
		// Controllers stop before the server they talk to (cleanups run last first).
		t.Cleanup(p.stop)
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		c.controllers[name] = p
	}
	return c
}

func (c *core) kubeconfigPath() string { return filepath.Join(c.rootDir, server.AdminKubeconfig) }

func (c *core) baseURL() string { return "https://127.0.0.1:" + strconv.Itoa(c.port) }

func (c *core) caFile() string { return filepath.Join(c.rootDir, "pki", "ca.crt") }

// restartServer starts the space server on its port and data and waits until it serves
// every space (it writes its kubeconfig then, and /readyz answers). The old process's
// children must be gone first: they die with it, but not at the same instant.
func (c *core) restartServer(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return len(framework.ProcessesMatching(filepath.Join(c.rootDir, "spaces")+"/")) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("the space server's children outlived it: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if err := c.server.start(); err != nil {
			return err
		}
		if lastErr = c.waitServerReady(ctx); lastErr == nil {
			return nil
		}
		c.server.stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("the space server did not become ready: %w", lastErr)
}

func (c *core) waitServerReady(ctx context.Context) error {
	pr := c.server.current()
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		if exited, err := pr.Exited(); exited {
			return false, err
		}
		if _, err := os.Stat(c.kubeconfigPath()); err != nil {
			return false, nil
		}
		pool := x509.NewCertPool()
		if data, err := os.ReadFile(c.caFile()); err == nil {
			pool.AppendCertsFromPEM(data)
		}
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		return kubeapiserver.Probe(ctx, client, c.baseURL()+"/readyz") == nil, nil
	})
}

// config is the administrator's client configuration for the space at path.
func (c *core) config(path string) *rest.Config {
	c.t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.kubeconfigPath()},
		&clientcmd.ConfigOverrides{CurrentContext: kubeconfig.BaseContext}).ClientConfig()
	if err != nil {
		c.t.Fatalf("reading the admin kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	// A stopped server must not hang a request of the suite forever.
	cfg.Timeout = 10 * time.Second
	return spaces.ConfigFor(cfg, path)
}

// spaceAPIServer finds the kube-apiserver process of the space with the given ID.
func (c *core) spaceAPIServer(id string) (int, bool) {
	for _, p := range framework.ProcessesMatching(filepath.Join(c.rootDir, "spaces", id) + "/") {
		if filepath.Base(p.Args[0]) == "kube-apiserver" {
			return p.PID, true
		}
	}
	return 0, false
}

// wec is a workload execution cluster: a real kube-apiserver on its own etcd, with a
// kube-controller-manager running the namespace controller (so that a deleted namespace
// goes away, as in any cluster), restartable on the same port and data.
type wec struct {
	name   string
	cfg    kubeapiserver.Config
	admin  *rest.Config
	kcm    *proc
	kcPath string

	mu  sync.Mutex
	srv *kubeapiserver.Server
}

func startWEC(t testing.TB, name, dir string) *wec {
	t.Helper()
	dir = filepath.Join(dir, name)
	etcdURL := framework.StartEtcd(t, filepath.Join(dir, "etcd"))
	certs := framework.NewAPIServerPKI(t, filepath.Join(dir, "pki"), "kubestellar-chaos-"+name)
	port, err := kubeapiserver.FreePort("127.0.0.1")
	must(t, err)
	w := &wec{
		name: name,
		cfg: certs.Config(kubeapiserver.Config{
			Binary:      framework.Binary(t, "kube-apiserver"),
			Name:        name,
			LogFile:     filepath.Join(dir, "kube-apiserver.log"),
			Port:        port,
			EtcdServers: []string{etcdURL},
			EtcdPrefix:  "/registry",
		}),
		admin: &rest.Config{
			Host: "https://127.0.0.1:" + strconv.Itoa(port), QPS: 100, Burst: 200, Timeout: 10 * time.Second,
			TLSClientConfig: rest.TLSClientConfig{CAData: certs.CA.CertPEM, CertData: certs.Admin.CertPEM, KeyData: certs.Admin.KeyPEM},
		},
	}
	t.Cleanup(w.stop)
	must(t, w.start(t.Context()))
	w.kcPath = writeKubeconfig(t, filepath.Join(dir, "admin.kubeconfig"), name, w.admin, "")
	w.kcm = &proc{
		name: "kube-controller-manager " + name, path: framework.Binary(t, "kube-controller-manager"),
		log: filepath.Join(dir, "kube-controller-manager.log"),
		args: []string{
			"--kubeconfig=" + w.kcPath, "--controllers=namespace-controller", "--leader-elect=false", "--secure-port=0",
		},
	}
	t.Cleanup(w.kcm.stop)
	must(t, w.kcm.start())
	return w
}

// start starts the kube-apiserver on the cluster's port and data and waits until it is
// ready; the port may take a moment to be free after a stop.
func (w *wec) start(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		srv, err := kubeapiserver.Start(ctx, w.cfg)
		if err == nil {
			w.mu.Lock()
			w.srv = srv
			w.mu.Unlock()
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("starting the kube-apiserver of %s: %w", w.name, lastErr)
}

// stopAPIServer stops the kube-apiserver (SIGTERM, then SIGKILL after a grace period).
func (w *wec) stopAPIServer() {
	w.mu.Lock()
	srv := w.srv
	w.srv = nil
	w.mu.Unlock()
	if srv != nil {
		srv.Stop(5 * time.Second)
	}
}

func (w *wec) stop() { w.stopAPIServer() }

// writeKubeconfig writes a one-context kubeconfig for cfg (client certificate or bearer
// token), with namespace as the context's namespace.
func writeKubeconfig(t testing.TB, path, name string, cfg *rest.Config, namespace string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: namespace}
	kc.CurrentContext = name
	must(t, os.MkdirAll(filepath.Dir(path), 0o700))
	must(t, clientcmd.WriteToFile(*kc, path))
	return path
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyLogs copies the *.log files under src (recursively) into dst, keeping their relative
// paths, for a failed run to be looked at.
func copyLogs(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".log" {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errors.Join(err, out.Close())
	})
}
