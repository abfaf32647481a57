package edge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestSyncerMergesSyncerConfigs runs a syncer whose mailbox holds two SyncerConfigs, and
// checks that it follows both.
func TestSyncerMergesSyncerConfigs(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	wecAPI := framework.StartAPIServer(t)
	ctx := t.Context()
	espw, wec := srv.Client(espwPath), clientFor(t, wecAPI)
	const box = "imwtest-mb-configs"
	require.NoError(t, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: box}}))
	upsyncConfigMap := func(config, name string) {
		require.NoError(t, espw.Create(ctx, &edgev2alpha1.SyncerConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: box, Name: config},
			Spec: edgev2alpha1.SyncerConfigSpec{Upsync: []edgev2alpha1.UpsyncSet{
				{Resources: []string{"configmaps"}, Namespaces: []string{"edge"}, Names: []string{name}},
			}},
		}))
	}
	upsyncConfigMap(wrapper.SyncerConfigName, "from-the-one")
	upsyncConfigMap("extra", "from-extra")
	framework.StartSyncer(t, srv, espwPath, box, "configs", wecAPI.Config)

	require.NoError(t, wec.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}))
	for _, name := range []string{"from-the-one", "from-extra", "from-neither"} {
		require.NoError(t, wec.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: name}}))
	}
	upsynced := func() map[string]bool {
		list := &edgev2alpha1.WrappedObjectList{}
		require.NoError(t, espw.List(ctx, list, client.InNamespace(box), client.MatchingLabels{syncer.LabelUpsync: "true"}))
		names := map[string]bool{}
		for i := range list.Items {
			if obj, err := wrapper.Unwrap(&list.Items[i]); err == nil && obj.GetKind() == "ConfigMap" {
				names[obj.GetName()] = true
			}
		}
		return names
	}
	framework.Eventually(t, time.Minute, "the ConfigMaps both SyncerConfigs name are upsynced", func() bool {
		got := upsynced()
		return got["from-the-one"] && got["from-extra"]
	})
	require.False(t, upsynced()["from-neither"], "a ConfigMap no SyncerConfig names stays in the cluster")

	// Dropping one SyncerConfig drops what it alone asked for.
	require.NoError(t, espw.Delete(ctx, &edgev2alpha1.SyncerConfig{ObjectMeta: metav1.ObjectMeta{Namespace: box, Name: "extra"}}))
	framework.Eventually(t, time.Minute, "the upsync of from-extra goes with its SyncerConfig", func() bool { return !upsynced()["from-extra"] })
	require.True(t, upsynced()["from-the-one"], "what the remaining SyncerConfig names stays upsynced")
}
