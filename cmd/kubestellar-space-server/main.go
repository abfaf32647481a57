// Command kubestellar-space-server serves KubeStellar spaces: one kube-apiserver per space
// behind one TLS front proxy, with spaces declared by Space objects in the root space.
package main

import (
	"flag"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
)

func main() {
	// The server stops its spaces within seconds; the deadline catches whatever else hangs.
	ctx, stop := controllerhost.SignalContext(func() time.Duration { return 15 * time.Second })
	err := newCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	opts := server.NewOptions()
	run := func(cmd *cobra.Command, _ []string) error {
		if err := opts.Validate(); err != nil {
			return err
		}
		if err := opts.Complete(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		logger := klog.NewKlogr()
		ctrl.SetLogger(logger)
		return server.Run(klog.NewContext(cmd.Context(), logger), opts)
	}
	root := &cobra.Command{
		Use:   "kubestellar-space-server [start]",
		Short: "Serve KubeStellar spaces behind one TLS endpoint",
		Long: `kubestellar-space-server serves many Kubernetes API endpoints ("spaces") on one port.
Each space is an upstream kube-apiserver (with the kube-controller-manager controllers for
namespaces, garbage collection and service accounts) whose data lives under its own prefix
in one etcd. Space "root" always exists; a Space object named NAME in it declares the space
root:NAME. Every space is served at https://HOST:PORT/clusters/<path>.

On start the server writes <root-dir>/admin.kubeconfig, with contexts "root" and "base",
and keeps all state under --root-dir, so a restart brings back every space with its data
and the same credentials.`,
		Args: cobra.NoArgs,
		RunE: run,
	}
	root.AddCommand(&cobra.Command{
		Use:   "start",
		Short: "Start the space server (the default)",
		Args:  cobra.NoArgs,
		RunE:  run,
	})
	opts.AddFlags(root.PersistentFlags())
	goFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goFlags)
	root.PersistentFlags().AddGoFlagSet(goFlags)
	return root
}
