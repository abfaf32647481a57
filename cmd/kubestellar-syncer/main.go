// Command kubestellar-syncer runs in a workload execution cluster: it applies what its
// mailbox holds, reports state back, and copies selected objects up.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubestellar/kubestellar/pkg/syncer"
)

// defaultGOGC is the syncer's garbage collection target unless GOGC is set: a syncer runs in
// every edge cluster, often a small one, and holds a cache of its mailbox and of what it
// placed, so it trades a little CPU for a heap that grows to 1.5 times what is live rather
// than the runtime's default of twice.
const defaultGOGC = 50

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	flags := syncer.NewFlags()
	cmd := &cobra.Command{
		Use:   "kubestellar-syncer",
		Short: "Keep a workload execution cluster in step with its mailbox",
		Long: `kubestellar-syncer runs in a workload execution cluster (WEC). It applies every object
wrapped in its mailbox to the WEC by server-side apply, marks what it creates with the label
edge.kubestellar.io/downsynced, never changes or deletes an object it did not create, and
deletes what it created when the wrapper goes. It writes each object's status into its
wrapper, copies objects selected by the SyncerConfig's upsync up into the mailbox, and
records a heartbeat in the SyncerConfig's status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := flags.Options()
			if err != nil {
				return err
			}
			cmd.SilenceUsage = true
			logger := klog.NewKlogr()
			ctrl.SetLogger(logger)
			return syncer.Run(klog.NewContext(cmd.Context(), logger), opts)
		},
	}
	flags.AddFlags(cmd.Flags())
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
