package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/test/framework"
)

func TestHelloWorld(t *testing.T) {
	c1, c2 := framework.StartAPIServer(t), framework.StartAPIServer(t)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"c1": c1.Config, "c2": c2.Config})
	out := &framework.SyncBuffer{}
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- run(ctx, kubeconfig, []string{"c1", "c2"}, out) }()

	for cluster, cfg := range map[string]*rest.Config{"c1": c1.Config, "c2": c2.Config} {
		// A bare API server runs no controller manager to make the default ServiceAccount.
		_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().ServiceAccounts("default").Create(ctx,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "hello-" + cluster, Namespace: "default"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example"}}},
		}
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, want := range []string{"c1 / default / hello-c1", "c2 / default / hello-c2"} {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			return strings.Contains(out.String(), want+"\n"), nil
		})
		require.NoError(t, err, "%q was not logged; output:\n%s", want, out.String())
	}
	require.NotContains(t, out.String(), "c1 / default / hello-c2", "events are attributed to their own cluster")
	select {
	case err := <-done:
		t.Fatalf("helloworld stopped early: %v", err)
	default:
	}
}
