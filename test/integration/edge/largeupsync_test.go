package edge

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestSyncerLargeUpsync has objects in a cluster grow too large to copy up into the mailbox:
// the syncer says so by a Warning Event on the object, naming the size and the limit, keeps
// the copy it made before, does not retry, and copies the object again once it is smaller.
func TestSyncerLargeUpsync(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	wecAPI := framework.StartAPIServer(t)
	ctx := t.Context()
	espw, wec := srv.Client(espwPath), clientFor(t, wecAPI)
	const box = "imwtest-mb-upsync"
	require.NoError(t, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: box}}))
	require.NoError(t, espw.Create(ctx, &edgev2alpha1.SyncerConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: box, Name: wrapper.SyncerConfigName},
		Spec: edgev2alpha1.SyncerConfigSpec{Upsync: []edgev2alpha1.UpsyncSet{
			{APIGroup: "large.test", Resources: []string{"blobs"}, Namespaces: []string{"edge"}, Names: []string{"*"}},
		}},
	}))
	require.NoError(t, wec.Create(ctx, fromYAML(t, blobCRD)))
	require.NoError(t, wec.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}))
	framework.StartSyncer(t, srv, espwPath, box, "upsync", wecAPI.Config)

	blob := func(name string, size int) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "large.test/v1", "kind": "Blob",
			"metadata": map[string]any{"name": name, "namespace": "edge"},
			"data":     strings.Repeat("x", size),
		}}
	}
	// 1,540,000 bytes: under what the cluster's etcd takes in one write, over what a
	// wrapper may take once the object is inside it.
	const tooLarge = 1540000
	upsynced := func(name string) *unstructured.Unstructured {
		list := &edgev2alpha1.WrappedObjectList{}
		require.NoError(t, espw.List(ctx, list, client.InNamespace(box), client.MatchingLabels{syncer.LabelUpsync: "true"}))
		for i := range list.Items {
			if obj, err := wrapper.Unwrap(&list.Items[i]); err == nil && obj.GetKind() == "Blob" && obj.GetName() == name {
				return obj
			}
		}
		return nil
	}
	refusal := func(name string) *eventsv1.Event {
		list := &eventsv1.EventList{}
		require.NoError(t, wec.List(ctx, list, client.InNamespace("edge")))
		for i := range list.Items {
			if e := &list.Items[i]; e.Regarding.Name == name && e.Regarding.Kind == "Blob" && e.Reason == syncer.EventUpsyncTooLarge {
				return e
			}
		}
		return nil
	}
	note := `^not copied up into mailbox ` + box + `: its upsync wrapper would take 15[45]\d{4} bytes \(1\.4\d MiB\) encoded, ` +
		regexp.QuoteMeta("more than the 1507328 bytes (1.44 MiB) a wrapper may take (etcd takes at most 1572864 bytes in one write, the reported status included); make the object smaller, or leave it out of the upsync sets") + `$`

	framework.Eventually(t, time.Minute, "the cluster serves blobs", func() bool { return wec.Create(ctx, blob("grows", 10)) == nil })
	framework.Eventually(t, time.Minute, "Blob grows is upsynced", func() bool { return upsynced("grows") != nil })

	t.Run("an object created too large is not copied, and an Event says why", func(t *testing.T) {
		require.NoError(t, wec.Create(ctx, blob("huge", tooLarge)))
		var e *eventsv1.Event
		framework.Eventually(t, time.Minute, "a Warning UpsyncTooLarge on Blob huge", func() bool { e = refusal("huge"); return e != nil })
		assert.Equal(t, corev1.EventTypeWarning, e.Type)
		assert.Regexp(t, note, e.Note)
		assert.Nil(t, upsynced("huge"), "no wrapper of Blob huge")
		before := reconcileErrors(t, "syncer-upsync")
		framework.Consistently(t, 5*time.Second, "the syncer does not retry what cannot fit", func() bool {
			return reconcileErrors(t, "syncer-upsync") == before && upsynced("huge") == nil
		})
	})

	t.Run("an object grown too large keeps its earlier copy", func(t *testing.T) {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(blob("", 0).GroupVersionKind())
		require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "edge", Name: "grows"}, got))
		got.Object["data"] = strings.Repeat("x", tooLarge)
		require.NoError(t, wec.Update(ctx, got))
		var e *eventsv1.Event
		framework.Eventually(t, time.Minute, "a Warning UpsyncTooLarge on Blob grows", func() bool { e = refusal("grows"); return e != nil })
		assert.Regexp(t, note, e.Note)
		copied := upsynced("grows")
		require.NotNil(t, copied, "the earlier copy of Blob grows stays in the mailbox")
		assert.Equal(t, strings.Repeat("x", 10), copied.Object["data"], "the copy is the earlier content")
	})

	t.Run("an object made small again is copied again", func(t *testing.T) {
		for _, name := range []string{"grows", "huge"} {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(blob("", 0).GroupVersionKind())
			require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "edge", Name: name}, got))
			got.Object["data"] = "small again"
			require.NoError(t, wec.Update(ctx, got))
			framework.Eventually(t, time.Minute, "Blob "+name+" is upsynced small", func() bool {
				copied := upsynced(name)
				return copied != nil && copied.Object["data"] == "small again"
			})
		}
	})
}
