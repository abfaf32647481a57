package placement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// writeConcurrency bounds the wrapper writes one reconcile makes at once (an object may go to
// hundreds of mailboxes).
const writeConcurrency = 8

// selection is what the placements of a space make of one object.
type selection struct {
	// wrappers are the desired wrappers, by mailbox.
	wrappers map[string]*edgev2alpha1.WrappedObject
	// kept are mailboxes whose wrapper must stay as it is (its update failed to customize, or
	// would not fit).
	kept map[string]bool
	// from names, per mailbox, the placement whose claim its wrapper carries.
	from map[string]string
	// partial says that some destinations could not be told (a placement's slice is missing,
	// or the space does not serve placements now): no wrapper is taken away.
	partial bool
	// singleton is whether a selecting placement wants singleton reported state.
	singleton bool
	// problems are, per placement, what went wrong.
	problems map[string]problem
	// placements are the names of the selecting placements.
	placements []string
}

// reconcileObject makes the wrappers of one workload object match what the placements ask,
// then brings its reported state back.
func (t *Translator) reconcileObject(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	ref, ok := refOf(req)
	if !ok {
		return reconcile.Result{}, nil
	}
	espw, ok := t.mgr.ClusterByPath(t.espwPath)
	if !ok {
		return reconcile.Result{}, fmt.Errorf("the core space %s does not exist yet", t.espwPath)
	}

	var obj *unstructured.Unstructured
	sel := newSelection()
	space, known := t.mgr.Cluster(ref.Space)
	// Which placements select the object is known unless its space does not serve them now.
	selectionKnown := !known
	if known {
		served, err := space.Serves(&edgev2alpha1.EdgePlacement{})
		if err != nil {
			return reconcile.Result{}, err // cannot tell yet; nothing is taken away meanwhile
		}
		if served && !t.watchesReady(space.Name) {
			// Until the space's workload kinds are watched, what is selected (and so what a
			// namespace carries) cannot be told: find out first.
			if err := t.syncWatches(ctx, space); err != nil {
				return reconcile.Result{}, err
			}
		}
		// A space that does not serve placements now may serve them again (its CRDs are coming
		// back): what it had delivered stays until seen gone.
		sel.partial = !served
		selectionKnown = served
		if served {
			if obj, err = t.getObject(ctx, space, ref); err != nil {
				return reconcile.Result{}, err
			}
			if obj != nil {
				if sel, err = t.selectObject(ctx, space, ref, obj); err != nil {
					return reconcile.Result{}, err
				}
			}
		}
	} else {
		// The space is gone: so is what was kept for it.
		t.forgetSpace(ref.Space)
	}
	// Before the wrappers are read: a report that arrives after this brings the object back
	// here.
	t.setSingleton(ref, sel.singleton)

	existing := &edgev2alpha1.WrappedObjectList{}
	if err := espw.GetClient().List(ctx, existing, client.MatchingFields{indexSource: ref.String()}); err != nil {
		return reconcile.Result{}, err
	}
	if sel.partial {
		for i := range existing.Items {
			if _, wanted := sel.wrappers[existing.Items[i].Namespace]; !wanted {
				sel.kept[existing.Items[i].Namespace] = true
			}
		}
	}
	if err := t.writeWrappers(ctx, espw, sel, existing.Items); err != nil {
		return reconcile.Result{}, err
	}

	if selectionKnown {
		// The placements that still select the object are counted again too: a change to
		// the object that changes no wrapper (its status, say) still changes what their
		// status collectors read of it.
		t.enqueueStatus(ref.Space, append(t.setSelected(ref, sel.placements), sel.placements...))
	}
	if t.setProblems(ref, sel.problems) {
		for _, p := range sel.placements {
			t.placements.Enqueue(multicluster.Request{Cluster: ref.Space, NamespacedName: types.NamespacedName{Name: p}})
		}
	}
	if obj != nil {
		t.mirrorDrift(space, ref, obj, existing.Items)
		if err := t.reportState(ctx, space, ref, obj, sel, existing.Items); err != nil {
			return reconcile.Result{}, err
		}
	} else if selectionKnown {
		t.forgetDrifts(ref)
	}
	// Whether this object is selected decides whether its namespace travels.
	if ref.Namespace != "" && known {
		t.objects.Enqueue(requestFor(wrapper.ObjectRef{Space: ref.Space, GroupResource: namespacesGR, Name: ref.Namespace}))
	}
	return reconcile.Result{}, nil
}

