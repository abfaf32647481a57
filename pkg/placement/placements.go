package placement

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/where"
)

// ConditionDelivered says whether every object a placement selects reached every destination.
const ConditionDelivered = "Delivered"

// The reasons of a False Delivered condition.
const (
	// ReasonInvalidDownsync: a selector of spec.downsync does not parse, so it selects
	// nothing; the message names it.
	ReasonInvalidDownsync = "InvalidDownsync"
	// ReasonCustomizationFailed: an object could not be customized for a destination.
	ReasonCustomizationFailed = "CustomizationFailed"
	// ReasonObjectTooLarge: an object's wrapper would not fit in the API server
	// (wrapper.MaxSpecSize); the object must be made smaller.
	ReasonObjectTooLarge = "ObjectTooLarge"
	// ReasonDeliveryFailed: objects failed for more than one of those reasons.
	ReasonDeliveryFailed = "DeliveryFailed"
)

// maxConditionMessage bounds a condition message; the API allows 32768 bytes.
const maxConditionMessage = 4000

// invalidDownsync names the selectors of spec.downsync that do not parse, each with its
// error. Such a selector matches nothing (anySelectorMatches), which the user must be told.
func invalidDownsync(ep *edgev2alpha1.EdgePlacement) []string {
	var out []string
	for i, test := range ep.Spec.Downsync {
		for field, selectors := range map[string][]metav1.LabelSelector{"namespaceSelectors": test.NamespaceSelectors, "labelSelectors": test.LabelSelectors} {
			for j := range selectors {
				if _, err := where.CompileLabelSelector(&selectors[j]); err != nil {
					out = append(out, fmt.Sprintf("spec.downsync[%d].%s[%d]: %v", i, field, j, err))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// reconcilePlacement keeps the space's workload watches in line with its placements, has every
// object the space's placements touch looked at again, and reports on the placement.
func (t *Translator) reconcilePlacement(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	space, ok := t.mgr.Cluster(req.Cluster)
	if !ok {
		t.forgetSpace(req.Cluster)
		return reconcile.Result{}, nil
	}
	served, err := space.Serves(&edgev2alpha1.EdgePlacement{})
	if err != nil || !served {
		return reconcile.Result{}, err
	}
	if err := t.syncWatches(ctx, space); err != nil {
		return reconcile.Result{}, err
	}
	if err := t.enqueueSpaceObjects(ctx, space); err != nil {
		return reconcile.Result{}, err
	}

	ep := &edgev2alpha1.EdgePlacement{}
	if err := space.GetClient().Get(ctx, req.NamespacedName, ep); err != nil || !ep.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	cond := metav1.Condition{Type: ConditionDelivered, Status: metav1.ConditionTrue, Reason: "Delivered",
		Message: "every selected object is in the mailboxes of its destinations", ObservedGeneration: ep.Generation}
	if invalid := invalidDownsync(ep); len(invalid) > 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonInvalidDownsync
		cond.Message = strings.Join(invalid, "; ") + "; an invalid selector selects nothing: correct it"
	} else if problems := t.problemsOf(space.Name, ep.Name); len(problems) > 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, problems[0].Reason
		messages := make([]string, len(problems))
		for i, p := range problems {
			messages[i] = p.text()
			if p.Reason != cond.Reason {
				cond.Reason = ReasonDeliveryFailed
			}
		}
		cond.Message = strings.Join(messages, "; ")
	}
	if len(cond.Message) > maxConditionMessage {
		cond.Message = cond.Message[:maxConditionMessage] + " ..."
	}
	old := findCondition(ep, cond.Type)
	if old != nil && old.Status == cond.Status && old.Message == cond.Message && old.ObservedGeneration == cond.ObservedGeneration {
		return reconcile.Result{}, nil
	}
	if err := where.ApplyPlacementStatus(ctx, space.GetClient(), ep, FieldManager, nil, cond); err != nil {
		return reconcile.Result{}, err
	}
	where.RecordTransition(space.GetEventRecorder(FieldManager), ep, old, cond, "Deliver")
	return reconcile.Result{}, nil
}

func findCondition(ep *edgev2alpha1.EdgePlacement, t string) *metav1.Condition {
	for i := range ep.Status.Conditions {
		if ep.Status.Conditions[i].Type == t {
			return &ep.Status.Conditions[i]
		}
	}
	return nil
}

// syncWatches watches, in the space, every resource that some placement there could select,
// and stops watching the others. It runs once at a time per space, so that a look at fewer
// placements never undoes a later look at more.
func (t *Translator) syncWatches(ctx context.Context, space *multicluster.Cluster) error {
	lock := t.syncLock(space.Name)
	lock.Lock()
	defer lock.Unlock()
	placements := &edgev2alpha1.EdgePlacementList{}
	if err := space.GetClient().List(ctx, placements); err != nil {
		return err
	}
	disc, err := t.discoveryFor(space)
	if err != nil {
		return err
	}
	// Discovery is cached; CRD events in the space invalidate it (see crdChanged).
	lists, err := discovery.ServerPreferredResources(disc)
	failed := map[schema.GroupVersion]error{}
	if err != nil {
		groups, ok := discovery.GroupDiscoveryFailedErrorGroups(err)
		if !ok {
			return fmt.Errorf("discovering the resources of %s: %w", space.Path, err)
		}
		failed = groups
		// Ask afresh next time rather than keep the failure.
		disc.Invalidate()
	}
	needed := map[schema.GroupResource]kind{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if strings.Contains(r.Name, "/") || gr == namespacesGR || !listWatch.Match(list.GroupVersion, &r) {
				continue
			}
			for i := range placements.Items {
				if TestsCouldSelect(placements.Items[i].Spec.Downsync, gr) {
					needed[gr] = kind{gvk: gv.WithKind(r.Kind), namespaced: r.Namespaced}
					break
				}
			}
		}
	}

	t.mu.Lock()
	current := t.kinds[space.Name]
	t.mu.Unlock()
	// A group whose discovery failed is not known to be gone: its watches stay.
	for gr, k := range current {
		if _, ok := failed[k.gvk.GroupVersion()]; ok {
			if _, found := needed[gr]; !found {
				needed[gr] = k
			}
		}
	}
	for gr, k := range needed {
		if old, ok := current[gr]; ok && old == k {
			continue
		}
		if err := t.objects.WatchKind(space, unstructuredOf(k.gvk), multicluster.MapTo(objectMapper(gr))); err != nil {
			return fmt.Errorf("watching %s in %s: %w", gr, space.Path, err)
		}
	}
	for gr, k := range current {
		if _, ok := needed[gr]; !ok {
			if err := t.objects.UnwatchKind(ctx, space, unstructuredOf(k.gvk)); err != nil {
				return err
			}
		}
	}
	t.mu.Lock()
	t.kinds[space.Name] = needed
	t.mu.Unlock()
	if len(failed) > 0 {
		return fmt.Errorf("discovering the resources of %s: %w", space.Path, err)
	}
	return nil
}

// listWatch matches the resources an informer can follow.
var listWatch = discovery.SupportsAllVerbs{Verbs: []string{"list", "watch"}}

func unstructuredOf(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// enqueueSpaceObjects has every watched object of the space, and every object of the space
// that has wrappers, looked at again; the lists come from the informers.
func (t *Translator) enqueueSpaceObjects(ctx context.Context, space *multicluster.Cluster) error {
	for gr, k := range t.watchedKinds(space.Name) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := space.GetCache().List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing %s in %s: %w", gr, space.Path, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			t.objects.Enqueue(requestFor(wrapper.ObjectRef{Space: space.Name, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()}))
		}
	}
	espw, ok := t.mgr.ClusterByPath(t.espwPath)
	if !ok {
		return nil
	}
	wrappers := &edgev2alpha1.WrappedObjectList{}
	if err := espw.GetClient().List(ctx, wrappers, client.MatchingLabels{wrapper.LabelSourceSpace: space.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	// An object goes to many mailboxes: each is asked for once, not once per wrapper.
	seen := map[string]bool{}
	for i := range wrappers.Items {
		source := wrappers.Items[i].Annotations[wrapper.AnnotationSource]
		if seen[source] {
			continue
		}
		seen[source] = true
		if ref, err := wrapper.ParseObjectRef(source); err == nil {
			t.objects.Enqueue(requestFor(ref))
		}
	}
	return nil
}
