// Package where resolves EdgePlacements to destinations: for every EdgePlacement in every
// space, the Locations (in any space) that match any of its locationSelectors, then the
// SyncTargets in each such Location's space that match the Location's instanceSelector. The
// result goes into the SinglePlacementSlice of the same name, owned by the placement.
package where

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// ConditionResolved says whether a placement's location selectors could be evaluated.
const ConditionResolved = "Resolved"

// Reasons of the Resolved condition.
const (
	ReasonResolved        = "Resolved"
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonNoLocationMatched says the selectors are valid but match no Location; the
	// message names the first few Locations and why each is not chosen.
	ReasonNoLocationMatched = "NoLocationMatched"
)

// Options configure the where-resolver.
type Options struct {
	// Concurrency is the number of placements resolved at once.
	Concurrency int
}

// Setup adds the where-resolver to mgr.
func Setup(mgr *multicluster.Manager, opts Options) (*multicluster.Controller, error) {
	r := &resolver{mgr: mgr}
	c, err := multicluster.NewController("where-resolver", r, multicluster.ControllerOptions{Concurrency: opts.Concurrency})
	if err != nil {
		return nil, err
	}
	// Only the spec matters; status updates (our own) are not a reason to resolve again.
	if err := c.Watch(&edgev2alpha1.EdgePlacement{}, multicluster.Predicates(predicate.GenerationChangedPredicate{})); err != nil {
		return nil, err
	}
	// A slice changed by someone else is put right.
	if err := c.Watch(&edgev2alpha1.SinglePlacementSlice{}); err != nil {
		return nil, err
	}
	// Any Location or SyncTarget may matter to any placement, but only through its spec and
	// labels: SyncTargets get a status write (heartbeat, Ready) every minute or so each, and
	// with many of them that would resolve every placement again many times a second.
	matters := multicluster.Predicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))
	for _, obj := range []client.Object{&edgev2alpha1.Location{}, &edgev2alpha1.SyncTarget{}} {
		if err := c.Watch(obj, multicluster.MapTo(r.allPlacements), matters); err != nil {
			return nil, err
		}
	}
	mgr.AddController(c)
	return c, nil
}

type resolver struct {
	mgr *multicluster.Manager
}

func (r *resolver) allPlacements(ctx context.Context, _ *multicluster.Cluster, _ client.Object) []multicluster.Request {
	var out []multicluster.Request
	for _, cl := range r.mgr.Clusters() {
		if served, err := cl.Serves(&edgev2alpha1.EdgePlacement{}); !served || err != nil {
			continue
		}
		list := &edgev2alpha1.EdgePlacementList{}
		if err := cl.GetClient().List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		for _, ep := range list.Items {
			out = append(out, multicluster.Request{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: ep.Name}})
		}
	}
	return out
}

// Reconcile resolves the placement req.Name in the space req.Cluster.
func (r *resolver) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	wmw, ok := r.mgr.Cluster(req.Cluster)
	if !ok {
		return reconcile.Result{}, nil // the space is gone, and its placements with it
	}
	logger := klog.FromContext(ctx).WithValues("space", wmw.Path, "placement", req.Name)
	ep := &edgev2alpha1.EdgePlacement{}
	if err := wmw.GetClient().Get(ctx, req.NamespacedName, ep); err != nil {
		// A deleted placement's slice goes with it, by its owner reference.
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ep.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}

	selectors, err := parseSelectors(ep.Spec.LocationSelectors)
	if err != nil {
		// The slice keeps what it had: nothing is taken away because of a typo.
		logger.V(2).Info("Invalid location selector", "err", err)
		return reconcile.Result{}, r.setStatus(ctx, wmw, ep, ep.Status.MatchingLocationCount, metav1.Condition{
			Type: ConditionResolved, Status: metav1.ConditionFalse, Reason: ReasonInvalidSelector, Message: err.Error(),
		})
	}

	var previous *edgev2alpha1.SinglePlacementSlice
	slice := &edgev2alpha1.SinglePlacementSlice{}
	if err := wmw.GetClient().Get(ctx, types.NamespacedName{Name: ep.Name}, slice); err == nil {
		previous = slice
	} else if !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	destinations, locationCount, unknown := r.resolve(ctx, selectors, previous)
	if err := r.writeSlice(ctx, wmw, ep, previous, destinations); err != nil {
		return reconcile.Result{}, err
	}
	if unknown != nil {
		// What could be read is written; the rest is tried again with backoff.
		return reconcile.Result{}, fmt.Errorf("placement %s is resolved only in part: %w", ep.Name, unknown)
	}
	if locationCount == 0 {
		msg, err := r.noMatchMessage(ctx, selectors)
		if err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, r.setStatus(ctx, wmw, ep, 0, metav1.Condition{
			Type: ConditionResolved, Status: metav1.ConditionFalse, Reason: ReasonNoLocationMatched, Message: msg,
		})
	}
	return reconcile.Result{}, r.setStatus(ctx, wmw, ep, locationCount, metav1.Condition{
		Type: ConditionResolved, Status: metav1.ConditionTrue, Reason: ReasonResolved,
		Message: fmt.Sprintf("%d matching locations, %d destinations", locationCount, len(destinations)),
	})
}

