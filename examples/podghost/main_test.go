package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/examples/podghost/api/v1alpha1"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestPodGhost(t *testing.T) {
	c1, c2, c3 := framework.StartAPIServer(t), framework.StartAPIServer(t), framework.StartAPIServer(t)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"cluster1": c1.Config, "cluster2": c2.Config, "cluster3": c3.Config})
	ctx := t.Context()
	// As the example says: the CRD goes into the ghost cluster first.
	framework.ApplyCRDFiles(t, c2.Config, "config/crd.yaml")
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	ghosts, err := client.New(c2.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	pods1, pods3 := podsOf(t, c1.Config), podsOf(t, c3.Config)

	// A PodGhost of cluster2's own, standing for no Pod the controller watches: left alone.
	native := &v1alpha1.PodGhost{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "native"}, Spec: v1alpha1.PodGhostSpec{Cluster: "elsewhere", PodUID: "1"}}
	require.NoError(t, ghosts.Create(ctx, native))

	go func() { _ = run(ctx, kubeconfig, []string{"cluster1", "cluster3"}, "cluster2") }()
	ghostOf := func(name string) (*v1alpha1.PodGhost, error) {
		g := &v1alpha1.PodGhost{}
		return g, ghosts.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, g)
	}

	web1 := createPod(t, pods1, "web")
	eventually(t, "the ghost of cluster1's web appears", func() bool {
		g, err := ghostOf("web")
		return err == nil && g.Spec == v1alpha1.PodGhostSpec{Cluster: "cluster1", PodUID: web1.UID, Phase: corev1.PodPending}
	})

	web1.Status.Phase = corev1.PodRunning
	_, err = pods1.UpdateStatus(ctx, web1, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the ghost follows the Pod's phase", func() bool {
		g, err := ghostOf("web")
		return err == nil && g.Spec.Phase == corev1.PodRunning
	})

	// Someone deletes the ghost: it comes back.
	g, err := ghostOf("web")
	require.NoError(t, err)
	require.NoError(t, ghosts.Delete(ctx, g))
	eventually(t, "the deleted ghost is made again", func() bool {
		again, err := ghostOf("web")
		return err == nil && again.UID != g.UID && again.Spec.Cluster == "cluster1"
	})

	// A Pod in the other source cluster gets its ghost too; one of the same name waits.
	db3 := createPod(t, pods3, "db")
	web3 := createPod(t, pods3, "web")
	eventually(t, "the ghost of cluster3's db appears", func() bool {
		g, err := ghostOf("db")
		return err == nil && g.Spec.Cluster == "cluster3" && g.Spec.PodUID == db3.UID
	})
	g, err = ghostOf("web")
	require.NoError(t, err)
	assert.Equal(t, "cluster1", g.Spec.Cluster, "the ghost keeps standing for the Pod it stood for")

	require.NoError(t, pods1.Delete(ctx, "web", metav1.DeleteOptions{}))
	eventually(t, "once cluster1's web is gone, the ghost stands for cluster3's", func() bool {
		g, err := ghostOf("web")
		return err == nil && g.Spec.Cluster == "cluster3" && g.Spec.PodUID == web3.UID
	})

	require.NoError(t, pods3.Delete(ctx, "db", metav1.DeleteOptions{}))
	eventually(t, "the ghost goes with its Pod", func() bool {
		_, err := ghostOf("db")
		return apierrors.IsNotFound(err)
	})

	_, err = ghostOf("native")
	assert.NoError(t, err, "cluster2's own PodGhost is untouched")
}

// podsOf is the Pods of namespace default, with the ServiceAccount that a cluster's
// controller manager would make and that Pod admission needs.
func podsOf(t *testing.T, cfg *rest.Config) typedcorev1.PodInterface {
	cs := kubernetes.NewForConfigOrDie(cfg)
	_, err := cs.CoreV1().ServiceAccounts("default").Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return cs.CoreV1().Pods("default")
}

func createPod(t *testing.T, pods typedcorev1.PodInterface, name string) *corev1.Pod {
	t.Helper()
	p, err := pods.Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return p
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	require.NoError(t, err, what)
}
