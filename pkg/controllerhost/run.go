package controllerhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// SetupFunc adds a binary's controllers to the manager.
type SetupFunc func(ctx context.Context, mgr *multicluster.Manager) error

// Run serves /metrics and /debug/pprof/, then (after winning the election, with
// --leader-elect) runs a multicluster manager that follows the spaces, with the controllers
// setup adds, until ctx ends.
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

	if o.ServerBindAddress != "" {
		stop, err := Serve(ctx, o.ServerBindAddress, mgr.SourcesSynced)
		if err != nil {
			return err
		}
		defer stop()
	}
	if !o.LeaderElect {
		return mgr.Start(ctx)
	}
	root, err := o.Root.RESTConfig()
	if err != nil {
		return err
	}
	return runElected(ctx, o.Name, root, logger, mgr.Start)
}

// Serve runs the HTTP server for metrics, profiling and probes (/healthz always answers,
// /readyz once ready says so) until ctx ends or the returned stop is called.
func Serve(ctx context.Context, addr string, ready func() bool) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
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
		return nil, fmt.Errorf("--server-bind-address %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "Metrics server stopped")
		}
	}()
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

// runElected runs run while this process holds the Lease kubestellar-<name> in namespace
// kube-system of the root space. Losing the lease is an error, so the process exits and a
// fresh replica competes again.
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
	runErr := make(chan error, 1)
	lost := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became the leader", "identity", identity)
				runErr <- run(ctx)
			},
			OnStoppedLeading: func() { close(lost) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	logger.Info("Waiting to become the leader", "identity", identity, "lease", "kube-system/kubestellar-"+name)
	elector.Run(ctx)
	<-lost
	if ctx.Err() != nil {
		return nil
	}
	select {
	case err := <-runErr:
		if err != nil {
			return err
		}
	default:
	}
	return errors.New("lost the leader election lease")
}
