package syncer

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// MailboxSyncerConfig returns what every SyncerConfig in the mailbox asks for, merged, read
// through c (the syncer's cache); found is false when the mailbox holds none, so that nothing
// is known to be unwanted yet.
func MailboxSyncerConfig(ctx context.Context, c client.Reader, mailbox string) (spec *edgev2alpha1.SyncerConfigSpec, found bool, err error) {
	list := &edgev2alpha1.SyncerConfigList{}
	if err := c.List(ctx, list, client.InNamespace(mailbox)); err != nil {
		return nil, false, fmt.Errorf("listing the SyncerConfigs of mailbox %s: %w", mailbox, err)
	}
	merged := MergeSyncerConfigs(list.Items)
	return &merged, len(list.Items) > 0, nil
}

// MergeSyncerConfigs returns the union of what the configs ask for: the namespaces and the
// namespaced resources downsynced wholesale, the individually named namespaced objects, the
// cluster-scoped resources and objects, and the upsync sets. The result does not depend on
// the order of configs.
func MergeSyncerConfigs(configs []edgev2alpha1.SyncerConfig) edgev2alpha1.SyncerConfigSpec {
	sorted := slices.Clone(configs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out edgev2alpha1.SyncerConfigSpec
	namespaces := map[string]bool{}
	type resourceKey struct {
		gr      metav1.GroupResource
		version string
	}
	namespacedObjects := map[resourceKey]int{}
	clusterScope := map[resourceKey]int{}
	for _, cfg := range sorted {
		spec := cfg.Spec
		for _, ns := range spec.NamespaceScope.Namespaces {
			namespaces[ns] = true
		}
		for _, r := range spec.NamespaceScope.Resources {
			if !slices.Contains(out.NamespaceScope.Resources, r) {
				out.NamespaceScope.Resources = append(out.NamespaceScope.Resources, r)
			}
		}
		for _, o := range spec.NamespacedObjects {
			key := resourceKey{o.GroupResource, o.APIVersion}
			i, seen := namespacedObjects[key]
			if !seen {
				i = len(out.NamespacedObjects)
				namespacedObjects[key] = i
				out.NamespacedObjects = append(out.NamespacedObjects, edgev2alpha1.NamespaceScopeDownsyncObjects{GroupResource: o.GroupResource, APIVersion: o.APIVersion})
			}
			for _, nn := range o.ObjectsByNamespace {
				out.NamespacedObjects[i].ObjectsByNamespace = addNames(out.NamespacedObjects[i].ObjectsByNamespace, nn)
			}
		}
		for _, c := range spec.ClusterScope {
			key := resourceKey{c.GroupResource, c.APIVersion}
			i, seen := clusterScope[key]
			if !seen {
				clusterScope[key] = len(out.ClusterScope)
				out.ClusterScope = append(out.ClusterScope, *c.DeepCopy())
				continue
			}
			merged := &out.ClusterScope[i]
			if allObjects(merged.Objects) || allObjects(c.Objects) {
				merged.Objects = nil // omitted means all
				continue
			}
			merged.Objects = union(merged.Objects, c.Objects)
		}
		for _, u := range spec.Upsync {
			// A set selects on its own, so the union of sets is all of them, once each.
			if !slices.ContainsFunc(out.Upsync, func(have edgev2alpha1.UpsyncSet) bool { return equality.Semantic.DeepEqual(have, u) }) {
				out.Upsync = append(out.Upsync, *u.DeepCopy())
			}
		}
	}
	for ns := range namespaces {
		out.NamespaceScope.Namespaces = append(out.NamespaceScope.Namespaces, ns)
	}
	sort.Strings(out.NamespaceScope.Namespaces)
	return out
}

// addNames merges one namespace's names into a list of namespaces and names.
func addNames(list []edgev2alpha1.NamespaceAndNames, nn edgev2alpha1.NamespaceAndNames) []edgev2alpha1.NamespaceAndNames {
	for i := range list {
		if list[i].Namespace == nn.Namespace {
			list[i].Names = union(list[i].Names, nn.Names)
			return list
		}
	}
	return append(list, edgev2alpha1.NamespaceAndNames{Namespace: nn.Namespace, Names: slices.Clone(nn.Names)})
}

// allObjects reports whether a cluster-scoped resource's object list means all its objects.
func allObjects(objects []string) bool {
	return len(objects) == 0 || slices.Contains(objects, "*")
}

// union returns a followed by the elements of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
