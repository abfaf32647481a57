package controllerhost

import (
	"context"
	"flag"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubestellar/kubestellar/pkg/apis"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// Command describes a controller binary.
type Command struct {
	// Name is the binary's and the controller's name.
	Name string
	// Short and Long are the help texts.
	Short, Long string
	// MetricsBindAddress is the default --metrics-bind-address.
	MetricsBindAddress string
	// HealthBindAddress is the default --health-bind-address.
	HealthBindAddress string
	// Setup adds the binary's controllers to the manager, given the parsed options.
	Setup func(ctx context.Context, mgr *multicluster.Manager, o *Options) error
	// FlagAliases maps other names of flags, such as the original documents' names, to the
	// flags' own names (without dashes); either name may be typed.
	FlagAliases map[string]string
}

// Main runs the controller binary described by c and exits.
func Main(c Command) {
	opts := NewOptions(c.Name, c.MetricsBindAddress)
	opts.HealthBindAddress = c.HealthBindAddress
	cmd := &cobra.Command{
		Use:   c.Name,
		Short: c.Short,
		Long:  c.Long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			cmd.SilenceUsage = true
			logger := klog.NewKlogr()
			ctrl.SetLogger(logger)
			logFlags(logger, cmd.Flags())
			ctx := klog.NewContext(cmd.Context(), logger)
			return Run(ctx, opts, apis.NewScheme(), func(ctx context.Context, mgr *multicluster.Manager) error {
				return c.Setup(ctx, mgr, opts)
			})
		},
	}
	opts.AddFlags(cmd.Flags())
	goFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goFlags)
	cmd.Flags().AddGoFlagSet(goFlags)
	aliases := map[string]string{ServerBindAddressAlias: MetricsBindAddressFlag}
	maps.Copy(aliases, c.FlagAliases)
	// pflag resolves every name typed through this, so an alias sets the flag itself.
	cmd.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := aliases[name]; ok {
			return pflag.NormalizedName(to)
		}
		return pflag.NormalizedName(name)
	})

	// Run returns within --shutdown-timeout (and the release of the lease); the deadline
	// here catches whatever else might hang on the way out.
	ctx, stop := SignalContext(func() time.Duration { return opts.ShutdownTimeout + 5*time.Second })
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

// secretFlag matches the names of flags whose values must not reach a log.
var secretFlag = regexp.MustCompile(`(?i)token|password|secret|credential`)

// logFlags logs every flag and its value, one line each, at verbosity 1, as the original
// controllers did at startup; values of flags that may hold secrets are left out.
func logFlags(logger klog.Logger, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		value := f.Value.String()
		if secretFlag.MatchString(f.Name) {
			value = "(redacted)"
		}
		logger.V(1).Info("Command line flag", f.Name, value)
	})
}

// SignalContext returns a context that ends on the first SIGTERM or SIGINT. A second such
// signal, or the passing of deadline() after the first, makes the process exit at once with
// status 1, whatever is still running. Call stop when done.
func SignalContext(deadline func() time.Duration) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			klog.InfoS("Shutting down", "signal", sig.String())
			cancel()
		case <-done:
			return
		}
		d := deadline()
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case sig := <-signals:
			klog.InfoS("Exiting at once on a second signal", "signal", sig.String())
		case <-timer.C:
			klog.InfoS("Exiting: the shutdown did not finish in time", "waited", d.String())
		case <-done:
			return
		}
		klog.Flush()
		os.Exit(1)
	}()
	return ctx, func() {
		signal.Stop(signals)
		close(done)
		cancel()
	}
}
