package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
)

// SpaceServer is a real space server for one test: the server's own code runs in the test
// process; etcd is embedded; every space's kube-apiserver and kube-controller-manager are
// real processes.
type SpaceServer struct {
	// Options are the server's options; change them between Stop and Start.
	Options *server.Options
	// Kubeconfig is the path of the administrator's kubeconfig the server writes.
	Kubeconfig string

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
}

// StartSpaceServer starts a space server with its state in a fresh directory, changing the
// default options with mutate, and stops it when the test ends.
func StartSpaceServer(t testing.TB, mutate ...func(*server.Options)) *SpaceServer {
	t.Helper()
	ctrl.SetLogger(logr.Discard())
	dir := TempDir(t)
	opts := server.NewOptions()
	opts.RootDir = filepath.Join(dir, "root")
	opts.BindAddress = "127.0.0.1"
	opts.KubeAPIServer = Binary(t, "kube-apiserver")
	opts.KubeControllerManager = Binary(t, "kube-controller-manager")
	for _, m := range mutate {
		m(opts)
	}
	s := &SpaceServer{Options: opts, Kubeconfig: filepath.Join(opts.RootDir, server.AdminKubeconfig), t: t}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Start starts the server (again) and waits until it is ready. The port is chosen anew
// unless the options fix one.
func (s *SpaceServer) Start() {
	t := s.t
	t.Helper()
	fixedPort := s.Options.SecurePort != server.NewOptions().SecurePort
	// A fixed port can be briefly held by a client that is reconnecting to it (a connection
	// from an ephemeral port to itself while nothing listens), so it is tried a few times.
	attempts := 3
	if fixedPort {
		attempts = 20
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if !fixedPort {
			port, err := kubeapiserver.FreePort(s.Options.BindAddress)
			must(t, err)
			s.Options.SecurePort = port
		}
		if lastErr = s.startOnce(); lastErr == nil {
			return
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
		if fixedPort {
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Fatalf("starting the space server: %v\n%s", lastErr, logTail(s.LogFile(), 40))
}

func (s *SpaceServer) startOnce() error {
	must(s.t, s.Options.Validate())
	must(s.t, s.Options.Complete())
	must(s.t, os.MkdirAll(s.Options.RootDir, 0o700))
	logFile, err := os.OpenFile(s.LogFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(s.t, err)
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(logFile), textlogger.Verbosity(2)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, s.Options)
		logFile.Close()
	}()
	s.cancel, s.done = cancel, done

	err = wait.PollUntilContextTimeout(s.t.Context(), 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, err
		default:
		}
		// The CA exists only once the server has made it.
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.caPool(), MinVersion: tls.VersionTLS12}}}
		return kubeapiserver.Probe(ctx, client, s.BaseURL()+"/readyz") == nil, nil
	})
	if err != nil {
		cancel()
		if runErr := <-done; runErr != nil {
			err = runErr
		}
		s.cancel = nil
	}
	return err
}

// Stop stops the server and every space's processes; stopping a stopped server does nothing.
func (s *SpaceServer) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("space server: %v", err)
	}
	s.cancel = nil
	if s.t.Failed() {
		s.t.Logf("space server log (last lines):\n%s", logTail(s.LogFile(), 40))
	}
}

// LogFile is where the server's own log goes.
func (s *SpaceServer) LogFile() string {
	return filepath.Join(filepath.Dir(s.Options.RootDir), "space-server.log")
}

// BaseURL is the server's base URL.
func (s *SpaceServer) BaseURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(s.Options.SecurePort)
}

// IdentityKubeconfig is the kubeconfig the server wrote for a component's own identity
// (server.Component*), or "" when there is none.
func (s *SpaceServer) IdentityKubeconfig(component string) string {
	path := server.IdentityKubeconfig(s.Options.RootDir, component)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// CAFile is the server's CA certificate.
func (s *SpaceServer) CAFile() string { return filepath.Join(s.Options.RootDir, "pki", "ca.crt") }

// caPool trusts the server's CA only (nothing before the server has made it).
func (s *SpaceServer) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	if data, err := os.ReadFile(s.CAFile()); err == nil {
		pool.AppendCertsFromPEM(data)
	}
	return pool
}

// Config returns the administrator's client configuration for the space at path, read from
// the kubeconfig the server wrote.
func (s *SpaceServer) Config(path string) *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: s.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: kubeconfig.BaseContext}).ClientConfig()
	must(s.t, err)
	cfg.QPS, cfg.Burst = 200, 400
	return spaces.ConfigFor(cfg, path)
}

// Client returns an administrator's controller-runtime client for the space at path.
func (s *SpaceServer) Client(path string) client.Client {
	s.t.Helper()
	c, err := client.New(s.Config(path), client.Options{Scheme: apis.NewScheme()})
	must(s.t, err)
	return c
}

// CreateSpace creates the Space name (root:name) and waits until it is Ready.
func (s *SpaceServer) CreateSpace(name string) *spacev1alpha1.Space {
	s.t.Helper()
	return s.CreateSpaceWithRole(name, "")
}

// CreateSpaceWithRole creates the Space name (root:name) with the given role label
// (spacev1alpha1.Role*; "" for none) and waits until it is Ready.
func (s *SpaceServer) CreateSpaceWithRole(name, role string) *spacev1alpha1.Space {
	s.t.Helper()
	c := s.Client(spaces.RootPath)
	space := &spacev1alpha1.Space{}
	space.Name = name
	if role != "" {
		space.Labels = map[string]string{spacev1alpha1.LabelRole: role}
	}
	must(s.t, c.Create(s.t.Context(), space))
	return s.WaitSpaceReady(name)
}

// WaitSpaceReady waits until the Space name is Ready and returns it.
func (s *SpaceServer) WaitSpaceReady(name string) *spacev1alpha1.Space {
	s.t.Helper()
	c := s.Client(spaces.RootPath)
	space := &spacev1alpha1.Space{}
	err := wait.PollUntilContextTimeout(s.t.Context(), 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, space); err != nil {
			return false, nil //nolint:nilerr // not there yet
		}
		return space.Status.Phase == spacev1alpha1.SpacePhaseReady, nil
	})
	if err != nil {
		s.t.Fatalf("space %s did not become Ready: %v (status %+v)", name, err, space.Status)
	}
	return space
}

// CreateSpaceWithAPI creates the Space name, waits until it is Ready, and installs the
// KubeStellar edge API into it, as `kubestellar init` does for the core space and workspaces.
func (s *SpaceServer) CreateSpaceWithAPI(name string) *spacev1alpha1.Space {
	s.t.Helper()
	space := s.CreateSpace(name)
	list, err := crds.Edge()
	must(s.t, err)
	must(s.t, crds.Install(s.t.Context(), s.Config(spaces.ChildPath(name)), list, 2*time.Minute))
	return space
}
