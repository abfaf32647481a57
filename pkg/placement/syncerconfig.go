package placement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
)

// reconcileSyncerConfig writes the SyncerConfig of one mailbox: the resources and objects
// its wrappers carry, and the union of the upsync asked by the placements that reach it.
func (t *Translator) reconcileSyncerConfig(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	espw, ok := t.mgr.Cluster(req.Cluster)
	if !ok || espw.Path != t.espwPath {
		return reconcile.Result{}, nil
	}
	box := req.Name
	ns := &corev1.Namespace{}
	if err := espw.GetClient().Get(ctx, types.NamespacedName{Name: box}, ns); err != nil || !ns.DeletionTimestamp.IsZero() || ns.Labels[mailbox.LabelMailbox] != "true" {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	wrappers := &edgev2alpha1.WrappedObjectList{}
	if err := espw.GetClient().List(ctx, wrappers, client.InNamespace(box), client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, err
	}
	spec, err := t.syncerConfigSpec(ctx, box, wrappers.Items)
	if err != nil {
		return reconcile.Result{}, err
	}
	current := &edgev2alpha1.SyncerConfig{}
	err = espw.GetClient().Get(ctx, types.NamespacedName{Namespace: box, Name: wrapper.SyncerConfigName}, current)
	if client.IgnoreNotFound(err) != nil {
		return reconcile.Result{}, err
	}
	// A space that cannot answer yet takes no upsync away: what the config asks now stays
	// until that space has been heard, and the mailbox is looked at again with backoff. A
	// config not written yet gets what is known meanwhile.
	upsyncUnknown := t.upsync(ctx, box, spec)
	if upsyncUnknown != nil && err == nil {
		for _, u := range current.Spec.Upsync {
			spec.Upsync = appendUnique(spec.Upsync, u)
		}
		sortUpsync(spec.Upsync)
	}
	if err == nil && equality.Semantic.DeepEqual(current.Spec, *spec) {
		return reconcile.Result{}, upsyncError(box, upsyncUnknown)
	}
	apply := &edgev2alpha1.SyncerConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: edgev2alpha1.SchemeGroupVersion.String(), Kind: "SyncerConfig"},
		ObjectMeta: metav1.ObjectMeta{Namespace: box, Name: wrapper.SyncerConfigName},
		Spec:       *spec,
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(apply)
	if err != nil {
		return reconcile.Result{}, err
	}
	if err := explicitLists(content); err != nil {
		return reconcile.Result{}, err
	}
	u := &unstructured.Unstructured{Object: content}
	if err := espw.GetClient().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return reconcile.Result{}, fmt.Errorf("writing the SyncerConfig of %s: %w", box, err)
	}
	return reconcile.Result{}, upsyncError(box, upsyncUnknown)
}

// explicitLists sends every list of the spec, empty ones as [] rather than left out: server-side
// apply turns a spec (or namespaceScope) left with no fields into null, which the schema
// refuses, so a mailbox that empties would otherwise keep its last config.
func explicitLists(content map[string]any) error {
	for _, path := range [][]string{
		{"spec", "namespaceScope", "namespaces"}, {"spec", "namespaceScope", "resources"},
		{"spec", "namespacedObjects"}, {"spec", "clusterScope"}, {"spec", "upsync"},
	} {
		_, found, err := unstructured.NestedFieldNoCopy(content, path...)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		if err := unstructured.SetNestedSlice(content, []any{}, path...); err != nil {
			return err
		}
	}
	return nil
}

func upsyncError(box string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("the upsync of %s is not complete yet: %w", box, err)
}

type grv struct {
	schema.GroupResource
	version string
}

