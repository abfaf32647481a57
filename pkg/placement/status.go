package placement

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// StatusFieldManager owns the summary and the per-destination counts of a placement's status.
const StatusFieldManager = "kubestellar-placement-status"

const (
	// statusInterval is the least time between two status writes of one placement: wrapper
	// status changes come in bursts while a workload rolls out, and one write per burst says
	// as much as one per change.
	statusInterval = time.Second
	// heartbeatRefresh is how often the heartbeats in a placement's status are brought up to
	// date when nothing else changes.
	heartbeatRefresh = time.Minute
)

// setSelected records which placements select an object, and returns the placements whose
// selection that changed.
func (t *Translator) setSelected(ref wrapper.ObjectRef, placements []string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.selected[ref]
	now := map[string]bool{}
	for _, p := range placements {
		now[p] = true
	}
	var changed []string
	for p := range now {
		if !old[p] {
			changed = append(changed, p)
		}
	}
	for p := range old {
		if !now[p] {
			changed = append(changed, p)
		}
	}
	keep(t.selected, ref, now)
	return changed
}

// selectedBy returns the objects of the space that the placement selects, sorted.
func (t *Translator) selectedBy(space, placement string) []wrapper.ObjectRef {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []wrapper.ObjectRef
	for ref, by := range t.selected {
		if ref.Space == space && by[placement] {
			out = append(out, ref)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// placementsSelecting maps a wrapper to the placements that select the object it carries.
func (t *Translator) placementsSelecting(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
	ref, err := wrapper.ParseObjectRef(o.GetAnnotations()[wrapper.AnnotationSource])
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]multicluster.Request, 0, len(t.selected[ref]))
	for p := range t.selected[ref] {
		out = append(out, multicluster.Request{Cluster: ref.Space, NamespacedName: types.NamespacedName{Name: p}})
	}
	return out
}

// syncerBack passes the heartbeat of a syncer that was silent: the counts of the placements
// that reach it change then.
var syncerBack = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok := e.ObjectOld.(*edgev2alpha1.SyncerConfig)
		if !ok {
			return false
		}
		silent, _ := mailbox.Silent(&old.Status, time.Now())
		return silent
	},
}

// placementsReaching maps an object in a mailbox to the placements whose slices have that
// mailbox's destination.
func (t *Translator) placementsReaching(ctx context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
	var out []multicluster.Request
	for _, cl := range t.mgr.Clusters() {
		if served, err := cl.Serves(&edgev2alpha1.SinglePlacementSlice{}); !served || err != nil {
			continue
		}
		slices := &edgev2alpha1.SinglePlacementSliceList{}
		if err := cl.GetClient().List(ctx, slices, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		for _, slice := range slices.Items {
			for _, dest := range slice.Destinations {
				if mailbox.Name(dest.Cluster, dest.SyncTargetUID) == o.GetNamespace() {
					out = append(out, multicluster.Request{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: slice.Name}})
					break
				}
			}
		}
	}
	return out
}

// identityKey is the indexIdentity value of a wrapper in a mailbox carrying ref.
func identityKey(box string, ref wrapper.ObjectRef) string { return box + "|" + wrapper.Identity(ref) }

func identityKeys(o client.Object) []string {
	ref, err := wrapper.ParseObjectRef(o.GetAnnotations()[wrapper.AnnotationSource])
	if err != nil {
		return nil
	}
	return []string{identityKey(o.GetNamespace(), ref)}
}

// placementsClaiming maps a wrapper to the placements selecting its object, and to those
// selecting the objects of other spaces that the other wrappers of the same object in the
// mailbox carry: a conflict concerns both sides.
func (t *Translator) placementsClaiming(ctx context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
	out := t.placementsSelecting(ctx, cl, o)
	keys := identityKeys(o)
	if len(keys) == 0 {
		return out
	}
	rivals := &edgev2alpha1.WrappedObjectList{}
	if err := cl.GetClient().List(ctx, rivals, client.MatchingFields{indexIdentity: keys[0]}, client.UnsafeDisableDeepCopy); err != nil {
		return out
	}
	for i := range rivals.Items {
		if rivals.Items[i].Name != o.GetName() {
			out = append(out, t.placementsSelecting(ctx, cl, &rivals.Items[i])...)
		}
	}
	return out
}

