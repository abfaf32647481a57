// Package kubeapiserver runs an upstream kube-apiserver as a child process and waits until it
// serves. The space server runs one per space; the test harness runs one per test.
package kubeapiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/kubestellar/kubestellar/pkg/process"
)

// Config is what one kube-apiserver needs. File fields are paths to PEM files.
type Config struct {
	// Binary is the kube-apiserver executable.
	Binary string
	// Name labels the server in logs and errors.
	Name string
	// LogFile receives the server's output.
	LogFile string

	// BindAddress is the address to listen on; loopback when empty.
	BindAddress string
	// Port is the port to listen on; a free one is chosen when 0.
	Port int

	// ServingCertFile and ServingKeyFile are the TLS serving certificate and key.
	ServingCertFile, ServingKeyFile string
	// ServingCAFile is the CA that signed the serving certificate (used to probe readiness).
	ServingCAFile string
	// ClientCAFile is the CA for client certificates.
	ClientCAFile string

	// RequestHeaderCAFile, when set, enables request-header authentication from clients
	// presenting a certificate signed by it whose CN is one of RequestHeaderAllowedNames.
	RequestHeaderCAFile       string
	RequestHeaderAllowedNames []string
	// ProxyClientCertFile and ProxyClientKeyFile identify the server to aggregated API servers.
	ProxyClientCertFile, ProxyClientKeyFile string

	// EtcdServers are the etcd client URLs; EtcdPrefix is this server's key prefix.
	EtcdServers []string
	EtcdPrefix  string
	// EtcdCAFile, EtcdCertFile and EtcdKeyFile secure the etcd connection when set.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string

	// ServiceAccountIssuer, ServiceAccountKeyFile (public) and ServiceAccountSigningKeyFile
	// (private) make this server's service-account tokens; tokens of a server with a different
	// key or issuer are refused.
	ServiceAccountIssuer         string
	ServiceAccountKeyFile        string
	ServiceAccountSigningKeyFile string

	// ExtraArgs are appended last, so they override the defaults above.
	ExtraArgs []string
	// Env, when not nil, replaces the inherited environment (GOGC, GOMEMLIMIT, ...).
	Env []string
	// Verbosity is the klog -v level of the server.
	Verbosity int
	// StartTimeout bounds the wait for readiness; 2 minutes when zero.
	StartTimeout time.Duration
}

// Server is a running kube-apiserver.
type Server struct {
	// URL is the server's base URL, such as https://127.0.0.1:38441.
	URL  string
	Port int
	proc *process.Process
}

// Start starts kube-apiserver and waits until its /readyz answers ok. When the chosen port
// turns out to be taken, it tries again with another.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		srv, err := start(ctx, cfg)
		if err == nil {
			return srv, nil
		}
		lastErr = err
		if cfg.Port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.BindAddress == "" {
		cfg.BindAddress = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		p, err := FreePort(cfg.BindAddress)
		if err != nil {
			return nil, err
		}
		port = p
	}
	proc, err := process.Start(process.Spec{
		Name:    "kube-apiserver " + cfg.Name,
		Path:    cfg.Binary,
		Args:    cfg.args(port),
		Env:     cfg.Env,
		LogFile: cfg.LogFile,
	})
	if err != nil {
		return nil, err
	}
	srv := &Server{URL: "https://" + net.JoinHostPort(cfg.BindAddress, strconv.Itoa(port)), Port: port, proc: proc}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	if err := srv.waitReady(ctx, cfg.ServingCAFile, timeout); err != nil {
		proc.Stop(5 * time.Second)
		return nil, fmt.Errorf("kube-apiserver %s did not become ready: %w%s", cfg.Name, err, logTail(cfg.LogFile))
	}
	klog.FromContext(ctx).V(2).Info("kube-apiserver ready", "name", cfg.Name, "url", srv.URL, "pid", proc.Pid())
	return srv, nil
}

func (c Config) args(port int) []string {
	args := []string{
		"--bind-address=" + c.BindAddress,
		"--secure-port=" + strconv.Itoa(port),
		"--advertise-address=127.0.0.1",
		"--tls-cert-file=" + c.ServingCertFile,
		"--tls-private-key-file=" + c.ServingKeyFile,
		"--client-ca-file=" + c.ClientCAFile,
		"--etcd-servers=" + strings.Join(c.EtcdServers, ","),
		"--etcd-prefix=" + c.EtcdPrefix,
		"--service-account-issuer=" + c.ServiceAccountIssuer,
		"--service-account-key-file=" + c.ServiceAccountKeyFile,
		"--service-account-signing-key-file=" + c.ServiceAccountSigningKeyFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		// No node runs behind a space: there is no endpoint to publish for the kubernetes
		// Service, and request priority adds memory and CPU for no benefit at this size.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=" + strconv.Itoa(c.Verbosity),
	}
	if c.EtcdCAFile != "" {
		args = append(args, "--etcd-cafile="+c.EtcdCAFile, "--etcd-certfile="+c.EtcdCertFile, "--etcd-keyfile="+c.EtcdKeyFile)
	}
	if c.RequestHeaderCAFile != "" {
		args = append(args,
			"--requestheader-client-ca-file="+c.RequestHeaderCAFile,
			"--requestheader-allowed-names="+strings.Join(c.RequestHeaderAllowedNames, ","),
			"--requestheader-username-headers=X-Remote-User",
			"--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		)
	}
	if c.ProxyClientCertFile != "" {
		args = append(args, "--proxy-client-cert-file="+c.ProxyClientCertFile, "--proxy-client-key-file="+c.ProxyClientKeyFile)
	}
	return append(args, c.ExtraArgs...)
}

func (s *Server) waitReady(ctx context.Context, caFile string, timeout time.Duration) error {
	client, err := probeClient(caFile)
	if err != nil {
		return err
	}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if exited, err := s.proc.Exited(); exited {
			return false, err
		}
		lastErr = Probe(ctx, client, s.URL+"/readyz")
		return lastErr == nil, nil
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("%w (last probe: %w)", err, lastErr)
	}
	return err
}

// Probe GETs url and returns nil when it answers 200.
func Probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

func probeClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading serving CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.proc.Done() }

// Err is how the server process exited; valid after Done is closed.
func (s *Server) Err() error { return s.proc.Err() }

// Stop stops the server, killing it if it has not exited after grace.
func (s *Server) Stop(grace time.Duration) { s.proc.Stop(grace) }

// FreePort asks the kernel for a port that is free on host now.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the end of a log file, for error messages.
func logTail(path string) string {
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil || len(data) == 0 {
		return ""
	}
	const max = 2000
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return fmt.Sprintf("\n--- last lines of %s ---\n%s", path, data)
}
