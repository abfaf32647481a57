package placement

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// driftFresh is how old a drift may be, when the translator first sees it, to be announced
// on the workload object: older ones were announced before the translator restarted.
const driftFresh = 5 * time.Minute

// mirrorDrift records an Event on the workload object for each change made to it in a
// workload execution cluster that the syncer there reported since the last one seen: the
// owner of the object sees it where they work, not only in that cluster.
func (t *Translator) mirrorDrift(space *multicluster.Cluster, ref wrapper.ObjectRef, obj *unstructured.Unstructured, wrappers []edgev2alpha1.WrappedObject) {
	for _, w := range t.newDrifts(ref, wrappers, time.Now()) {
		d := w.Status.Drift
		where := w.Namespace
		if w.Spec.Destination != nil {
			where = w.Spec.Destination.SyncTargetName
		}
		space.GetEventRecorder(FieldManager).Eventf(obj, nil, corev1.EventTypeWarning, wrapper.DriftReason(d), "Sync", "at %s: %s", where, wrapper.DriftNote(d))
	}
}

// newDrifts returns the wrappers whose drift has not been seen yet, and remembers the drift
// of each wrapper in hand (those of no wrapper any more are forgotten).
func (t *Translator) newDrifts(ref wrapper.ObjectRef, wrappers []edgev2alpha1.WrappedObject, now time.Time) []*edgev2alpha1.WrappedObject {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.drifts[ref]
	seen := map[string]metav1.Time{}
	var out []*edgev2alpha1.WrappedObject
	for i := range wrappers {
		w := &wrappers[i]
		d := w.Status.Drift
		if d == nil {
			continue
		}
		seen[w.Namespace] = d.Time
		last, known := old[w.Namespace]
		switch {
		case known && last.Equal(&d.Time):
		case !known && old == nil && now.Sub(d.Time.Time) > driftFresh:
		default:
			out = append(out, w)
		}
	}
	keep(t.drifts, ref, seen)
	return out
}

// forgetDrifts forgets the drifts seen of an object that is gone.
func (t *Translator) forgetDrifts(ref wrapper.ObjectRef) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.drifts, ref)
}
