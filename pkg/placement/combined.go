package placement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/combinedstatus"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// CombinedFieldManager owns the CombinedStatus objects.
const CombinedFieldManager = "kubestellar-combined-status"

// ConditionStatusCollected says, on a placement that names StatusCollectors, whether all of
// them exist and are valid.
const ConditionStatusCollected = "StatusCollected"

// Reasons of the StatusCollected condition.
const (
	ReasonCollected         = "Collected"
	ReasonCollectorNotFound = "CollectorNotFound"
	ReasonCollectorInvalid  = "CollectorInvalid"
)

const (
	// maxCombinedDestinations bounds the destinations evaluated per object.
	maxCombinedDestinations = 1000
	// combinedRetry is how soon a placement is looked at again when a CombinedStatus could
	// not be told stale yet.
	combinedRetry = 2 * time.Second
)

// combinedPlan is what a placement's CombinedStatus objects need.
type combinedPlan struct {
	// cond is the StatusCollected condition; nil for a placement naming no collectors.
	cond *metav1.Condition
	// apply are the CombinedStatus objects to write, as they should be.
	apply []*edgev2alpha1.CombinedStatus
	// remove are the names of the CombinedStatus objects to delete.
	remove []string
	// retry says that some CombinedStatus could not be told stale or not yet.
	retry bool
}

// changes reports whether the plan writes anything, the placement's condition aside.
func (p *combinedPlan) changes() bool { return len(p.apply) > 0 || len(p.remove) > 0 }

// sameCondition reports whether the placement already has the plan's condition.
func (p *combinedPlan) sameCondition(ep *edgev2alpha1.EdgePlacement) bool {
	old := meta.FindStatusCondition(ep.Status.Conditions, ConditionStatusCollected)
	if p.cond == nil || old == nil {
		return p.cond == nil && old == nil
	}
	return old.Status == p.cond.Status && old.Reason == p.cond.Reason && old.Message == p.cond.Message &&
		old.ObservedGeneration == p.cond.ObservedGeneration
}

type namedCollector struct {
	name      string
	collector *combinedstatus.Collector
}