// resolve finds the destinations chosen by the selectors, and the number of Locations matched.
// Each space is resolved on its own. One that cannot be read (it does not answer, or whether
// it serves the inventory kinds is not known yet) keeps the destinations the previous slice
// had there, and is named in the error. One that does not serve those kinds keeps them too,
// without an error (when they are served again their watches bring the placements back
// here): only what is seen gone is taken away.
func (r *resolver) resolve(ctx context.Context, selectors LocationSelectors, previous *edgev2alpha1.SinglePlacementSlice) ([]edgev2alpha1.SinglePlacement, int32, error) {
	var destinations []edgev2alpha1.SinglePlacement
	var locationCount int32
	var unknown []error
	for _, cl := range r.mgr.Clusters() {
		served, err := cl.ServesAll(&edgev2alpha1.Location{}, &edgev2alpha1.SyncTarget{})
		var found []edgev2alpha1.SinglePlacement
		var count int32
		if err == nil && served {
			found, count, err = resolveIn(ctx, cl, selectors)
		}
		if err != nil || !served {
			kept := destinationsIn(previous, cl.Name)
			destinations = append(destinations, kept...)
			locationCount += int32(len(locationsOf(kept)))
			if err != nil {
				unknown = append(unknown, err)
			}
			continue
		}
		destinations = append(destinations, found...)
		locationCount += count
	}
	slices.SortFunc(destinations, func(a, b edgev2alpha1.SinglePlacement) int {
		return strings.Compare(a.Cluster+"/"+a.LocationName+"/"+a.SyncTargetName, b.Cluster+"/"+b.LocationName+"/"+b.SyncTargetName)
	})
	return destinations, locationCount, errors.Join(unknown...)
}

// resolveIn finds the destinations the selectors choose in one space.
func resolveIn(ctx context.Context, cl *multicluster.Cluster, selectors LocationSelectors) ([]edgev2alpha1.SinglePlacement, int32, error) {
	var destinations []edgev2alpha1.SinglePlacement
	var locationCount int32
	// Read only: the cache's own objects are not copied.
	locations := &edgev2alpha1.LocationList{}
	if err := cl.GetClient().List(ctx, locations, client.UnsafeDisableDeepCopy); err != nil {
		return nil, 0, fmt.Errorf("listing locations in %s: %w", cl.Path, err)
	}
	var index *targetIndex
	for i := range locations.Items {
		loc := &locations.Items[i]
		if !matchesAny(selectors, loc.Labels) {
			continue
		}
		locationCount++
		instances, err := CompileLabelSelector(loc.Spec.InstanceSelector)
		if err != nil {
			continue // a Location with a broken selector names no SyncTargets
		}
		if index == nil {
			targets := &edgev2alpha1.SyncTargetList{}
			if err := cl.GetClient().List(ctx, targets, client.UnsafeDisableDeepCopy); err != nil {
				return nil, 0, fmt.Errorf("listing sync targets in %s: %w", cl.Path, err)
			}
			index = newTargetIndex(targets.Items)
		}
		for _, st := range index.matching(instances.Selector()) {
			destinations = append(destinations, edgev2alpha1.SinglePlacement{
				Cluster: cl.Name, LocationName: loc.Name, SyncTargetName: st.Name, SyncTargetUID: st.UID,
			})
		}
	}
	return destinations, locationCount, nil
}

