package controllers

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// ensureLocation makes a SyncTarget and a Location named name as
// `kubectl kubestellar ensure location` does.
func ensureLocation(t *testing.T, c client.Client, name string, labels map[string]string) *edgev2alpha1.SyncTarget {
	t.Helper()
	stLabels := map[string]string{"id": name}
	for k, v := range labels {
		stLabels[k] = v
	}
	st := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: stLabels}}
	require.NoError(t, c.Create(t.Context(), st))
	require.NoError(t, c.Create(t.Context(), &edgev2alpha1.Location{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: edgev2alpha1.LocationSpec{
			Resource:         edgev2alpha1.GroupVersionResource{Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "synctargets"},
			InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"id": name}},
		},
	}))
	return st
}

func deployment(name, namespace string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main", Image: "registry.example/app:1", Env: []corev1.EnvVar{{Name: "WHERE", Value: "anywhere"}},
				}}},
			},
		},
	}
}

func objectKey(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(obj, fields...)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