// planCombined works out, for a placement, the CombinedStatus of each selected object and the
// StatusCollected condition. Nothing is planned for removal unless it is known to be stale:
// whatever cannot be told yet sets retry instead.
func (t *Translator) planCombined(ctx context.Context, space, espw *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement, destinations []edgev2alpha1.SinglePlacement) (*combinedPlan, error) {
	plan := &combinedPlan{}
	served, err := space.ServesAll(&edgev2alpha1.StatusCollector{}, &edgev2alpha1.CombinedStatus{})
	if err != nil {
		return nil, err
	}
	if !served {
		if len(ep.Spec.StatusCollectors) > 0 {
			plan.cond = collectedCondition(ep, metav1.ConditionFalse, ReasonCollectorNotFound,
				fmt.Sprintf("the space does not serve StatusCollectors; install the KubeStellar API into it again to collect with %s",
					strings.Join(ep.Spec.StatusCollectors, ", ")))
		}
		return plan, nil
	}
	existing := &edgev2alpha1.CombinedStatusList{}
	if err := space.GetClient().List(ctx, existing, client.MatchingLabels{edgev2alpha1.LabelCombinedStatusPlacement: ep.Name}); err != nil {
		return nil, fmt.Errorf("listing the combined statuses of placement %s: %w", ep.Name, err)
	}
	if len(ep.Spec.StatusCollectors) == 0 {
		for i := range existing.Items {
			plan.remove = append(plan.remove, existing.Items[i].Name)
		}
		return plan, nil
	}

	collectors, cond, err := t.placementCollectors(ctx, space, ep)
	if err != nil {
		return nil, err
	}
	plan.cond = cond
	if len(collectors) == 0 {
		// Every collector named is missing or invalid: there is nothing to combine with.
		for i := range existing.Items {
			plan.remove = append(plan.remove, existing.Items[i].Name)
		}
		return plan, nil
	}
	if !t.watchesReady(space.Name) {
		// What the placement selects is not known yet.
		plan.retry = true
		return plan, nil
	}
	dests := sortedDestinations(destinations)
	reportsFor := func(byBox map[string]*edgev2alpha1.WrappedObject) ([]combinedstatus.Report, error) {
		out := make([]combinedstatus.Report, 0, min(len(dests), maxCombinedDestinations))
		for _, dest := range dests[:min(len(dests), maxCombinedDestinations)] {
			r := combinedstatus.Report{Destination: combinedstatus.Destination{
				Name: dest.SyncTargetName, Space: t.spacePath(dest.Cluster), Location: dest.LocationName}}
			if w := byBox[mailbox.Name(dest.Cluster, dest.SyncTargetUID)]; w != nil && w.Status.ReportedState != nil &&
				w.Status.ReportedState.Status != nil && len(w.Status.ReportedState.Status.Raw) > 0 {
				status := map[string]any{}
				// Numbers decode as int64 where they are integers, as CEL wants them.
				if err := utiljson.Unmarshal(w.Status.ReportedState.Status.Raw, &status); err != nil {
					return nil, fmt.Errorf("decoding the reported state of wrapper %s/%s: %w", w.Namespace, w.Name, err)
				}
				r.Status = status
			}
			out = append(out, r)
		}
		return out, nil
	}

	byName := make(map[string]*edgev2alpha1.CombinedStatus, len(existing.Items))
	for i := range existing.Items {
		byName[existing.Items[i].Name] = &existing.Items[i]
	}
	desired := map[string]bool{}
	for _, ref := range t.selectedBy(space.Name, ep.Name) {
		obj, err := t.getObject(ctx, space, ref)
		if err != nil {
			return nil, err
		}
		if obj == nil {
			continue
		}
		wrappers := &edgev2alpha1.WrappedObjectList{}
		if err := espw.GetClient().List(ctx, wrappers, client.MatchingFields{indexSource: ref.String()}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing the wrappers of %s: %w", ref, err)
		}
		byBox := make(map[string]*edgev2alpha1.WrappedObject, len(wrappers.Items))
		for i := range wrappers.Items {
			if wrappers.Items[i].DeletionTimestamp.IsZero() {
				byBox[wrappers.Items[i].Namespace] = &wrappers.Items[i]
			}
		}
		reports, err := reportsFor(byBox)
		if err != nil {
			return nil, err
		}
		cs, err := combinedStatusFor(ctx, ep.Name, ref, obj, collectors, reports, len(dests))
		if err != nil {
			return nil, err
		}
		desired[cs.Name] = true
		if old := byName[cs.Name]; old == nil || !sameCombined(old, cs) {
			plan.apply = append(plan.apply, cs)
		}
	}
	for i := range existing.Items {
		old := &existing.Items[i]
		if desired[old.Name] {
			continue
		}
		stale, err := t.combinedStale(ctx, space, ep, old)
		if err != nil || !stale {
			plan.retry = true
			continue
		}
		plan.remove = append(plan.remove, old.Name)
	}
	return plan, nil
}

// placementCollectors compiles the collectors a placement names, and says in the condition
// which of them are missing or invalid; those are left out.
func (t *Translator) placementCollectors(ctx context.Context, space *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement) ([]namedCollector, *metav1.Condition, error) {
	var out []namedCollector
	var missing, invalid []string
	for _, name := range ep.Spec.StatusCollectors {
		sc := &edgev2alpha1.StatusCollector{}
		if err := space.GetClient().Get(ctx, types.NamespacedName{Name: name}, sc); err != nil {
			if apierrors.IsNotFound(err) {
				t.collectors.Forget(space.Name, name)
				missing = append(missing, name)
				continue
			}
			return nil, nil, fmt.Errorf("reading StatusCollector %s: %w", name, err)
		}
		col, errs := t.collectors.Get(space.Name, sc)
		if len(errs) > 0 {
			invalid = append(invalid, fmt.Sprintf("%s: %v", name, errs.ToAggregate()))
			continue
		}
		out = append(out, namedCollector{name: name, collector: col})
	}
	var cond metav1.Condition
	switch {
	case len(missing) > 0:
		msg := fmt.Sprintf("no StatusCollector %s in this space (list them with: kubectl get statuscollectors)", strings.Join(missing, ", "))
		if len(invalid) > 0 {
			msg += "; invalid: " + strings.Join(invalid, "; ")
		}
		cond = *collectedCondition(ep, metav1.ConditionFalse, ReasonCollectorNotFound, msg)
	case len(invalid) > 0:
		cond = *collectedCondition(ep, metav1.ConditionFalse, ReasonCollectorInvalid, "invalid StatusCollector "+strings.Join(invalid, "; "))
	default:
		cond = *collectedCondition(ep, metav1.ConditionTrue, ReasonCollected,
			fmt.Sprintf("every selected object has a CombinedStatus from %s (list them with: kubectl get combinedstatuses -l %s=%s)",
				strings.Join(ep.Spec.StatusCollectors, ", "), edgev2alpha1.LabelCombinedStatusPlacement, ep.Name))
	}
	if len(cond.Message) > 4000 {
		cond.Message = cond.Message[:4000] + " ..."
	}
	return out, &cond, nil
}

