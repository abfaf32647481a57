package placement

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// heldFor names what the translator still keeps for the space with the ID.
func (t *Translator) heldFor(id string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	if _, ok := t.kinds[id]; ok {
		out = append(out, "kinds")
	}
	if _, ok := t.discovery[id]; ok {
		out = append(out, "discovery")
	}
	out = append(out, heldRefs(t.selected, id, "selected")...)
	out = append(out, heldRefs(t.singletons, id, "singleton")...)
	out = append(out, heldRefs(t.problems, id, "problems")...)
	out = append(out, heldRefs(t.drifts, id, "drifts")...)
	for key := range t.statusWrites {
		if strings.HasPrefix(key, id+"/") {
			out = append(out, "status write "+key)
		}
	}
	sort.Strings(out)
	return out
}

// heldRefs names the objects of the space with the ID that m has entries for.
func heldRefs[V any](m map[wrapper.ObjectRef]V, id, what string) []string {
	var out []string
	for ref := range m {
		if ref.Space == id {
			out = append(out, what+" "+ref.String())
		}
	}
	return out
}

// TestRemovedSpaceIsForgotten: what the translator keeps per space goes with the space, so
// a translator serving workload spaces that come and go does not grow.
func TestRemovedSpaceIsForgotten(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	wmw1 := srv.CreateSpaceWithAPI("wmw1")
	ctx := t.Context()
	wmw := srv.Client("root:wmw1")
	require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}))
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "app"}}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors:          []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			Downsync:                   []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"app"}}},
			WantSingletonReportedState: true,
		},
	}))

	var translator atomic.Pointer[Translator]
	framework.StartController(t, srv, "placement-translator", func(_ context.Context, mgr *multicluster.Manager) error {
		tr, err := Setup(mgr, Options{ESPWPath: "root:espw", Concurrency: 2})
		translator.Store(tr)
		return err
	})
	id := wmw1.Status.Cluster
	cm := wrapper.ObjectRef{Space: id, GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: "app", Name: "cm"}.String()
	var held []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		tr := translator.Load()
		if tr == nil {
			return false, nil
		}
		held = tr.heldFor(id)
		return slices.Contains(held, "kinds") && slices.Contains(held, "selected "+cm) && slices.Contains(held, "singleton "+cm), nil
	})
	require.NoError(t, err, "the translator keeps, of the workload space: %v", held)

	require.NoError(t, srv.Client("root").Delete(ctx, &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "wmw1"}}))
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		held = translator.Load().heldFor(id)
		return len(held) == 0, nil
	})
	require.NoError(t, err, "the translator still keeps, of the removed space: %v", held)
}
