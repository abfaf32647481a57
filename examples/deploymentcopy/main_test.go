package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kubestellar/kubestellar/test/framework"
)

func TestDeploymentCopy(t *testing.T) {
	c1, c2 := framework.StartAPIServer(t), framework.StartAPIServer(t)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"cluster1": c1.Config, "cluster2": c2.Config})
	ctx := t.Context()
	go func() { _ = run(ctx, kubeconfig, "cluster1", "cluster2") }()
	src := kubernetes.NewForConfigOrDie(c1.Config).AppsV1().Deployments("default")
	dst := kubernetes.NewForConfigOrDie(c2.Config).AppsV1().Deployments("default")

	// A Deployment of cluster2's own, which must be left alone.
	_, err := dst.Create(ctx, deployment("native", 1), metav1.CreateOptions{})
	require.NoError(t, err)
	// A Deployment in another namespace of cluster1, which is not copied.
	_, err = kubernetes.NewForConfigOrDie(c1.Config).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	other := deployment("elsewhere", 1)
	other.Namespace = "other"
	_, err = kubernetes.NewForConfigOrDie(c1.Config).AppsV1().Deployments("other").Create(ctx, other, metav1.CreateOptions{})
	require.NoError(t, err)

	_, err = src.Create(ctx, deployment("web", 2), metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, "the copy appears", func() bool {
		d, err := dst.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 2 && d.Labels[CopiedFrom] == "cluster1" && d.Labels["app"] == "web"
	})

	orig, err := src.Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	orig.Spec.Replicas = ptr.To[int32](5)
	_, err = src.Update(ctx, orig, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the copy follows the original", func() bool {
		d, err := dst.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 5
	})

	// Someone edits the copy: it is put back.
	cp, err := dst.Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	cp.Spec.Replicas = ptr.To[int32](1)
	_, err = dst.Update(ctx, cp, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the copy is restored", func() bool {
		d, err := dst.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 5
	})

	require.NoError(t, src.Delete(ctx, "web", metav1.DeleteOptions{}))
	eventually(t, "the copy is deleted", func() bool {
		_, err := dst.Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	_, err = dst.Get(ctx, "native", metav1.GetOptions{})
	assert.NoError(t, err, "cluster2's own Deployment is untouched")
	_, err = dst.Get(ctx, "elsewhere", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "only namespace default is copied")
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example"}}},
			},
		},
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	require.NoError(t, err, what)
}
