package placement

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	if err == nil && equality.Semantic.DeepEqual(current.Spec, *spec) {
		return reconcile.Result{}, nil
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
	u := &unstructured.Unstructured{Object: content}
	if err := espw.GetClient().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return reconcile.Result{}, fmt.Errorf("writing the SyncerConfig of %s: %w", box, err)
	}
	return reconcile.Result{}, nil
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
			continue
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

	// Upsync: from every placement whose slice names this mailbox's SyncTarget.
	for _, cl := range t.mgr.Clusters() {
		if served, err := cl.Serves(&edgev2alpha1.EdgePlacement{}); err != nil || !served {
			continue
		}
		slices := &edgev2alpha1.SinglePlacementSliceList{}
		if err := cl.GetClient().List(ctx, slices, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range slices.Items {
			if !reaches(&slices.Items[i], box) {
				continue
			}
			ep := &edgev2alpha1.EdgePlacement{}
			if err := cl.GetClient().Get(ctx, types.NamespacedName{Name: slices.Items[i].Name}, ep); err != nil {
				continue
			}
			for _, u := range ep.Spec.Upsync {
				spec.Upsync = appendUnique(spec.Upsync, u)
			}
		}
	}
	sort.Slice(spec.Upsync, func(i, j int) bool { return fmt.Sprint(spec.Upsync[i]) < fmt.Sprint(spec.Upsync[j]) })
	return spec, nil
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
