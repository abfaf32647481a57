// Package controllerhost is what every KubeStellar controller binary shares: its flags (the
// --root-* and --base-* kubeconfig families, --concurrency, --espw-path, --metrics-*,
// --health-bind-address, --enable-pprof, --leader-elect), the servers for /metrics (and
// /debug/pprof/) and for the probes, leader election, and a multicluster manager that follows
// the spaces of the space server.
package controllerhost

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// KubeconfigFlags select a client configuration from a kubeconfig, like kubectl's
// --kubeconfig, --context, --user and --cluster, under a prefix.
type KubeconfigFlags struct {
	prefix                             string
	Kubeconfig, Context, User, Cluster string
}

// NewKubeconfigFlags returns the flags for prefix ("root", "base") with a default context.
func NewKubeconfigFlags(prefix, defaultContext string) *KubeconfigFlags {
	return &KubeconfigFlags{prefix: prefix, Context: defaultContext}
}

// AddFlags registers --<prefix>-kubeconfig, -context, -user and -cluster.
func (k *KubeconfigFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.Kubeconfig, k.prefix+"-kubeconfig", k.Kubeconfig,
		"kubeconfig file for the "+k.prefix+" connection (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&k.Context, k.prefix+"-context", k.Context, "kubeconfig context for the "+k.prefix+" connection")
	fs.StringVar(&k.User, k.prefix+"-user", k.User, "kubeconfig user for the "+k.prefix+" connection (default: the context's)")
	fs.StringVar(&k.Cluster, k.prefix+"-cluster", k.Cluster, "kubeconfig cluster for the "+k.prefix+" connection (default: the context's)")
}

// RESTConfig loads the client configuration.
func (k *KubeconfigFlags) RESTConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	overrides.Context.AuthInfo = k.User
	overrides.Context.Cluster = k.Cluster
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--%s-kubeconfig/--%s-context: %w", k.prefix, k.prefix, err)
	}
	return cfg, nil
}

// Options are the flags every KubeStellar controller takes.
type Options struct {
	// Name names the controller in logs, metrics and its leader-election lease.
	Name string
	// Concurrency is the number of requests reconciled at once.
	Concurrency int
	// ESPWPath is the path of the KubeStellar core space.
	ESPWPath string
	// MetricsBindAddress is where /metrics (and, with EnablePprof, /debug/pprof/) is served;
	// "" or "0" for nowhere.
	MetricsBindAddress string
	// MetricsSecure serves the metrics address over HTTPS, to clients that the root space
	// authenticates (TokenReview) and authorizes (SubjectAccessReview) for the path.
	MetricsSecure bool
	// MetricsCertDir holds the serving certificate (tls.crt, tls.key) of the secure metrics
	// address; when empty, a self-signed certificate is made at startup.
	MetricsCertDir string
	// EnablePprof serves /debug/pprof/ on the metrics address.
	EnablePprof bool
	// HealthBindAddress is where /healthz and /readyz are served, without authentication, so
	// that a kubelet can probe them; "" for nowhere.
	HealthBindAddress string
	// LeaderElect makes replicas elect one leader that does the work.
	LeaderElect bool
	// Root addresses the root space; Base the space server's base URL.
	Root, Base *KubeconfigFlags
	// QPS and Burst limit requests to each space.
	QPS   float32
	Burst int
	// ShutdownTimeout bounds how long the controllers are given to stop once told to.
	ShutdownTimeout time.Duration
}

// NewOptions returns the defaults for the controller name, serving metrics on
// metricsBindAddress and no probes.
func NewOptions(name, metricsBindAddress string) *Options {
	return &Options{
		Name:               name,
		Concurrency:        8,
		ESPWPath:           spaces.RootPath + ":espw",
		MetricsBindAddress: metricsBindAddress,
		Root:               NewKubeconfigFlags("root", "root"),
		Base:               NewKubeconfigFlags("base", "base"),
		// Spaces protect themselves with kube-apiserver's in-flight limits
		// (--max-requests-inflight, --max-mutating-requests-inflight), so the client-side
		// limit only has to stop a runaway loop, not pace normal work.
		QPS:             500,
		Burst:           1000,
		ShutdownTimeout: 10 * time.Second,
	}
}