// enqueueStatus has the status of each named placement of the space computed again.
func (t *Translator) enqueueStatus(space string, placements []string) {
	for _, p := range placements {
		t.status.Enqueue(multicluster.Request{Cluster: space, NamespacedName: types.NamespacedName{Name: p}})
	}
}

// reconcileStatus counts, per destination of a placement, how far its objects got, from the
// wrappers in the destination's mailbox, and writes the counts into the placement's status.
func (t *Translator) reconcileStatus(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	key := req.String()
	space, ok := t.mgr.Cluster(req.Cluster)
	if !ok {
		t.forgetStatusWrite(key)
		return reconcile.Result{}, nil
	}
	if served, err := space.Serves(&edgev2alpha1.EdgePlacement{}); err != nil || !served {
		return reconcile.Result{}, err
	}
	ep := &edgev2alpha1.EdgePlacement{}
	if err := space.GetClient().Get(ctx, req.NamespacedName, ep); err != nil || !ep.DeletionTimestamp.IsZero() {
		if apierrors.IsNotFound(err) {
			t.forgetStatusWrite(key)
		}
		if err == nil || apierrors.IsNotFound(err) {
			// The placement is gone or going: so are its combined statuses.
			return reconcile.Result{}, removeCombinedOf(ctx, space, req.Name)
		}
		return reconcile.Result{}, err
	}
	// Within statusInterval of the last write nothing can be written, so nothing is counted:
	// a burst of reports would otherwise count every wrapper once per report.
	if wait := t.statusWait(key); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	espw, ok := t.mgr.ClusterByPath(t.espwPath)
	if !ok {
		return reconcile.Result{}, fmt.Errorf("the core space %s does not exist yet", t.espwPath)
	}
	slice := &edgev2alpha1.SinglePlacementSlice{}
	if err := space.GetClient().Get(ctx, req.NamespacedName, slice); client.IgnoreNotFound(err) != nil {
		return reconcile.Result{}, err
	}
	summary, dests, conflicts, next, err := t.countPlacement(ctx, espw, space.Name, ep.Name, slice.Destinations)
	if err != nil {
		return reconcile.Result{}, err
	}
	combined, err := t.planCombined(ctx, space, espw, ep, slice.Destinations)
	if err != nil {
		return reconcile.Result{}, err
	}
	if combined.retry {
		next = min(next, combinedRetry)
	}
	cond := conflictCondition(ep, conflicts)
	old := meta.FindStatusCondition(ep.Status.Conditions, ConditionConflict)
	sameCond := old != nil && old.Status == cond.Status && old.Message == cond.Message && old.ObservedGeneration == cond.ObservedGeneration
	if sameCond && combined.sameCondition(ep) && !combined.changes() && sameSummary(ep.Status.Summary, ep.Status.Destinations, summary, dests) {
		return reconcile.Result{RequeueAfter: next}, nil
	}
	conds := []metav1.Condition{cond}
	if combined.cond != nil {
		conds = append(conds, *combined.cond)
	}
	if err := applySummary(ctx, space.GetClient(), ep.Name, summary, dests, conds); err != nil {
		return reconcile.Result{}, err
	}
	if err := writeCombined(ctx, space.GetClient(), combined); err != nil {
		return reconcile.Result{}, err
	}
	if cond.Status == metav1.ConditionTrue && !sameCond {
		space.GetEventRecorder(StatusFieldManager).Eventf(ep, nil, corev1.EventTypeWarning, ConditionConflict, "Place", "%s", cond.Message)
	}
	t.rememberStatusWrite(key)
	return reconcile.Result{RequeueAfter: next}, nil
}

