// Command placement-translator puts the workload objects that EdgePlacements select into the
// mailboxes of their destinations, and brings reported state back.
package main

import (
	"context"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/placement"
)

func main() {
	controllerhost.Main(controllerhost.Command{
		Name:  "placement-translator",
		Short: "Put placed workload objects into the mailboxes of their destinations",
		Long: `placement-translator puts, for every destination of every SinglePlacementSlice, one
WrappedObject per workload object selected by the placement's downsync tests into that
SyncTarget's mailbox (customized per destination by the object's Customizer and, with
edge.kubestellar.io/expand-parameters: "true", %(key) parameters from the destination's
Location). It removes wrappers no longer wanted, writes each mailbox's SyncerConfig (the
union of what the placements reaching it ask for, upsync included), keeps the
kubestellar.io/executing-count annotation of every placed object, and copies a singleton's
reported status back into it when its placement sets wantSingletonReportedState.`,
		MetricsBindAddress: "127.0.0.1:10204",
		HealthBindAddress:  ":10214",
		Setup: func(_ context.Context, mgr *multicluster.Manager, o *controllerhost.Options) error {
			_, err := placement.Setup(mgr, placement.Options{ESPWPath: o.ESPWPath, Concurrency: o.Concurrency})
			return err
		},
	})
}