// getObject reads a workload object from the space's cache (the informer of its watched kind,
// never the API server), or nil when it is gone or its kind is not watched (no placement
// selects that kind).
func (t *Translator) getObject(ctx context.Context, space *multicluster.Cluster, ref wrapper.ObjectRef) (*unstructured.Unstructured, error) {
	k, ok := t.watchedKind(ref.Space, ref.GroupResource)
	if !ok {
		return nil, nil
	}
	obj, err := t.cachedObject(ctx, space, k.gvk, ref)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if !obj.GetDeletionTimestamp().IsZero() || ExcludedObject(ref.GroupResource, obj) {
		return nil, nil
	}
	return obj, nil
}

// cachedObject reads the object from the informer whose events trigger its reconciles, so a
// reconcile never sees an older copy than the event that caused it. Namespaces are watched
// typed (they travel with what is in them), every other kind as unstructured.
func (t *Translator) cachedObject(ctx context.Context, space *multicluster.Cluster, gvk schema.GroupVersionKind, ref wrapper.ObjectRef) (*unstructured.Unstructured, error) {
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if ref.GroupResource == namespacesGR {
		ns := &corev1.Namespace{}
		if err := space.GetCache().Get(ctx, key, ns); err != nil {
			return nil, err
		}
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
		if err != nil {
			return nil, fmt.Errorf("converting namespace %s: %w", ref.Name, err)
		}
		obj := &unstructured.Unstructured{Object: content}
		obj.SetGroupVersionKind(gvk)
		return obj, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := space.GetCache().Get(ctx, key, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// selectObject works out which placements select obj and what each destination gets.
func (t *Translator) selectObject(ctx context.Context, space *multicluster.Cluster, ref wrapper.ObjectRef, obj *unstructured.Unstructured) (*selection, error) {
	sel := newSelection()
	placements := &edgev2alpha1.EdgePlacementList{}
	if err := space.GetClient().List(ctx, placements); err != nil {
		return nil, err
	}
	// The oldest placement first: a destination's wrapper carries the claim of the oldest
	// placement that sends the object there (wrapper.Precedence).
	sort.Slice(placements.Items, func(i, j int) bool {
		a, b := &placements.Items[i], &placements.Items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	candidate, err := t.candidate(ctx, space, ref, obj)
	if err != nil {
		return nil, err
	}
	stripped := wrapper.Strip(obj)
	for i := range placements.Items {
		ep := &placements.Items[i]
		if !ep.DeletionTimestamp.IsZero() {
			continue
		}
		selected := Selects(ep.Spec.Downsync, candidate)
		if !selected && ref.GroupResource == namespacesGR {
			// A namespace travels with the objects in it.
			if selected, err = t.selectsSomethingIn(ctx, space, ep, obj.GetName(), obj.GetLabels()); err != nil {
				return nil, err
			}
		}
		if !selected {
			continue
		}
		sel.placements = append(sel.placements, ep.Name)
		sel.singleton = sel.singleton || ep.Spec.WantSingletonReportedState
		slice := &edgev2alpha1.SinglePlacementSlice{}
		if err := space.GetClient().Get(ctx, types.NamespacedName{Name: ep.Name}, slice); err != nil {
			if apierrors.IsNotFound(err) {
				// Not resolved yet, or its slice is being made again: where it goes is not
				// known, so nothing is taken away meanwhile (the slice's arrival brings the
				// object back here). One whose selectors could never be resolved goes nowhere.
				sel.partial = sel.partial || !neverResolved(ep)
				continue
			}
			return nil, err
		}
		for _, dest := range slice.Destinations {
			box := mailbox.Name(dest.Cluster, dest.SyncTargetUID)
			if _, done := sel.wrappers[box]; done || sel.kept[box] {
				continue
			}
			customized, err := t.customize(ctx, space, stripped, dest)
			if err != nil {
				sel.addProblem(ep.Name, problem{Reason: ReasonCustomizationFailed,
					Message: fmt.Sprintf("%s %s for %s: %v", obj.GetKind(), objectName(obj), dest.SyncTargetName, err)})
				sel.kept[box] = true
				continue
			}
			w, err := wrapper.New(ref, customized, box, dest)
			if err != nil {
				return nil, err
			}
			w.Annotations[wrapper.AnnotationPlacement] = wrapper.PlacementName(space.Path, ep.Name)
			w.Annotations[wrapper.AnnotationPrecedence] = wrapper.Precedence(ep.CreationTimestamp, space.Path, ep.Name)
			// Refused before it is written: the server would refuse it anyway, or take it with
			// no room for the syncer's report, and a write that cannot succeed is not retried.
			if err := wrapper.CheckSize(w, "its wrapper", wrapper.MaxSpecSize); err != nil {
				var tooLarge *wrapper.TooLargeError
				if !errors.As(err, &tooLarge) {
					return nil, err
				}
				sel.addProblem(ep.Name, tooLargeProblem(w, err))
				sel.kept[box] = true
				continue
			}
			sel.wrappers[box] = w
			sel.from[box] = ep.Name
		}
	}
	return sel, nil
}

// maxProblemDestinations bounds the destinations that one object's problem names for a
// placement; the others are counted.
const maxProblemDestinations = 3

// addProblem records what went wrong, for placement, with the object at one more destination:
// the first few destinations by their messages, the rest by their number.
func (s *selection) addProblem(placement string, p problem) {
	old, ok := s.problems[placement]
	if !ok {
		p.Shown = 1
		s.problems[placement] = p
		return
	}
	if old.Reason != p.Reason {
		old.Reason = ReasonDeliveryFailed
	}
	if old.Shown < maxProblemDestinations {
		old.Message += "; " + p.Message
		old.Shown++
	} else {
		old.More++
	}
	s.problems[placement] = old
}

func newSelection() *selection {
	return &selection{wrappers: map[string]*edgev2alpha1.WrappedObject{}, kept: map[string]bool{}, from: map[string]string{}, problems: map[string]problem{}}
}

// tooLargeProblem is the problem of an object whose wrapper w does not fit: err says by how
// much, or is the server's refusal.
func tooLargeProblem(w *edgev2alpha1.WrappedObject, err error) problem {
	what := w.Annotations[wrapper.AnnotationSource]
	if obj, uerr := wrapper.Unwrap(w); uerr == nil {
		what = obj.GetKind() + " " + objectName(obj)
	}
	dest := w.Namespace
	if w.Spec.Destination != nil {
		dest = w.Spec.Destination.SyncTargetName
	}
	var tooLarge *wrapper.TooLargeError
	if !errors.As(err, &tooLarge) {
		// The server's own limit is lower than the one assumed here.
		size, serr := wrapper.Size(w)
		if serr != nil {
			size = len(w.Spec.Object.Raw)
		}
		err = fmt.Errorf("the API server refused its wrapper of %d bytes encoded as too large, under the %d bytes assumed to fit (%w)", size, wrapper.MaxSpecSize, err)
	}
	return problem{Reason: ReasonObjectTooLarge,
		Message: fmt.Sprintf("%s is not delivered to %s: %v; make the object smaller", what, dest, err)}
}

// neverResolved reports whether the where-resolver found the placement's location selectors
// invalid (it makes no slice for such a placement until they are fixed).
func neverResolved(ep *edgev2alpha1.EdgePlacement) bool {
	cond := meta.FindStatusCondition(ep.Status.Conditions, where.ConditionResolved)
	return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == where.ReasonInvalidSelector && cond.ObservedGeneration == ep.Generation
}

// candidate is obj with what the downsync tests look at.
func (t *Translator) candidate(ctx context.Context, space *multicluster.Cluster, ref wrapper.ObjectRef, obj *unstructured.Unstructured) (Candidate, error) {
	c := Candidate{GR: ref.GroupResource, Object: obj, Namespaced: ref.Namespace != ""}
	switch {
	case ref.GroupResource == namespacesGR:
		c.NamespaceLabels = obj.GetLabels()
	case ref.Namespace != "":
		ns := &corev1.Namespace{}
		if err := space.GetClient().Get(ctx, types.NamespacedName{Name: ref.Namespace}, ns); client.IgnoreNotFound(err) != nil {
			return c, err
		}
		c.NamespaceLabels = ns.Labels
	}
	return c, nil
}

// selectsSomethingIn reports whether ep selects any watched object in namespace ns, read from
// the informers of the watched kinds.
func (t *Translator) selectsSomethingIn(ctx context.Context, space *multicluster.Cluster, ep *edgev2alpha1.EdgePlacement, ns string, nsLabels map[string]string) (bool, error) {
	for gr, k := range t.watchedKinds(space.Name) {
		if !k.namespaced || !TestsCouldSelect(ep.Spec.Downsync, gr) {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := space.GetCache().List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return false, err
		}
		for i := range list.Items {
			o := &list.Items[i]
			if !ExcludedObject(gr, o) && Selects(ep.Spec.Downsync, Candidate{GR: gr, Namespaced: true, Object: o, NamespaceLabels: nsLabels}) {
				return true, nil
			}
		}
	}
	return false, nil
}

// writeWrappers creates, updates and deletes wrappers so that existing becomes sel.wrappers.
// A wrapper the server refuses for its size becomes a problem of its placement, and what was
// there stays: trying again would be refused again.
func (t *Translator) writeWrappers(ctx context.Context, espw *multicluster.Cluster, sel *selection, existing []edgev2alpha1.WrappedObject) error {
	c := espw.GetClient()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writeConcurrency)
	var mu sync.Mutex
	refused := map[string]error{}
	write := func(box string, err error) error {
		if !wrapper.IsTooLarge(err) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		refused[box] = err
		return nil
	}
	seen := map[string]bool{}
	for i := range existing {
		old := &existing[i]
		seen[old.Namespace] = true
		want, wanted := sel.wrappers[old.Namespace]
		switch {
		case sel.kept[old.Namespace]:
		case !wanted:
			g.Go(func() error { return client.IgnoreNotFound(c.Delete(gctx, old)) })
		case !sameWrapper(old, want):
			g.Go(func() error {
				updated := old.DeepCopy()
				updated.Labels, updated.Annotations, updated.Spec = want.Labels, want.Annotations, want.Spec
				return write(old.Namespace, c.Update(gctx, updated))
			})
		}
	}
	for box, want := range sel.wrappers {
		if seen[box] {
			continue
		}
		g.Go(func() error {
			if err := c.Create(gctx, want.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				return write(box, fmt.Errorf("creating wrapper %s/%s: %w", box, want.Name, err))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for box, err := range refused {
		sel.addProblem(sel.from[box], tooLargeProblem(sel.wrappers[box], err))
		delete(sel.wrappers, box)
		sel.kept[box] = true
	}
	return nil
}

func sameWrapper(a, b *edgev2alpha1.WrappedObject) bool {
	if a.Name != b.Name || !equality.Semantic.DeepEqual(a.Spec.Destination, b.Spec.Destination) ||
		!equality.Semantic.DeepEqual(a.Labels, b.Labels) || !equality.Semantic.DeepEqual(a.Annotations, b.Annotations) {
		return false
	}
	if bytes.Equal(a.Spec.Object.Raw, b.Spec.Object.Raw) {
		return true
	}
	objA, errA := wrapper.Unwrap(a)
	objB, errB := wrapper.Unwrap(b)
	return errA == nil && errB == nil && equality.Semantic.DeepEqual(objA.Object, objB.Object)
}

// reportState keeps the executing-count annotation and, for a singleton, the status.
func (t *Translator) reportState(ctx context.Context, space *multicluster.Cluster, ref wrapper.ObjectRef, obj *unstructured.Unstructured, sel *selection, existing []edgev2alpha1.WrappedObject) error {
	// A destination whose wrapper is kept as it was (its new content could not be made)
	// counts only when there is one: the object runs there in its last delivered form.
	count := len(sel.wrappers)
	for box := range sel.kept {
		if slices.ContainsFunc(existing, func(w edgev2alpha1.WrappedObject) bool { return w.Namespace == box }) {
			count++
		}
	}
	c := space.GetClient()
	annotations := obj.GetAnnotations()
	current, has := annotations[wrapper.AnnotationExecutingCount]
	if (has || count > 0) && current != executingCount(count) {
		patch := &unstructured.Unstructured{}
		patch.SetGroupVersionKind(obj.GroupVersionKind())
		patch.SetNamespace(obj.GetNamespace())
		patch.SetName(obj.GetName())
		patch.SetAnnotations(map[string]string{wrapper.AnnotationExecutingCount: executingCount(count)})
		if err := c.Patch(ctx, patch, client.Merge); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	if !sel.singleton || len(sel.wrappers) != 1 {
		return nil
	}
	var reported *edgev2alpha1.ReportedState
	for box, want := range sel.wrappers {
		for i := range existing {
			if existing[i].Namespace == box && existing[i].Name == want.Name {
				reported = existing[i].Status.ReportedState
			}
		}
	}
	if reported == nil || reported.Status == nil || len(reported.Status.Raw) == 0 {
		return nil
	}
	status := map[string]any{}
	if err := jsonUnmarshal(reported.Status.Raw, &status); err != nil {
		return fmt.Errorf("reported status of %s: %w", ref, err)
	}
	if current, _, _ := unstructured.NestedMap(obj.Object, "status"); equality.Semantic.DeepEqual(current, status) {
		return nil
	}
	updated := obj.DeepCopy()
	updated.Object["status"] = status
	err := c.Status().Update(ctx, updated)
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil // gone, or a kind without a status
	}
	return err
}

func objectName(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