// countPlacement counts the placement's selected objects at each destination.
// It also says when to count again at the latest: when a destination's syncer would turn
// stale, or after heartbeatRefresh.
// The conflicts are what the placement's objects meet at destinations: other placements
// sending them there with other content, or objects there not made by KubeStellar.
func (t *Translator) countPlacement(ctx context.Context, espw *multicluster.Cluster, space, placement string, destinations []edgev2alpha1.SinglePlacement) (*edgev2alpha1.PlacementSummary, []edgev2alpha1.DestinationStatus, []string, time.Duration, error) {
	objects := t.selectedBy(space, placement)
	dests := append([]edgev2alpha1.SinglePlacement(nil), destinations...)
	sort.Slice(dests, func(i, j int) bool {
		if dests[i].Cluster != dests[j].Cluster {
			return dests[i].Cluster < dests[j].Cluster
		}
		return dests[i].SyncTargetName < dests[j].SyncTargetName
	})
	summary := &edgev2alpha1.PlacementSummary{Destinations: int32(len(dests))}
	var out []edgev2alpha1.DestinationStatus
	var conflicts []string
	next := heartbeatRefresh
	// One read of the cache per selected object (its wrappers in every mailbox) and one per
	// destination, not one per pair; nor a read of every wrapper of the space, which made
	// each count cost as much as all the space's placements together.
	byBox := map[string]map[string]*edgev2alpha1.WrappedObject{}
	for _, ref := range objects {
		wrappers := &edgev2alpha1.WrappedObjectList{}
		if err := espw.GetClient().List(ctx, wrappers, client.MatchingFields{indexSource: ref.String()}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, nil, nil, 0, fmt.Errorf("listing the wrappers of %s: %w", ref, err)
		}
		for i := range wrappers.Items {
			w := &wrappers.Items[i]
			if byBox[w.Namespace] == nil {
				byBox[w.Namespace] = map[string]*edgev2alpha1.WrappedObject{}
			}
			byBox[w.Namespace][ref.String()] = w
		}
	}
	for _, dest := range dests {
		box := mailbox.Name(dest.Cluster, dest.SyncTargetUID)
		bySource := byBox[box]
		syncer, err := mailbox.SyncerStatus(ctx, espw.GetClient(), box)
		if err != nil {
			return nil, nil, nil, 0, err
		}
		var heartbeat *metav1.Time
		stale := false
		if syncer != nil {
			var left time.Duration
			heartbeat = syncer.LastSyncerHeartbeatTime
			stale, left = mailbox.Silent(syncer, time.Now())
			if !stale && heartbeat != nil {
				next = min(next, left+time.Second)
			}
		}
		counts := edgev2alpha1.ObjectCounts{Selected: int32(len(objects))}
		for _, ref := range objects {
			w, ok := bySource[ref.String()]
			if !ok || !w.DeletionTimestamp.IsZero() {
				continue
			}
			counts.Delivered++
			found, err := conflictsOf(ctx, espw, ref, w, dest)
			if err != nil {
				return nil, nil, nil, 0, err
			}
			conflicts = append(conflicts, found...)
			if stale {
				counts.Stale++
				continue
			}
			switch StateOf(ref.GroupResource, w) {
			case StateApplied:
				counts.Applied++
			case StateAvailable:
				counts.Applied++
				counts.Available++
			case StateFailed:
				counts.Failed++
			}
		}
		summary.Selected += counts.Selected
		summary.Delivered += counts.Delivered
		summary.Applied += counts.Applied
		summary.Available += counts.Available
		summary.Failed += counts.Failed
		summary.Stale += counts.Stale
		if len(out) < edgev2alpha1.MaxDestinationStatuses {
			out = append(out, edgev2alpha1.DestinationStatus{Cluster: dest.Cluster, SyncTargetName: dest.SyncTargetName,
				ObjectCounts: counts, LastSyncerHeartbeatTime: heartbeat})
		}
	}
	return summary, out, conflicts, next, nil
}