// AddFlags registers the options as flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "Number of requests reconciled at once")
	fs.StringVar(&o.ESPWPath, "espw-path", o.ESPWPath, "Path of the KubeStellar core space, which holds the mailboxes")
	fs.StringVar(&o.MetricsBindAddress, MetricsBindAddressFlag, o.MetricsBindAddress,
		"Address ([host]:port) serving /metrics (and /debug/pprof/ with --enable-pprof); \"\" or 0 for none. "+
			"Without --metrics-secure it is plain HTTP without authentication, so keep it on 127.0.0.1. "+
			"Also --"+ServerBindAddressAlias+", its name in the original KubeStellar")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", o.MetricsSecure,
		"Serve the metrics address over HTTPS, only to clients whose bearer token the root space accepts (TokenReview) "+
			"and who may get the path there (SubjectAccessReview: a ClusterRole with nonResourceURLs [/metrics] verbs [get], "+
			"and [/debug/pprof/*] for profiles)")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", o.MetricsCertDir,
		"Directory holding tls.crt and tls.key, the certificate of the secure metrics address (default: a self-signed one made at startup)")
	fs.BoolVar(&o.EnablePprof, "enable-pprof", o.EnablePprof,
		"Serve Go profiles under /debug/pprof/ on the metrics address (behind its authentication with --metrics-secure)")
	fs.StringVar(&o.HealthBindAddress, "health-bind-address", o.HealthBindAddress,
		"Address ([host]:port) serving /healthz and /readyz without authentication; \"\" for none")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect,
		"Elect a leader among replicas (a Lease in namespace kube-system of the root space); only the leader works")
	fs.Float32Var(&o.QPS, "qps", o.QPS, "Queries per second allowed to each space")
	fs.IntVar(&o.Burst, "burst", o.Burst, "Burst of queries allowed to each space")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout,
		"How long the controllers are given to stop on SIGTERM or SIGINT; after that the process exits with an error")
	o.Root.AddFlags(fs)
	o.Base.AddFlags(fs)
}

// MetricsBindAddressFlag is the name of the flag of Options.MetricsBindAddress.
const MetricsBindAddressFlag = "metrics-bind-address"

// ServerBindAddressAlias is the original KubeStellar's name of --metrics-bind-address.
const ServerBindAddressAlias = "server-bind-address"

// MetricsOn says whether metrics are served anywhere.
func (o *Options) MetricsOn() bool {
	return o.MetricsBindAddress != "" && o.MetricsBindAddress != "0"
}

// validateAddress checks that addr is [host]:port.
func validateAddress(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%q must be [host]:port", addr)
	}
	return nil
}

// Validate checks the options, naming the flag of each problem.
func (o *Options) Validate() error {
	var errs []error
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency %d must be at least 1", o.Concurrency))
	}
	if err := spaces.ValidatePath(o.ESPWPath); err != nil {
		errs = append(errs, fmt.Errorf("--espw-path: %w", err))
	}
	if o.MetricsOn() {
		if err := validateAddress(o.MetricsBindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--%s %w, or \"\" for none", MetricsBindAddressFlag, err))
		}
	}
	if o.HealthBindAddress != "" {
		if err := validateAddress(o.HealthBindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--health-bind-address %w, or \"\" for none", err))
		}
	}
	if o.MetricsOn() && o.HealthBindAddress == o.MetricsBindAddress {
		errs = append(errs, fmt.Errorf("--health-bind-address and --%s are both %q: give them different ports",
			MetricsBindAddressFlag, o.HealthBindAddress))
	}
	if o.MetricsCertDir != "" && !o.MetricsSecure {
		errs = append(errs, errors.New("--metrics-cert-dir is for --metrics-secure: add --metrics-secure=true or leave out --metrics-cert-dir"))
	}
	if o.EnablePprof && !o.MetricsOn() {
		errs = append(errs, fmt.Errorf("--enable-pprof serves on the metrics address: give --%s too", MetricsBindAddressFlag))
	}
	if o.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %s must be positive", o.ShutdownTimeout))
	}
	if o.QPS <= 0 || o.Burst < 1 {
		errs = append(errs, errors.New("--qps and --burst must be positive"))
	}
	return errors.Join(errs...)
}
