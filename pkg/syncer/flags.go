package syncer

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Flags are the syncer's command-line flags.
type Flags struct {
	FromKubeconfig, FromContext string
	// Mailbox, when set, names the mailbox instead of the --from-kubeconfig context's namespace.
	Mailbox                 string
	ToKubeconfig, ToContext string
	SyncTargetName          string
	SyncTargetUID           string
	QPS                     float32
	Burst                   int
	Concurrency             int
	MetricsBindAddress      string
}

// NewFlags returns the defaults. Both sides protect themselves (a space with its in-flight
// limits, a cluster with API priority and fairness), so the client-side limit is there to
// stop a runaway loop rather than to pace normal work.
func NewFlags() *Flags { return &Flags{QPS: 200, Burst: 400, Concurrency: 8} }

// AddFlags registers the flags.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.FromKubeconfig, "from-kubeconfig", f.FromKubeconfig, "kubeconfig for the mailbox; its context's namespace is the mailbox (required)")
	fs.StringVar(&f.FromContext, "from-context", f.FromContext, "context in --from-kubeconfig (default: its current context)")
	fs.StringVar(&f.Mailbox, "mailbox", f.Mailbox, "the mailbox namespace (default: the namespace of the --from-kubeconfig context, which must then set one)")
	fs.StringVar(&f.ToKubeconfig, "to-kubeconfig", f.ToKubeconfig, "kubeconfig for the workload execution cluster (default: in-cluster)")
	fs.StringVar(&f.ToContext, "to-context", f.ToContext, "context in --to-kubeconfig (default: its current context)")
	fs.StringVar(&f.SyncTargetName, "sync-target-name", f.SyncTargetName, "name of the SyncTarget this cluster is")
	fs.StringVar(&f.SyncTargetUID, "sync-target-uid", f.SyncTargetUID, "UID of the SyncTarget this cluster is")
	fs.Float32Var(&f.QPS, "qps", f.QPS, "queries per second allowed to each side")
	fs.IntVar(&f.Burst, "burst", f.Burst, "burst of queries allowed to each side")
	fs.IntVar(&f.Concurrency, "concurrency", f.Concurrency, "objects handled at once in each direction")
	fs.StringVar(&f.MetricsBindAddress, "metrics-bind-address", f.MetricsBindAddress,
		"address ([host]:port) serving Prometheus metrics at /metrics, unauthenticated, such as 127.0.0.1:10207 (default: none)")
}

// Options turns the flags into Options.
func (f *Flags) Options() (Options, error) {
	if f.FromKubeconfig == "" {
		return Options{}, errors.New("--from-kubeconfig is required: the kubeconfig for this cluster's mailbox")
	}
	var bad []error
	if f.QPS <= 0 {
		bad = append(bad, fmt.Errorf("--qps %v must be positive", f.QPS))
	}
	if f.Burst < 1 {
		bad = append(bad, fmt.Errorf("--burst %d must be at least 1", f.Burst))
	}
	if f.Concurrency < 1 {
		bad = append(bad, fmt.Errorf("--concurrency %d must be at least 1", f.Concurrency))
	}
	if len(bad) > 0 {
		return Options{}, errors.Join(bad...)
	}
	from := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: f.FromKubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: f.FromContext})
	upstream, err := from.ClientConfig()
	if err != nil {
		return Options{}, fmt.Errorf("--from-kubeconfig: %w", err)
	}
	mailbox, err := f.mailbox(from)
	if err != nil {
		return Options{}, err
	}
	var downstream *rest.Config
	if f.ToKubeconfig == "" && f.ToContext == "" {
		if downstream, err = rest.InClusterConfig(); err != nil {
			return Options{}, fmt.Errorf("not running in a cluster, so --to-kubeconfig is required: %w", err)
		}
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = f.ToKubeconfig
		if downstream, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.ToContext}).ClientConfig(); err != nil {
			return Options{}, fmt.Errorf("--to-kubeconfig: %w", err)
		}
	}
	for _, c := range []*rest.Config{upstream, downstream} {
		c.QPS, c.Burst = f.QPS, f.Burst
	}
	return Options{
		Upstream: upstream, Mailbox: mailbox, Downstream: downstream,
		SyncTargetName: f.SyncTargetName, SyncTargetUID: types.UID(f.SyncTargetUID), Concurrency: f.Concurrency,
		MetricsBindAddress: f.MetricsBindAddress,
	}, nil
}

// mailbox is --mailbox, or else the namespace the --from-kubeconfig context sets. It is
// never clientcmd's fall-back "default": a syncer that took namespace default as its mailbox
// would wait there for wrappers that never come.
func (f *Flags) mailbox(from clientcmd.ClientConfig) (string, error) {
	if f.Mailbox != "" {
		return f.Mailbox, nil
	}
	raw, err := from.RawConfig()
	if err != nil {
		return "", fmt.Errorf("--from-kubeconfig: %w", err)
	}
	name := f.FromContext
	if name == "" {
		name = raw.CurrentContext
	}
	ctx, ok := raw.Contexts[name]
	if !ok {
		return "", fmt.Errorf("--from-kubeconfig %s: there is no context %q", f.FromKubeconfig, name)
	}
	if ctx.Namespace == "" {
		return "", fmt.Errorf("--from-kubeconfig %s: context %q sets no namespace, and that namespace is the mailbox: "+
			"set it in the context (kubectl config set-context %s --namespace=<mailbox> --kubeconfig=%s) or pass --mailbox",
			f.FromKubeconfig, name, name, f.FromKubeconfig)
	}
	return ctx.Namespace, nil
}
