package syncer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

func config(name string, spec edgev2alpha1.SyncerConfigSpec) edgev2alpha1.SyncerConfig {
	return edgev2alpha1.SyncerConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestMergeSyncerConfigs(t *testing.T) {
	cms := metav1.GroupResource{Resource: "configmaps"}
	deps := metav1.GroupResource{Group: "apps", Resource: "deployments"}
	crs := metav1.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	crds := metav1.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	one := config("the-one", edgev2alpha1.SyncerConfigSpec{
		NamespaceScope: edgev2alpha1.NamespaceScopeDownsyncs{
			Namespaces: []string{"b", "a"},
			Resources:  []edgev2alpha1.NamespaceScopeDownsyncResource{{GroupResource: cms, APIVersion: "v1"}},
		},
		NamespacedObjects: []edgev2alpha1.NamespaceScopeDownsyncObjects{{GroupResource: deps, APIVersion: "v1",
			ObjectsByNamespace: []edgev2alpha1.NamespaceAndNames{{Namespace: "a", Names: []string{"d1"}}}}},
		ClusterScope: []edgev2alpha1.ClusterScopeDownsyncResource{
			{GroupResource: crs, APIVersion: "v1", Objects: []string{"r1"}},
			{GroupResource: crds, APIVersion: "v1", Objects: []string{"c1"}},
		},
		Upsync: []edgev2alpha1.UpsyncSet{{APIGroup: "", Resources: []string{"configmaps"}, Names: []string{"up1"}}},
	})
	extra := config("extra", edgev2alpha1.SyncerConfigSpec{
		NamespaceScope: edgev2alpha1.NamespaceScopeDownsyncs{
			Namespaces: []string{"c", "a"},
			Resources: []edgev2alpha1.NamespaceScopeDownsyncResource{
				{GroupResource: cms, APIVersion: "v1"}, {GroupResource: deps, APIVersion: "v1"},
			},
		},
		NamespacedObjects: []edgev2alpha1.NamespaceScopeDownsyncObjects{{GroupResource: deps, APIVersion: "v1",
			ObjectsByNamespace: []edgev2alpha1.NamespaceAndNames{
				{Namespace: "a", Names: []string{"d2", "d1"}}, {Namespace: "z", Names: []string{"d3"}},
			}}},
		ClusterScope: []edgev2alpha1.ClusterScopeDownsyncResource{
			{GroupResource: crs, APIVersion: "v1", Objects: []string{"r2"}},
			{GroupResource: crds, APIVersion: "v1"},
		},
		Upsync: []edgev2alpha1.UpsyncSet{
			{APIGroup: "", Resources: []string{"configmaps"}, Names: []string{"up1"}},
			{APIGroup: "apps", Resources: []string{"deployments"}, Namespaces: []string{"x"}, Names: []string{"*"}},
		},
	})
	want := edgev2alpha1.SyncerConfigSpec{
		NamespaceScope: edgev2alpha1.NamespaceScopeDownsyncs{
			Namespaces: []string{"a", "b", "c"},
			Resources: []edgev2alpha1.NamespaceScopeDownsyncResource{
				{GroupResource: cms, APIVersion: "v1"}, {GroupResource: deps, APIVersion: "v1"},
			},
		},
		NamespacedObjects: []edgev2alpha1.NamespaceScopeDownsyncObjects{{GroupResource: deps, APIVersion: "v1",
			ObjectsByNamespace: []edgev2alpha1.NamespaceAndNames{
				{Namespace: "a", Names: []string{"d2", "d1"}}, {Namespace: "z", Names: []string{"d3"}},
			}}},
		ClusterScope: []edgev2alpha1.ClusterScopeDownsyncResource{
			{GroupResource: crs, APIVersion: "v1", Objects: []string{"r2", "r1"}},
			{GroupResource: crds, APIVersion: "v1"}, // omitted in one config: all of them
		},
		Upsync: []edgev2alpha1.UpsyncSet{
			{APIGroup: "", Resources: []string{"configmaps"}, Names: []string{"up1"}},
			{APIGroup: "apps", Resources: []string{"deployments"}, Namespaces: []string{"x"}, Names: []string{"*"}},
		},
	}
	assert.Equal(t, want, MergeSyncerConfigs([]edgev2alpha1.SyncerConfig{one, extra}))
	assert.Equal(t, want, MergeSyncerConfigs([]edgev2alpha1.SyncerConfig{extra, one}), "the order of the configs does not matter")

	assert.Equal(t, one.Spec.Upsync, MergeSyncerConfigs([]edgev2alpha1.SyncerConfig{one}).Upsync)
	assert.Equal(t, edgev2alpha1.SyncerConfigSpec{}, MergeSyncerConfigs(nil))
}
