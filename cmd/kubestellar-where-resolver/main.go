// Command kubestellar-where-resolver resolves every EdgePlacement to the SyncTargets it
// selects, writing them into the placement's SinglePlacementSlice.
package main

import (
	"context"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/where"
)

func main() {
	controllerhost.Main(controllerhost.Command{
		Name:  "kubestellar-where-resolver",
		Short: "Resolve EdgePlacements to destinations",
		Long: `kubestellar-where-resolver resolves, for every EdgePlacement in every space, the Locations (in
any space) matching any of its locationSelectors, and then the SyncTargets in each such
Location's space matching the Location's instanceSelector. It writes them as the destinations
of the SinglePlacementSlice of the same name, owned by the placement, and keeps
status.matchingLocationCount and the Resolved condition (False, naming the problem, when a
selector is invalid). It reacts to any change of labels or spec on either side.`,
		MetricsBindAddress: "127.0.0.1:10205",
		HealthBindAddress:  ":10215",
		Setup: func(_ context.Context, mgr *multicluster.Manager, o *controllerhost.Options) error {
			_, err := where.Setup(mgr, where.Options{Concurrency: o.Concurrency})
			return err
		},
	})
}
