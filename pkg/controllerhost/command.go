package controllerhost

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
	// BindAddress is the default --server-bind-address.
	BindAddress string
	// Setup adds the binary's controllers to the manager, given the parsed options.
	Setup func(ctx context.Context, mgr *multicluster.Manager, o *Options) error
}

// Main runs the controller binary described by c and exits.
func Main(c Command) {
	opts := NewOptions(c.Name, c.BindAddress)
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}