// destinationsIn returns the destinations of the slice in the space with the given ID.
func destinationsIn(slice *edgev2alpha1.SinglePlacementSlice, spaceID string) []edgev2alpha1.SinglePlacement {
	if slice == nil {
		return nil
	}
	var out []edgev2alpha1.SinglePlacement
	for _, d := range slice.Destinations {
		if d.Cluster == spaceID {
			out = append(out, d)
		}
	}
	return out
}

func locationsOf(destinations []edgev2alpha1.SinglePlacement) map[string]bool {
	out := map[string]bool{}
	for _, d := range destinations {
		out[d.LocationName] = true
	}
	return out
}

// writeSlice makes the placement's slice (current, nil when there is none) hold destinations.
func (r *resolver) writeSlice(ctx context.Context, wmw *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement, current *edgev2alpha1.SinglePlacementSlice, destinations []edgev2alpha1.SinglePlacement) error {
	owner := metav1.OwnerReference{
		APIVersion: edgev2alpha1.SchemeGroupVersion.String(), Kind: "EdgePlacement",
		Name: ep.Name, UID: ep.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
	if current == nil {
		slice := &edgev2alpha1.SinglePlacementSlice{
			ObjectMeta:   metav1.ObjectMeta{Name: ep.Name, OwnerReferences: []metav1.OwnerReference{owner}},
			Destinations: destinations,
		}
		if err := wmw.GetClient().Create(ctx, slice); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating slice %s: %w", ep.Name, err)
		}
		return nil
	}
	if equality.Semantic.DeepEqual(current.Destinations, destinations) && slices.ContainsFunc(current.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == ep.UID }) {
		return nil
	}
	// A merge patch of what is computed here, not an update: no conflicts with a stale cache.
	before := current.DeepCopy()
	slice := current.DeepCopy()
	slice.Destinations = destinations
	slice.OwnerReferences = []metav1.OwnerReference{owner}
	if err := wmw.GetClient().Patch(ctx, slice, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("updating slice %s: %w", ep.Name, err)
	}
	return nil
}

// FieldManager owns, by server-side apply, what the where-resolver writes.
const FieldManager = "kubestellar-where-resolver"

// setStatus applies the where-resolver's part of the placement's status (the translator owns
// other conditions there, so nothing else is touched).
func (r *resolver) setStatus(ctx context.Context, wmw *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement, count int32, cond metav1.Condition) error {
	cond.ObservedGeneration = ep.Generation
	if old := meta.FindStatusCondition(ep.Status.Conditions, cond.Type); old != nil &&
		old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message && old.ObservedGeneration == cond.ObservedGeneration &&
		ep.Status.MatchingLocationCount == count && ep.Status.ObservedGeneration == ep.Generation {
		return nil
	}
	old := meta.FindStatusCondition(ep.Status.Conditions, cond.Type)
	if err := ApplyPlacementStatus(ctx, wmw.GetClient(), ep, FieldManager, map[string]any{
		"matchingLocationCount": int64(count),
		"observedGeneration":    ep.Generation,
	}, cond); err != nil {
		return err
	}
	RecordTransition(wmw.GetEventRecorder(FieldManager), ep, old, cond, "Resolve")
	return nil
}

