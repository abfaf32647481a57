package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// AdminKubeconfig is the name, in the root directory, of the administrator's kubeconfig.
const AdminKubeconfig = "admin.kubeconfig"

// Run runs the space server until ctx ends, then stops every space.
func Run(ctx context.Context, o *Options) error {
	logger := klog.FromContext(ctx)
	if err := os.MkdirAll(o.RootDir, 0o700); err != nil {
		return fmt.Errorf("creating --root-dir: %w", err)
	}
	servingNames := append(internalNames(o.BindAddress), o.ExternalHostnames...)
	if o.AdvertiseAddress != "" {
		servingNames = append(servingNames, o.AdvertiseAddress)
	}
	p, err := ensurePKI(filepath.Join(o.RootDir, "pki"), servingNames, o.CertificateValidity)
	if err != nil {
		return err
	}
	identities, err := ensureIdentities(p)
	if err != nil {
		return err
	}
	reps, err := newReplicas(o)
	if err != nil {
		return err
	}

	var st *storage
	if len(o.EtcdServers) > 0 {
		st, err = connectExternalEtcd(ctx, o.EtcdServers, o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile)
	} else {
		st, err = startEmbeddedEtcd(ctx, filepath.Join(o.RootDir, "etcd"), p)
	}
	if err != nil {
		return err
	}
	defer st.stop()

	var notify atomic.Pointer[func(string)]
	env := &runnerEnv{
		bin:       binaries{KubeAPIServer: o.KubeAPIServer, KubeControllerManager: o.KubeControllerManager},
		pki:       p,
		storage:   st,
		spaceDir:  func(id string) string { return filepath.Join(o.RootDir, "spaces", id) },
		verbosity: o.SpaceVerbosity,
		onChange: func(path string) {
			if f := notify.Load(); f != nil {
				(*f)(path)
			}
		},
	}
	// Spaces outlive ctx only as long as it takes to stop them below.
	set := newSpaceSet(context.WithoutCancel(ctx), env)
	defer set.stopAll()

	if reps.servesRoot() {
		logger.Info("Starting the root space")
		set.ensure(spaces.RootPath, spaces.RootID, "")
		if err := waitReady(ctx, set, spaces.RootPath, 3*time.Minute); err != nil {
			return err
		}
	}

	// The front proxy.
	certs := &servingCerts{
		defaultPair: certPair{Cert: p.issued(servingCertName), Key: p.private(servingCertName)},
		issuedDir:   filepath.Dir(p.issued(servingCertName)),
		privateDir:  filepath.Dir(p.private(servingCertName)),
	}
	for _, s := range o.SNICertKeys {
		pair, err := parseCertPair(s)
		if err != nil {
			return err
		}
		certs.sniPairs = append(certs.sniPairs, pair)
	}
	if err := certs.load(); err != nil {
		return err
	}
	if err := certs.watch(ctx); err != nil {
		return err
	}
	frontProxyCert, err := newFileCert(p.frontProxyClientCert(), p.frontProxyClientKey())
	if err != nil {
		return fmt.Errorf("front proxy client certificate: %w", err)
	}
	var ready atomic.Bool
	proxy, reloadProxyCert := newFrontProxy(set, p.CA.Pool(), frontProxyCert, p.CA.Pool(), func() error {
		if !ready.Load() {
			return errors.New("the space server is starting")
		}
		if !reps.servesRoot() {
			return nil
		}
		if state, _ := set.route(spaces.RootPath); !state.Ready {
			return fmt.Errorf("the root space is not ready: %s", state.Message)
		}
		return nil
	})
	if reps.several() {
		proxy.replicas = reps
		proxy.peerAuthn = peerAuthenticator(p.FrontProxyCA.Pool())
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort)))
	if err != nil {
		return fmt.Errorf("listening on --bind-address %s --secure-port %d: %w", o.BindAddress, o.SecurePort, err)
	}
	srv := &http.Server{
		Handler: proxy,
		TLSConfig: &tls.Config{
			GetCertificate: certs.getCertificate,
			// Client certificates are verified by the front proxy's authenticator, so that
			// a request without one can still carry a bearer token.
			ClientAuth: tls.RequestClientCert,
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
		// Failed handshakes (clients that do not trust us yet) are routine: log them quietly.
		ErrorLog: log.New(klogWriter{logger.V(2)}, "", 0),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(listener, "", "") }()
	defer func() {
		// The spaces stop while the proxy does, not after: watches streaming through the
		// proxy last until their clients end them, so they are cut off rather than waited for.
		var wg sync.WaitGroup
		wg.Go(set.stopAll)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			_ = srv.Close()
		}
		wg.Wait()
	}()

	// Clients of this process go through the front proxy, whose address does not change
	// when a space's API server restarts. Other clients are given the advertised address.
	localURL := "https://" + net.JoinHostPort(urlHost(o.BindAddress), strconv.Itoa(o.SecurePort))
	baseURL := localURL
	if o.AdvertiseAddress != "" {
		baseURL = "https://" + net.JoinHostPort(o.AdvertiseAddress, strconv.Itoa(o.SecurePort))
	}
	// The server's own clients read the admin certificate from its files, so that they
	// follow its renewal; admin.kubeconfig, for people to copy, holds it.
	rootConfig := &rest.Config{
		Host:            spaces.URL(localURL, spaces.RootPath),
		TLSClientConfig: p.adminTLS(),
		QPS:             50, Burst: 100,
	}
	spaceCRDs, err := crds.Space()
	if err != nil {
		return err
	}
	if err := crds.Install(ctx, rootConfig, spaceCRDs, 2*time.Minute); err != nil {
		return fmt.Errorf("installing the Space API into the root space: %w", err)
	}
	if reps.servesRoot() {
		if err := ensureRootRBAC(ctx, p, set, 2*time.Minute); err != nil {
			return err
		}
	}

	if o.beforeResume != nil {
		o.beforeResume(ctx)
	}
	// Spaces that existed before this start answer "not ready" (not "not found") until their
	// API servers are up, and say so in their status; until they are all known, so does any
	// path the proxy cannot route.
	if err := resumeSpaces(ctx, rootConfig, set, reps.owns); err != nil {
		return err
	}
	set.markLoaded()

	scheme := runtime.NewScheme()
	if err := spacev1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(rootConfig, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logger.WithName("space-controller"),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("creating the space controller: %w", err)
	}
	webhooks, err := startWebhookServer(ctx, p)
	if err != nil {
		return err
	}
	defer webhooks.stop()
	spaceReader := client.Reader(mgr.GetCache())
	reps.spaces.Store(&spaceReader)
	reconciler := &spaceReconciler{client: mgr.GetClient(), set: set, storage: st, baseURL: baseURL, webhook: webhooks, replicas: reps}
	notifyFn, err := setupSpaceController(mgr, reconciler)
	if err != nil {
		return fmt.Errorf("creating the space controller: %w", err)
	}
	notify.Store(&notifyFn)
	mgrErr := make(chan error, 1)
	mgrCtx, stopMgr := context.WithCancel(ctx)
	defer stopMgr()
	go func() { mgrErr <- mgr.Start(mgrCtx) }()

	// The components' kubeconfigs come first: the admin kubeconfig says that all is ready.
	for component, pair := range identities {
		if err := writeIdentity(o.RootDir, baseURL, component, p.CA.CertPEM, pair); err != nil {
			return err
		}
	}
	kubeconfigPath := filepath.Join(o.RootDir, AdminKubeconfig)
	if err := writeAdminKubeconfig(kubeconfigPath, baseURL, p.CA.CertPEM, p.Admin); err != nil {
		return err
	}

	// Certificates are renewed from now on, in the same files; what holds one in memory is
	// told to load it again, and the kubeconfigs and copies made of it are written again.
	metrics := prometheus.NewRegistry()
	renewer, err := newCertRenewer(p, metrics)
	if err != nil {
		return err
	}
	renewer.reloaders = []func() error{certs.load, reloadProxyCert, webhooks.reloadCert}
	renewer.onRenewed = func(name string, pair *pki.KeyPair) error {
		if name == adminLeaf {
			return writeAdminKubeconfig(kubeconfigPath, baseURL, p.CA.CertPEM, pair)
		}
		if component, ok := strings.CutPrefix(name, identityLeafPrefix); ok {
			return writeIdentityCert(o.RootDir, component, pair)
		}
		return nil
	}
	renewCtx, stopRenewing := context.WithCancel(ctx)
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		renewer.run(renewCtx)
	}()
	defer func() {
		stopRenewing()
		<-renewDone
	}()
	metricsErr := make(chan error, 1)
	if o.MetricsBindAddress != "" {
		stopMetrics, err := serveMetrics(o.MetricsBindAddress, prometheus.Gatherers{ctrlmetrics.Registry, metrics}, metricsErr)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	ready.Store(true)
	logger.Info("Space server ready", "url", baseURL, "kubeconfig", kubeconfigPath)

	select {
	case <-ctx.Done():
		logger.Info("Stopping the space server")
		return nil
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case err := <-webhooks.done:
		return fmt.Errorf("serving the admission webhooks: %w", err)
	case err := <-metricsErr:
		return fmt.Errorf("serving metrics on --metrics-bind-address %s: %w", o.MetricsBindAddress, err)
	case err := <-mgrErr:
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("space controller: %w", err)
	}
}