// conflictsOf says what the object that w carries meets at its destination: the wrappers of
// other spaces carrying it there with other content (the one that takes precedence is
// applied), or an object of the cluster's own.
func conflictsOf(ctx context.Context, espw *multicluster.Cluster, ref wrapper.ObjectRef, w *edgev2alpha1.WrappedObject, dest edgev2alpha1.SinglePlacement) ([]string, error) {
	what := fmt.Sprintf("%s %s at %s", ref.GroupResource, refName(ref), dest.SyncTargetName)
	var out []string
	if c := meta.FindStatusCondition(w.Status.Conditions, wrapper.ConditionSynced); c != nil && c.Reason == wrapper.ReasonNotOurs {
		out = append(out, what+": the cluster has it already, not made by KubeStellar, and keeps it as it is")
	}
	rivals := &edgev2alpha1.WrappedObjectList{}
	if err := espw.GetClient().List(ctx, rivals, client.MatchingFields{indexIdentity: identityKey(w.Namespace, ref)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the wrappers of %s: %w", what, err)
	}
	for i := range rivals.Items {
		r := &rivals.Items[i]
		if r.Name == w.Name || !r.DeletionTimestamp.IsZero() || wrapper.SameContent(w, r) {
			continue
		}
		winner := w
		if wrapper.TakesPrecedence(r, w) {
			winner = r
		}
		out = append(out, fmt.Sprintf("%s: %s sends it there too, with other content; %s takes precedence", what, wrapper.ClaimOf(r), wrapper.ClaimOf(winner)))
	}
	return out, nil
}

func refName(ref wrapper.ObjectRef) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}

// ConditionConflict says, on a placement, whether its objects meet, at a destination,
// other placements' different content or objects of the cluster's own.
const ConditionConflict = "Conflict"

// maxConflictsShown bounds the conflicts a Conflict condition names.
const maxConflictsShown = 5

// conflictCondition is the placement's Conflict condition for the conflicts found.
func conflictCondition(ep *edgev2alpha1.EdgePlacement, conflicts []string) metav1.Condition {
	cond := metav1.Condition{Type: ConditionConflict, Status: metav1.ConditionFalse, Reason: "NoConflict",
		Message: "no other placement sends these objects to these destinations with other content", ObservedGeneration: ep.Generation}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		shown := conflicts[:min(len(conflicts), maxConflictsShown)]
		cond.Status, cond.Reason = metav1.ConditionTrue, ConditionConflict
		cond.Message = strings.Join(shown, "; ")
		if more := len(conflicts) - len(shown); more > 0 {
			cond.Message += fmt.Sprintf("; and %d more", more)
		}
	}
	cond.LastTransitionTime = metav1.Now()
	if old := meta.FindStatusCondition(ep.Status.Conditions, ConditionConflict); old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	return cond
}

// State is how far one object got at one destination.
type State string

// The states of an object at a destination, from its wrapper there.
const (
	// StatePending: the wrapper is there, the syncer has not applied its current version yet.
	StatePending State = "Pending"
	// StateApplied: the syncer applied the object as wrapped.
	StateApplied State = "Applied"
	// StateAvailable: applied, and its kind's status says it is available.
	StateAvailable State = "Available"
	// StateFailed: the syncer could not apply it.
	StateFailed State = "Failed"
	// StateStale: the destination's syncer has gone silent; what it last said may be out of
	// date.
	StateStale State = "Stale"
)

// StateOf reads an object's state at a destination from its wrapper there (gr is the
// object's resource).
func StateOf(gr schema.GroupResource, w *edgev2alpha1.WrappedObject) State {
	cond := meta.FindStatusCondition(w.Status.Conditions, wrapper.ConditionSynced)
	switch {
	case cond == nil:
		return StatePending
	case cond.Status == metav1.ConditionFalse && cond.Reason != wrapper.ReasonWaitingForNamespace:
		return StateFailed
	case cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != w.Generation:
		return StatePending
	case available(gr, w.Status.ReportedState):
		return StateAvailable
	}
	return StateApplied
}

// availabilityKinds are the kinds whose status says whether they are available.
var availabilityKinds = map[schema.GroupResource]bool{
	{Group: "apps", Resource: "deployments"}:  true,
	{Group: "apps", Resource: "statefulsets"}: true,
	{Group: "apps", Resource: "daemonsets"}:   true,
	{Group: "batch", Resource: "jobs"}:        true,
}