// RecordTransition records an Event on the placement when its condition cond, which was old
// (nil when absent), says something new a user must know: a Warning each time it is False
// with a new reason or message, a Normal one when it becomes True.
func RecordTransition(recorder events.EventRecorder, ep *edgev2alpha1.EdgePlacement, old *metav1.Condition, cond metav1.Condition, action string) {
	switch {
	case cond.Status == metav1.ConditionFalse && (old == nil || old.Status != cond.Status || old.Reason != cond.Reason || old.Message != cond.Message):
		recorder.Eventf(ep, nil, corev1.EventTypeWarning, cond.Reason, action, "%s", cond.Message)
	case cond.Status == metav1.ConditionTrue && (old == nil || old.Status != metav1.ConditionTrue):
		recorder.Eventf(ep, nil, corev1.EventTypeNormal, cond.Reason, action, "%s", cond.Message)
	}
}

// ApplyPlacementStatus applies, as fieldManager, the given status fields and one condition
// of a placement, leaving every other field and condition to its owner.
func ApplyPlacementStatus(ctx context.Context, c client.Client, ep *edgev2alpha1.EdgePlacement, fieldManager string, fields map[string]any, cond metav1.Condition) error {
	if old := meta.FindStatusCondition(ep.Status.Conditions, cond.Type); old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	} else {
		cond.LastTransitionTime = metav1.Now()
	}
	status := map[string]any{"conditions": []any{map[string]any{
		"type": cond.Type, "status": string(cond.Status), "reason": cond.Reason, "message": cond.Message,
		"observedGeneration": cond.ObservedGeneration, "lastTransitionTime": cond.LastTransitionTime.UTC().Format(time.RFC3339),
	}}}
	for k, v := range fields {
		status[k] = v
	}
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": edgev2alpha1.SchemeGroupVersion.String(), "kind": "EdgePlacement",
		"metadata": map[string]any{"name": ep.Name}, "status": status,
	}}
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("updating the status of placement %s: %w", ep.Name, err)
	}
	return nil
}

// parseSelectors compiles a placement's locationSelectors, naming every invalid one.
func parseSelectors(in []metav1.LabelSelector) (LocationSelectors, error) {
	return CompileLocationSelectors(in)
}

// matchesAny reports whether any of the selectors matches the labels.
func matchesAny(selectors LocationSelectors, l map[string]string) bool {
	return selectors.Matches(l)
}

// Bounds of the NoLocationMatched message: a few Locations say enough, and a condition
// message must stay short.
const (
	noMatchExamples   = 3
	noMatchMessageMax = 1024
)

// noMatchMessage says why the selectors match no Location: the first few Locations (by space
// path, then name) with the selector terms that fail them.
func (r *resolver) noMatchMessage(ctx context.Context, selectors LocationSelectors) (string, error) {
	if len(selectors) == 0 {
		return "spec.locationSelectors is empty, which selects no Location", nil
	}
	clusters := r.mgr.Clusters()
	slices.SortFunc(clusters, func(a, b *multicluster.Cluster) int { return strings.Compare(a.Path, b.Path) })
	var examples []string
	total := 0
	for _, cl := range clusters {
		if served, err := cl.Serves(&edgev2alpha1.Location{}); !served || err != nil {
			continue
		}
		locations := &edgev2alpha1.LocationList{}
		if err := cl.GetClient().List(ctx, locations, client.UnsafeDisableDeepCopy); err != nil {
			return "", fmt.Errorf("listing locations in %s: %w", cl.Path, err)
		}
		slices.SortFunc(locations.Items, func(a, b edgev2alpha1.Location) int { return strings.Compare(a.Name, b.Name) })
		for i := range locations.Items {
			total++
			if len(examples) < noMatchExamples {
				loc := &locations.Items[i]
				examples = append(examples, fmt.Sprintf("location %q in %s: %s", loc.Name, cl.Path, selectors.NotSelectedReason(loc.Labels)))
			}
		}
	}
	if total == 0 {
		return "no Location exists in any inventory space", nil
	}
	msg := fmt.Sprintf("no Location matches (%d looked at): %s", total, strings.Join(examples, "; "))
	if more := total - len(examples); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	if len(msg) > noMatchMessageMax {
		msg = msg[:noMatchMessageMax-3] + "..."
	}
	return msg, nil
}