// Names of leaves whose renewal writes more than their own files.
const (
	adminLeaf          = "admin"
	identityLeafPrefix = "identity-"
)

// Names of the files, in a component's identity folder, of its client certificate and key.
// Its kubeconfig names them relative to itself, so that the folder alone (all a component's
// container mounts in the chart) is enough, and so that clients follow their renewal.
const (
	identityCertFile = "client.crt"
	identityKeyFile  = "client.key"
)

// writeIdentity writes a component's client certificate and key into its identity folder, then
// its kubeconfig, which refers to them.
func writeIdentity(rootDir, baseURL, component string, caPEM []byte, pair *pki.KeyPair) error {
	if err := writeIdentityCert(rootDir, component, pair); err != nil {
		return err
	}
	path := IdentityKubeconfig(rootDir, component)
	creds := kubeconfig.Credentials{CA: caPEM, CertFile: identityCertFile, KeyFile: identityKeyFile}
	return writeKubeconfig(path, kubeconfig.ForSpaceServer(baseURL, ComponentUser(component), creds))
}

// writeIdentityCert writes a component's client certificate and key into its identity folder.
func writeIdentityCert(rootDir, component string, pair *pki.KeyPair) error {
	dir := filepath.Dir(IdentityKubeconfig(rootDir, component))
	if err := pair.Write(filepath.Join(dir, identityCertFile), filepath.Join(dir, identityKeyFile)); err != nil {
		return fmt.Errorf("writing the client certificate of %s: %w", component, err)
	}
	return nil
}