func (t *Translator) syncerConfigSpec(ctx context.Context, box string, wrappers []edgev2alpha1.WrappedObject) (*edgev2alpha1.SyncerConfigSpec, error) {
	namespaces := map[string]bool{}
	namespaced := map[grv]map[string][]string{} // resource → namespace → names
	clusterScoped := map[grv][]string{}
	for i := range wrappers {
		w := &wrappers[i]
		ref, err := wrapper.ParseObjectRef(w.Annotations[wrapper.AnnotationSource])
		if err != nil {
			continue // not the translator's (an upsynced object)
		}
		obj, err := wrapper.Unwrap(w)
		if err != nil {
			// Leaving it out would tell the syncer to drop what it carries.
			return nil, fmt.Errorf("wrapper %s/%s: %w", w.Namespace, w.Name, err)
		}
		key := grv{GroupResource: ref.GroupResource, version: obj.GroupVersionKind().Version}
		if ref.Namespace == "" {
			clusterScoped[key] = append(clusterScoped[key], ref.Name)
			continue
		}
		namespaces[ref.Namespace] = true
		if namespaced[key] == nil {
			namespaced[key] = map[string][]string{}
		}
		namespaced[key][ref.Namespace] = append(namespaced[key][ref.Namespace], ref.Name)
	}

	spec := &edgev2alpha1.SyncerConfigSpec{}
	spec.NamespaceScope.Namespaces = sortedKeys(namespaces)
	for _, key := range sortedGRVs(namespaced) {
		spec.NamespaceScope.Resources = append(spec.NamespaceScope.Resources, edgev2alpha1.NamespaceScopeDownsyncResource{
			GroupResource: metav1.GroupResource{Group: key.Group, Resource: key.Resource}, APIVersion: key.version})
		objs := edgev2alpha1.NamespaceScopeDownsyncObjects{GroupResource: metav1.GroupResource{Group: key.Group, Resource: key.Resource}, APIVersion: key.version}
		for _, ns := range sortedKeys(namespaced[key]) {
			names := namespaced[key][ns]
			sort.Strings(names)
			objs.ObjectsByNamespace = append(objs.ObjectsByNamespace, edgev2alpha1.NamespaceAndNames{Namespace: ns, Names: names})
		}
		spec.NamespacedObjects = append(spec.NamespacedObjects, objs)
	}
	for _, key := range sortedGRVs(clusterScoped) {
		names := clusterScoped[key]
		sort.Strings(names)
		spec.ClusterScope = append(spec.ClusterScope, edgev2alpha1.ClusterScopeDownsyncResource{
			GroupResource: metav1.GroupResource{Group: key.Group, Resource: key.Resource}, APIVersion: key.version, Objects: names})
	}

	return spec, nil
}

// upsync adds to spec the union of the upsync asked by every placement whose slice names the
// mailbox's SyncTarget. It returns what kept it from hearing from every space: such a space
// is not known to ask for nothing.
func (t *Translator) upsync(ctx context.Context, box string, spec *edgev2alpha1.SyncerConfigSpec) error {
	var unknown []error
	for _, cl := range t.mgr.Clusters() {
		served, err := cl.ServesAll(&edgev2alpha1.EdgePlacement{}, &edgev2alpha1.SinglePlacementSlice{})
		if err != nil {
			unknown = append(unknown, err)
			continue
		}
		if !served {
			continue // no placements in this space
		}
		slices := &edgev2alpha1.SinglePlacementSliceList{}
		if err := cl.GetClient().List(ctx, slices, client.UnsafeDisableDeepCopy); err != nil {
			unknown = append(unknown, fmt.Errorf("listing slices in %s: %w", cl.Path, err))
			continue
		}
		for i := range slices.Items {
			if !reaches(&slices.Items[i], box) {
				continue
			}
			ep := &edgev2alpha1.EdgePlacement{}
			if err := cl.GetClient().Get(ctx, types.NamespacedName{Name: slices.Items[i].Name}, ep); err != nil {
				if apierrors.IsNotFound(err) {
					continue // deleted; its slice goes with it
				}
				unknown = append(unknown, fmt.Errorf("placement %s in %s: %w", slices.Items[i].Name, cl.Path, err))
				continue
			}
			for _, u := range ep.Spec.Upsync {
				spec.Upsync = appendUnique(spec.Upsync, u)
			}
		}
	}
	sortUpsync(spec.Upsync)
	return errors.Join(unknown...)
}

func sortUpsync(list []edgev2alpha1.UpsyncSet) {
	sort.Slice(list, func(i, j int) bool { return fmt.Sprint(list[i]) < fmt.Sprint(list[j]) })
}

func reaches(slice *edgev2alpha1.SinglePlacementSlice, box string) bool {
	for _, d := range slice.Destinations {
		if mailbox.Name(d.Cluster, d.SyncTargetUID) == box {
			return true
		}
	}
	return false
}

func appendUnique(list []edgev2alpha1.UpsyncSet, u edgev2alpha1.UpsyncSet) []edgev2alpha1.UpsyncSet {
	if slices.ContainsFunc(list, func(x edgev2alpha1.UpsyncSet) bool { return equality.Semantic.DeepEqual(x, u) }) {
		return list
	}
	return append(list, u)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedGRVs[V any](m map[grv]V) []grv {
	out := make([]grv, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join([]string{out[i].Group, out[i].Resource, out[i].version}, "/") < strings.Join([]string{out[j].Group, out[j].Resource, out[j].version}, "/")
	})
	return out
}
