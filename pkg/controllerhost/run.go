package controllerhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// SetupFunc adds a binary's controllers to the manager.
type SetupFunc func(ctx context.Context, mgr *multicluster.Manager) error

// ErrShutdownTimeout says that the controllers had not stopped within the shutdown timeout
// after they were told to; they may still be running.
var ErrShutdownTimeout = errors.New("the controllers did not stop in time")

// Run serves the probes and /metrics (and /debug/pprof/) as o says, then (after winning the
// election, with --leader-elect) runs a multicluster manager that follows the spaces, with
// the controllers setup adds, until ctx ends or the metrics server fails. Once ctx has ended
// it returns within o.ShutdownTimeout (plus the time to release the lease), with
// ErrShutdownTimeout if the manager has not stopped.
func Run(ctx context.Context, o *Options, scheme *runtime.Scheme, setup SetupFunc) error {
	logger := klog.FromContext(ctx).WithName(o.Name)
	for _, k := range []*KubeconfigFlags{o.Base, o.Root} {
		if k.Kubeconfig == "" {
			continue
		}
		// Another container or process writes it when it starts; wait rather than fail.
		if err := kubeconfig.WaitForFile(ctx, k.Kubeconfig, func(waited time.Duration) {
			logger.Info("Waiting for the kubeconfig file", "path", k.Kubeconfig, "waited", waited.String())
		}); err != nil {
			return err
		}
	}
	base, err := o.Base.RESTConfig()
	if err != nil {
		return err
	}
	base.QPS, base.Burst = o.QPS, o.Burst
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: scheme, Logger: logger})
	if err != nil {
		return err
	}
	mgr.AddSource(&multicluster.SpaceSource{Base: base})
	if err := setup(ctx, mgr); err != nil {
		return err
	}

	var root *rest.Config
	if o.LeaderElect || (o.MetricsOn() && o.MetricsSecure) {
		if root, err = o.Root.RESTConfig(); err != nil {
			return err
		}
	}
	// A server that fails ends the run, and its failure is what Run returns.
	serveCtx, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	if o.HealthBindAddress != "" {
		stop, err := ServeHealth(serveCtx, o.HealthBindAddress, mgr.SourcesSynced)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.MetricsOn() {
		if err := serveMetrics(serveCtx, o, root, failed); err != nil {
			return err
		}
	}
	start := func(ctx context.Context) error { return runBounded(ctx, o.ShutdownTimeout, mgr.Start) }
	if o.LeaderElect {
		err = runElected(serveCtx, o.Name, root, logger, start)
	} else {
		err = start(serveCtx)
	}
	if cause := context.Cause(serveCtx); ctx.Err() == nil && cause != nil {
		return errors.Join(cause, err)
	}
	return err
}

// runBounded runs run until it returns, or until timeout has passed since ctx ended; then it
// returns ErrShutdownTimeout and leaves run behind.
func runBounded(ctx context.Context, timeout time.Duration, run func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("%w: still running %s after the shutdown began", ErrShutdownTimeout, timeout)
	}
}

// ServeHealth serves the probes, without authentication, until ctx ends or the returned stop
// is called: /healthz always answers 200, /readyz once ready says so.
func ServeHealth(ctx context.Context, addr string, ready func() bool) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--health-bind-address %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "Health server stopped")
		}
	}()
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			_ = srv.Close()
		}
	}, nil
}

