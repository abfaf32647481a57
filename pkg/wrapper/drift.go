package wrapper

import (
	"fmt"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

const (
	// AnnotationDrift on a workload object says what the syncer does when the object is
	// changed in the cluster: DriftRevert (the default) or DriftReport.
	AnnotationDrift = "edge.kubestellar.io/drift"
	// DriftReport asks the syncer to report a change made in the cluster and leave it there.
	DriftReport = "report"
	// DriftRevert has the syncer put its values back, and report that it did.
	DriftRevert = "revert"

	// EventDriftReverted is the reason of the Events on an object changed in a workload
	// execution cluster whose values the syncer put back: on the object there, and on the
	// workload object it came from.
	EventDriftReverted = "DriftReverted"
	// EventDriftReported is the reason of the Events on an object changed in a workload
	// execution cluster that the syncer left as it is (DriftReport), and of the wrapper's
	// Synced condition.
	EventDriftReported = "DriftReported"
)

// DriftReason is the reason of the Events about the drift.
func DriftReason(d *edgev2alpha1.Drift) string {
	if d.Reverted {
		return EventDriftReverted
	}
	return EventDriftReported
}

// DriftNote is the text of a drift Event and condition message.
func DriftNote(d *edgev2alpha1.Drift) string {
	verb := "put back"
	if !d.Reverted {
		verb = "left in place, as " + AnnotationDrift + ": " + DriftReport + " asks"
	}
	return fmt.Sprintf("changed in the cluster, %s: %v", verb, d.Fields)
}