func collectedCondition(ep *edgev2alpha1.EdgePlacement, status metav1.ConditionStatus, reason, msg string) *metav1.Condition {
	cond := &metav1.Condition{Type: ConditionStatusCollected, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: ep.Generation, LastTransitionTime: metav1.Now()}
	if old := meta.FindStatusCondition(ep.Status.Conditions, ConditionStatusCollected); old != nil && old.Status == status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	return cond
}

// combinedStale reports whether a CombinedStatus of the placement that no selected object
// needs is known to be stale: its object is gone or was made again, or the placement's
// downsync tests do not select it. An object that they select, but whose selection the
// translator has not worked out yet, is not known stale.
func (t *Translator) combinedStale(ctx context.Context, space *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement, cs *edgev2alpha1.CombinedStatus) (bool, error) {
	ref := wrapper.ObjectRef{Space: space.Name, GroupResource: schema.GroupResource{Group: cs.Object.Group, Resource: cs.Object.Resource},
		Namespace: cs.Object.Namespace, Name: cs.Object.Name}
	obj, err := t.getObject(ctx, space, ref)
	if err != nil {
		return false, err
	}
	if obj == nil || string(obj.GetUID()) != cs.Object.UID {
		return true, nil
	}
	candidate, err := t.candidate(ctx, space, ref, obj)
	if err != nil {
		return false, err
	}
	return !Selects(ep.Spec.Downsync, candidate), nil
}

// combinedStatusFor evaluates the collectors for one object.
func combinedStatusFor(ctx context.Context, placement string, ref wrapper.ObjectRef, obj *unstructured.Unstructured, collectors []namedCollector, reports []combinedstatus.Report, destinations int) (*edgev2alpha1.CombinedStatus, error) {
	gvk := obj.GroupVersionKind()
	uid := string(obj.GetUID())
	cs := &edgev2alpha1.CombinedStatus{
		TypeMeta: metav1.TypeMeta{APIVersion: edgev2alpha1.SchemeGroupVersion.String(), Kind: "CombinedStatus"},
		ObjectMeta: metav1.ObjectMeta{Name: CombinedStatusName(uid, placement), Labels: map[string]string{
			edgev2alpha1.LabelCombinedStatusPlacement: placement, edgev2alpha1.LabelCombinedStatusObjectUID: uid}},
		Object: edgev2alpha1.CombinedStatusObject{Group: ref.Group, Version: gvk.Version, Resource: ref.Resource, Kind: gvk.Kind,
			Namespace: ref.Namespace, Name: ref.Name, UID: uid},
		Placement:    placement,
		Destinations: int32(destinations),
	}
	for _, nc := range collectors {
		res := nc.collector.Evaluate(ctx, obj.Object, reports)
		rows, err := combinedstatus.JSONRows(res.Rows)
		if err != nil {
			return nil, fmt.Errorf("collector %s on %s: %w", nc.name, ref, err)
		}
		errs := res.Errors
		if destinations > len(reports) {
			errs = append([]string{fmt.Sprintf("only the first %d of %d destinations were evaluated", len(reports), destinations)}, errs...)
		}
		cs.Results = append(cs.Results, edgev2alpha1.CollectorResult{Name: nc.name, Counted: int32(res.Counted),
			ColumnNames: res.ColumnNames, Rows: rows, Errors: errs[:min(len(errs), combinedstatus.MaxErrors)]})
	}
	return cs, nil
}

// CombinedStatusName is the name of the CombinedStatus of the object with the UID, made by the
// placement: "<uid>.<placement>", with the placement's name cut short and a hash of it added
// when that would be longer than a name may be.
func CombinedStatusName(uid, placement string) string {
	const maxName = 253
	name := uid + "." + placement
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(placement))
	hash := hex.EncodeToString(sum[:])[:10]
	keep := strings.TrimRight(placement[:maxName-len(uid)-1-len(hash)-1], ".-")
	return uid + "." + keep + "-" + hash
}

