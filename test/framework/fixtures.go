package framework

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/inventory"
)

// Eventually fails the test unless cond becomes true within timeout; what says what was
// awaited.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("%s within %s: %v", what, timeout, err)
	}
}

// Consistently fails the test if cond is false at any look during d.
func Consistently(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("not consistently so: %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// EnsureLocation does what `kubectl kubestellar ensure location NAME LABELS...` does, in the
// inventory space c reaches, and returns the SyncTarget.
func EnsureLocation(t testing.TB, c client.Client, name string, labels map[string]string) *edgev2alpha1.SyncTarget {
	t.Helper()
	must(t, inventory.EnsureLocation(t.Context(), c, name, labels, func(string, ...any) {}))
	st := &edgev2alpha1.SyncTarget{}
	must(t, c.Get(t.Context(), client.ObjectKey{Name: name}, st))
	return st
}

// Deployment returns a one-replica Deployment whose container says WHERE=anywhere, for
// customization to rewrite.
func Deployment(name, namespace string) *appsv1.Deployment {
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