// writeAdminKubeconfig writes admin.kubeconfig with the admin certificate inside, so that it
// can be copied anywhere; a copy made earlier keeps working until its own certificate expires.
func writeAdminKubeconfig(path, baseURL string, caPEM []byte, admin *pki.KeyPair) error {
	creds := kubeconfig.Credentials{CA: caPEM, CertData: admin.CertPEM, KeyData: admin.KeyPEM}
	return writeKubeconfig(path, kubeconfig.ForSpaceServer(baseURL, AdminUser, creds))
}

// writeKubeconfig replaces the file at path whole, so that a reader never sees half of it.
func writeKubeconfig(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// serveMetrics serves what gatherer gathers at /metrics on address until the returned stop is
// called; errors that end serving early go to failed.
func serveMetrics(address string, gatherer prometheus.Gatherer, failed chan<- error) (stop func(), err error) {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listening on --metrics-bind-address %s: %w", address, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
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

// resumeTimeout bounds how long a start waits to read the Spaces declared before it.
const resumeTimeout = 2 * time.Minute

// resumeSpaces starts every space declared before this start that owns says this server
// serves, and marks it Initializing.
func resumeSpaces(ctx context.Context, rootConfig *rest.Config, set *spaceSet, owns func(*spacev1alpha1.Space) bool) error {
	scheme := runtime.NewScheme()
	if err := spacev1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	// Right after the Space API is installed, or while the root space settles under load, a
	// read can fail for a moment: that is tried again, not a reason to stop the server.
	var c client.Client
	list := &spacev1alpha1.SpaceList{}
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, resumeTimeout, true, func(ctx context.Context) (bool, error) {
		// A new client each time, with a new view of discovery.
		try, err := client.New(rootConfig, client.Options{Scheme: scheme})
		if err == nil {
			err = try.List(ctx, list)
		}
		if err != nil {
			lastErr = err
			return false, nil
		}
		c = try
		return true, nil
	})
	if err != nil {
		if lastErr != nil {
			err = fmt.Errorf("%w (last error: %w)", err, lastErr)
		}
		return fmt.Errorf("listing spaces: %w", err)
	}
	for i := range list.Items {
		space := &list.Items[i]
		if space.Status.Cluster == "" || !space.DeletionTimestamp.IsZero() || !owns(space) {
			continue
		}
		set.ensure(spaces.ChildPath(space.Name), space.Status.Cluster, space.Labels[spacev1alpha1.LabelRole])
		if space.Status.Phase == spacev1alpha1.SpacePhaseInitializing {
			continue
		}
		space.Status.Phase = spacev1alpha1.SpacePhaseInitializing
		meta.SetStatusCondition(&space.Status.Conditions, metav1.Condition{
			Type: conditionReady, Status: metav1.ConditionFalse, Reason: "Starting",
			Message: "the space server restarted; starting the space's API server", ObservedGeneration: space.Generation,
		})
		if err := c.Status().Update(ctx, space); err != nil {
			return fmt.Errorf("updating the status of space %s: %w", space.Name, err)
		}
	}
	return nil
}

// klogWriter turns the standard library's server log into klog lines.
type klogWriter struct{ logger klog.Logger }

func (w klogWriter) Write(p []byte) (int, error) {
	w.logger.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitReady waits until the space at path serves, or fails with what went wrong.
func waitReady(ctx context.Context, set *spaceSet, path string, timeout time.Duration) error {
	var last runnerState
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last, _ = set.route(path)
		return last.Ready, nil
	})
	if err != nil {
		return fmt.Errorf("space %s did not become ready within %s: %s", path, timeout, last.Message)
	}
	return nil
}

// urlHost is the host clients on this machine use to reach a server bound to bindAddress.
func urlHost(bindAddress string) string {
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		return ip.String()
	}
	return "localhost"
}