// sameCombined reports whether what exists already says what was computed (the update time
// aside).
func sameCombined(old, want *edgev2alpha1.CombinedStatus) bool {
	for k, v := range want.Labels {
		if old.Labels[k] != v {
			return false
		}
	}
	type content struct {
		Object       edgev2alpha1.CombinedStatusObject `json:"object"`
		Placement    string                            `json:"placement"`
		Destinations int32                             `json:"destinations"`
		Results      []edgev2alpha1.CollectorResult    `json:"results"`
	}
	normal := func(cs *edgev2alpha1.CombinedStatus) any {
		data, err := json.Marshal(content{cs.Object, cs.Placement, cs.Destinations, cs.Results})
		if err != nil {
			return err.Error()
		}
		var out any
		if err := json.Unmarshal(data, &out); err != nil {
			return err.Error()
		}
		return out
	}
	return reflect.DeepEqual(normal(old), normal(want))
}

// writeCombined carries out the plan: server-side apply of what changed, deletion of what is
// stale.
func writeCombined(ctx context.Context, c client.Client, plan *combinedPlan) error {
	now := metav1.Now()
	for _, cs := range plan.apply {
		cs.LastUpdateTime = &now
		data, err := json.Marshal(cs)
		if err != nil {
			return fmt.Errorf("encoding CombinedStatus %s: %w", cs.Name, err)
		}
		content := map[string]any{}
		if err := json.Unmarshal(data, &content); err != nil {
			return fmt.Errorf("encoding CombinedStatus %s: %w", cs.Name, err)
		}
		u := &unstructured.Unstructured{Object: content}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(CombinedFieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("writing CombinedStatus %s: %w", cs.Name, err)
		}
	}
	for _, name := range plan.remove {
		cs := &edgev2alpha1.CombinedStatus{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Delete(ctx, cs); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting CombinedStatus %s: %w", name, err)
		}
	}
	return nil
}

// removeCombinedOf deletes the CombinedStatus objects of a placement that is gone.
func removeCombinedOf(ctx context.Context, space *multicluster.Cluster, placement string) error {
	served, err := space.Serves(&edgev2alpha1.CombinedStatus{})
	if err != nil || !served {
		return err
	}
	list := &edgev2alpha1.CombinedStatusList{}
	if err := space.GetClient().List(ctx, list, client.MatchingLabels{edgev2alpha1.LabelCombinedStatusPlacement: placement}); err != nil {
		return fmt.Errorf("listing the combined statuses of placement %s: %w", placement, err)
	}
	plan := &combinedPlan{}
	for i := range list.Items {
		plan.remove = append(plan.remove, list.Items[i].Name)
	}
	return writeCombined(ctx, space.GetClient(), plan)
}

// placementsNamingCollector maps a StatusCollector to the placements of its space that name
// it.
func (t *Translator) placementsNamingCollector(ctx context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
	if served, err := cl.Serves(&edgev2alpha1.EdgePlacement{}); !served || err != nil {
		return nil
	}
	list := &edgev2alpha1.EdgePlacementList{}
	if err := cl.GetClient().List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []multicluster.Request
	for _, ep := range list.Items {
		for _, name := range ep.Spec.StatusCollectors {
			if name == o.GetName() {
				out = append(out, multicluster.Request{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: ep.Name}})
				break
			}
		}
	}
	return out
}

// placementOfCombined maps a CombinedStatus to the placement that made it, so that one
// changed or deleted by someone else is made right again.
func placementOfCombined(_ context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
	name := o.GetLabels()[edgev2alpha1.LabelCombinedStatusPlacement]
	if name == "" {
		return nil
	}
	return []multicluster.Request{{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: name}}}
}

// spacePath is the path of the space with the ID, or the ID when the space is not known.
func (t *Translator) spacePath(id string) string {
	if cl, ok := t.mgr.Cluster(id); ok && cl.Path != "" {
		return cl.Path
	}
	return id
}

func sortedDestinations(destinations []edgev2alpha1.SinglePlacement) []edgev2alpha1.SinglePlacement {
	dests := append([]edgev2alpha1.SinglePlacement(nil), destinations...)
	sort.Slice(dests, func(i, j int) bool {
		if dests[i].Cluster != dests[j].Cluster {
			return dests[i].Cluster < dests[j].Cluster
		}
		return dests[i].SyncTargetName < dests[j].SyncTargetName
	})
	return dests
}