// available tells, for the kinds whose status says so, whether the object is available at
// its destination: the controller there has seen its current generation and reports it
// ready.
func available(gr schema.GroupResource, reported *edgev2alpha1.ReportedState) bool {
	if !availabilityKinds[gr] || reported == nil || reported.Status == nil || len(reported.Status.Raw) == 0 {
		return false
	}
	status := map[string]any{}
	// Numbers decode as int64, as unstructured content has them.
	if err := utiljson.Unmarshal(reported.Status.Raw, &status); err != nil {
		return false
	}
	seen := func() bool {
		g, found, err := unstructured.NestedInt64(status, "observedGeneration")
		return err == nil && found && g == reported.ObservedGeneration
	}
	num := func(field string) int64 {
		n, _, _ := unstructured.NestedInt64(status, field)
		return n
	}
	switch gr {
	case schema.GroupResource{Group: "apps", Resource: "deployments"}:
		return seen() && conditionTrue(status, "Available")
	case schema.GroupResource{Group: "apps", Resource: "statefulsets"}:
		return seen() && num("availableReplicas") == num("replicas") && num("updatedReplicas") == num("replicas")
	case schema.GroupResource{Group: "apps", Resource: "daemonsets"}:
		want := num("desiredNumberScheduled")
		return seen() && num("numberAvailable") == want && num("updatedNumberScheduled") == want
	case schema.GroupResource{Group: "batch", Resource: "jobs"}:
		return conditionTrue(status, "Complete")
	}
	return false
}

// conditionTrue reports whether status.conditions has the type with status True.
func conditionTrue(status map[string]any, condType string) bool {
	conds, _, _ := unstructured.NestedSlice(status, "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == condType && m["status"] == string(metav1.ConditionTrue) {
			return true
		}
	}
	return false
}

// sameSummary reports whether the status in hand already says what was counted; heartbeats
// count as the same until they are heartbeatRefresh apart.
func sameSummary(oldSummary *edgev2alpha1.PlacementSummary, oldDests []edgev2alpha1.DestinationStatus, summary *edgev2alpha1.PlacementSummary, dests []edgev2alpha1.DestinationStatus) bool {
	if !equality.Semantic.DeepEqual(oldSummary, summary) || len(oldDests) != len(dests) {
		return false
	}
	for i := range dests {
		a, b := oldDests[i], dests[i]
		if a.Cluster != b.Cluster || a.SyncTargetName != b.SyncTargetName || a.ObjectCounts != b.ObjectCounts {
			return false
		}
		if (a.LastSyncerHeartbeatTime == nil) != (b.LastSyncerHeartbeatTime == nil) {
			return false
		}
		if a.LastSyncerHeartbeatTime != nil && b.LastSyncerHeartbeatTime.Sub(a.LastSyncerHeartbeatTime.Time) >= heartbeatRefresh {
			return false
		}
	}
	return true
}

// applySummary writes the counts into the placement's status by server-side apply, as
// StatusFieldManager: the conditions and the other fields stay their owners'.
func applySummary(ctx context.Context, c client.Client, name string, summary *edgev2alpha1.PlacementSummary, dests []edgev2alpha1.DestinationStatus, conds []metav1.Condition) error {
	raw, err := json.Marshal(struct {
		Summary      *edgev2alpha1.PlacementSummary   `json:"summary"`
		Destinations []edgev2alpha1.DestinationStatus `json:"destinations,omitempty"`
		Conditions   []metav1.Condition               `json:"conditions"`
	}{summary, dests, conds})
	if err != nil {
		return fmt.Errorf("encoding the status of placement %s: %w", name, err)
	}
	status := map[string]any{}
	if err := json.Unmarshal(raw, &status); err != nil {
		return fmt.Errorf("encoding the status of placement %s: %w", name, err)
	}
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": edgev2alpha1.SchemeGroupVersion.String(), "kind": "EdgePlacement",
		"metadata": map[string]any{"name": name}, "status": status,
	}}
	err = c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(StatusFieldManager), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the status of placement %s: %w", name, err)
	}
	return nil
}

// statusWait is how long a placement's next status write must wait, after its last one.
func (t *Translator) statusWait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.statusWrites[key]
	if !ok {
		return 0
	}
	return statusInterval - time.Since(last)
}

func (t *Translator) rememberStatusWrite(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.statusWrites[key] = time.Now()
}

func (t *Translator) forgetStatusWrite(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.statusWrites, key)
}