// serveMetrics runs controller-runtime's metrics server for o (on the registry the
// controllers' metrics are registered on) until ctx ends; fail gets what stops it early,
// such as an address in use. With o.MetricsSecure it serves HTTPS and lets in only clients
// whose bearer token the root space (root) accepts and authorizes for the path.
func serveMetrics(ctx context.Context, o *Options, root *rest.Config, fail func(error)) error {
	logger := klog.FromContext(ctx)
	opts := metricsserver.Options{
		BindAddress:   o.MetricsBindAddress,
		SecureServing: o.MetricsSecure,
		CertDir:       o.MetricsCertDir,
		// HTTP/2 is turned off: its stream handling has been a denial-of-service vector
		// (CVE-2023-44487), and a scrape needs nothing HTTP/1.1 lacks.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.NextProtos = []string{"http/1.1"}
			c.MinVersion = tls.VersionTLS12
		}},
	}
	if o.EnablePprof {
		opts.ExtraHandlers = map[string]http.Handler{
			"/debug/pprof/":        http.HandlerFunc(pprof.Index),
			"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
			"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
			"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
			"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
		}
	}
	var httpClient *http.Client
	if o.MetricsSecure {
		if o.MetricsCertDir == "" {
			cert, err := selfSignedCertificate()
			if err != nil {
				return err
			}
			opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) {
				c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
			})
		} else {
			// controller-runtime falls back to a self-signed certificate when these are
			// missing; a directory that was given but is wrong must be said, not hidden.
			for _, name := range []string{"tls.crt", "tls.key"} {
				if _, err := os.Stat(filepath.Join(o.MetricsCertDir, name)); err != nil {
					return fmt.Errorf("--metrics-cert-dir: %w", err)
				}
			}
		}
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
		var err error
		if httpClient, err = rest.HTTPClientFor(root); err != nil {
			return fmt.Errorf("client for the root space, which authorizes metrics clients: %w", err)
		}
	} else if host, _, _ := net.SplitHostPort(o.MetricsBindAddress); !isLoopback(host) {
		logger.Info("Serving metrics over plain HTTP to anyone who reaches the address; use --metrics-secure or a 127.0.0.1 address to restrict them",
			"address", o.MetricsBindAddress)
	}
	srv, err := metricsserver.NewServer(opts, root, httpClient)
	if err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	go func() {
		if err := srv.Start(ctx); err != nil {
			fail(fmt.Errorf("serving metrics on --%s %s: %w", MetricsBindAddressFlag, o.MetricsBindAddress, err))
		}
	}()
	return nil
}

// isLoopback says whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// selfSignedCertificate makes a serving certificate for this host, signed by itself; a
// client checks it by pinning it or not at all, as it would for kube-controller-manager's.
func selfSignedCertificate() (*tls.Certificate, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"})
	if err != nil {
		return nil, fmt.Errorf("making a self-signed certificate for metrics: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("making a self-signed certificate for metrics: %w", err)
	}
	return &cert, nil
}

// releaseTimeout bounds the wait for the lease to be released on the way out.
const releaseTimeout = 3 * time.Second

// errLostLease says that another replica took the lease while this one worked.
var errLostLease = errors.New("lost the leader election lease")

// runElected runs run while this process holds the Lease kubestellar-<name> in namespace
// kube-system of the root space. Losing the lease is an error, so the process exits and a
// fresh replica competes again. When run returns (ctx ended, or it failed), the lease is
// released so that another replica takes over at once; the election outlives ctx until then,
// so that no two replicas ever work at the same time. A run that did not stop in time keeps
// the lease, which then expires.
func runElected(ctx context.Context, name string, root *rest.Config, logger klog.Logger, run func(context.Context) error) error {
	client, err := kubernetes.NewForConfig(root)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	identity := host + "_" + uuid.NewString()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: "kube-system", Name: "kubestellar-" + name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	electionCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	var mu sync.Mutex
	leading := false
	ran := make(chan error, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaseCtx context.Context) {
				mu.Lock()
				if ctx.Err() != nil {
					mu.Unlock()
					stopElection()
					return
				}
				leading = true
				mu.Unlock()
				logger.Info("Became the leader", "identity", identity)
				runCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				stop := context.AfterFunc(leaseCtx, cancel)
				defer stop()
				err := run(runCtx)
				if err == nil && ctx.Err() == nil {
					err = errLostLease
				}
				ran <- err
			},
			// Losing the lease cancels leaseCtx, which stops run.
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	// Until this process leads, the end of ctx ends the election; once it leads, the end
	// of run does.
	stopWaiting := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !leading {
			stopElection()
		}
	})
	defer stopWaiting()
	elected := make(chan struct{})
	go func() {
		defer close(elected)
		elector.Run(electionCtx)
	}()
	logger.Info("Waiting to become the leader", "identity", identity, "lease", "kube-system/kubestellar-"+name)

	var runErr error
	select {
	case runErr = <-ran:
	case <-elected:
		mu.Lock()
		led := leading
		mu.Unlock()
		if !led {
			return nil
		}
		// The lease could not be renewed; run is being stopped.
		runErr = <-ran
	}
	if errors.Is(runErr, ErrShutdownTimeout) {
		return runErr
	}
	stopElection()
	// Releasing takes two requests to the root space; one that does not answer leaves the
	// lease to expire.
	timer := time.NewTimer(releaseTimeout)
	defer timer.Stop()
	select {
	case <-elected:
	case <-timer.C:
		logger.Info("Could not release the lease in time; it expires instead", "waited", releaseTimeout)
	}
	if runErr != nil {
		logger.Info("Stopped leading", "identity", identity, "reason", runErr.Error())
	}
	return runErr
}
