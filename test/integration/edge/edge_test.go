// Package edge runs the classic two-cluster example end to end: a space server, the
// mailbox controller, the where-resolver and the placement translator, and a syncer for each
// of two workload execution clusters (real kube-apiservers).
package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/cli/plugin"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/status"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

const espwPath = "root:espw"

func TestTwoClusters(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	florinAPI, guilderAPI := framework.StartAPIServer(t), framework.StartAPIServer(t)
	ctx := t.Context()
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client(espwPath)
	florinWEC, guilderWEC := clientFor(t, florinAPI), clientFor(t, guilderAPI)

	// Before anything is placed, florin already has namespace commonstuff with an object of
	// its own, and guilder the CRD of sprockets.
	require.NoError(t, florinWEC.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "commonstuff"}}))
	require.NoError(t, florinWEC.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-notes", Namespace: "commonstuff"}}))

	// The inventory.
	florin := framework.EnsureLocation(t, imw, "florin", map[string]string{"env": "prod", "region": "eu"})
	guilder := framework.EnsureLocation(t, imw, "guilder", map[string]string{"env": "prod", "extended": "yes", "region": "us"})

	// The workload.
	for _, ns := range []string{"commonstuff", "specialstuff"} {
		require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "httpd-htdocs", Namespace: "commonstuff"}, Data: map[string]string{"index.html": "v1"}}))
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "seed", Namespace: "commonstuff",
		Annotations: map[string]string{syncer.AnnotationDownsyncOverwrite: "false"}}, Data: map[string]string{"k": "first"}}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.Customizer{
		ObjectMeta:   metav1.ObjectMeta{Name: "region", Namespace: "commonstuff"},
		Replacements: []edgev2alpha1.Replacement{{Path: "$.spec.template.spec.containers[0].env[0].value", Value: apiextensionsv1.JSON{Raw: []byte(`"in %(region)"`)}}},
	}))
	commond := framework.Deployment("commond", "commonstuff")
	commond.Annotations = map[string]string{placement.AnnotationCustomizer: "region", placement.AnnotationExpandParameters: "true"}
	require.NoError(t, wmw.Create(ctx, commond))
	require.NoError(t, wmw.Create(ctx, framework.Deployment("speciald", "specialstuff")))
	require.NoError(t, wmw.Create(ctx, sprocketCRD()))

	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-c"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"commonstuff"}},
				{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"commonstuff"}},
			},
		},
	}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-s"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"extended": "yes"}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"specialstuff"}},
				{APIGroup: ptr.To("apiextensions.k8s.io"), Resources: []string{"customresourcedefinitions"}, ObjectNames: []string{"sprockets.group1.test"}},
			},
			WantSingletonReportedState: true,
			Upsync:                     []edgev2alpha1.UpsyncSet{{APIGroup: "group1.test", Resources: []string{"sprockets"}, Names: []string{"*"}}},
		},
	}))

	framework.StartController(t, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: espwPath, Concurrency: 4}))
	framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))
	translator := framework.StartController(t, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: espwPath, Concurrency: 4}))

	florinBox, guilderBox := mailbox.Name(imw1.Status.Cluster, florin.UID), mailbox.Name(imw1.Status.Cluster, guilder.UID)
	for _, box := range []string{florinBox, guilderBox} {
		framework.Eventually(t, time.Minute, "mailbox "+box+" exists", func() bool {
			return espw.Get(ctx, client.ObjectKey{Name: box}, &corev1.Namespace{}) == nil
		})
	}
	framework.StartSyncer(t, srv, espwPath, florinBox, "florin", florinAPI.Config)
	guilderSyncer := framework.StartSyncer(t, srv, espwPath, guilderBox, "guilder", guilderAPI.Config)

	t.Run("the right objects in the right clusters", func(t *testing.T) {
		for _, wec := range []client.Client{florinWEC, guilderWEC} {
			eventuallyExists(t, wec, &corev1.ConfigMap{}, "commonstuff", "httpd-htdocs")
			eventuallyExists(t, wec, &appsv1.Deployment{}, "commonstuff", "commond")
		}
		eventuallyExists(t, guilderWEC, &appsv1.Deployment{}, "specialstuff", "speciald")
		eventuallyExists(t, guilderWEC, &apiextensionsv1.CustomResourceDefinition{}, "", "sprockets.group1.test")
		assert.True(t, apierrors.IsNotFound(florinWEC.Get(ctx, client.ObjectKey{Namespace: "specialstuff", Name: "speciald"}, &appsv1.Deployment{})))
		assert.True(t, apierrors.IsNotFound(florinWEC.Get(ctx, client.ObjectKey{Name: "sprockets.group1.test"}, &apiextensionsv1.CustomResourceDefinition{})))

		d := &appsv1.Deployment{}
		require.NoError(t, guilderWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "commond"}, d))
		assert.Equal(t, guilderBox, d.Labels[syncer.LabelDownsynced])
	})

	t.Run("a customized value differs per cluster", func(t *testing.T) {
		for wec, want := range map[client.Client]string{florinWEC: "in eu", guilderWEC: "in us"} {
			d := &appsv1.Deployment{}
			require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "commond"}, d))
			assert.Equal(t, want, d.Spec.Template.Spec.Containers[0].Env[0].Value)
		}
	})

	t.Run("status set in a cluster reaches the wrapper and, for a singleton, the workload", func(t *testing.T) {
		d := &appsv1.Deployment{}
		require.NoError(t, guilderWEC.Get(ctx, client.ObjectKey{Namespace: "specialstuff", Name: "speciald"}, d))
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
		require.NoError(t, guilderWEC.Status().Update(ctx, d))

		framework.Eventually(t, time.Minute, "the wrapper reports it", func() bool {
			w := findWrapper(t, espw, guilderBox, "Deployment", "specialstuff", "speciald")
			return w != nil && w.Status.ReportedState != nil && w.Status.ReportedState.Status != nil &&
				availableReplicas(w.Status.ReportedState.Status.Raw) == 1
		})
		framework.Eventually(t, time.Minute, "the workload object in the workspace has it", func() bool {
			got := &appsv1.Deployment{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "specialstuff", Name: "speciald"}, got))
			return got.Status.AvailableReplicas == 1 && len(got.Status.Conditions) == 1
		})
		got := &appsv1.Deployment{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "commond"}, got))
		assert.Equal(t, "2", got.Annotations[wrapper.AnnotationExecutingCount])
		assert.Zero(t, got.Status.AvailableReplicas, "an object with two destinations gets no singleton status")
	})

	t.Run("each placement counts its objects per destination, failures included", func(t *testing.T) {
		counts := func(selected, delivered, applied, available, failed, stale int32) edgev2alpha1.ObjectCounts {
			return edgev2alpha1.ObjectCounts{Selected: selected, Delivered: delivered, Applied: applied, Available: available, Failed: failed, Stale: stale}
		}
		type want struct {
			summary edgev2alpha1.PlacementSummary
			dests   map[string]edgev2alpha1.ObjectCounts
		}
		eventuallyCounts := func(name string, w want) {
			t.Helper()
			var last edgev2alpha1.EdgePlacementStatus
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
				ep := &edgev2alpha1.EdgePlacement{}
				require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: name}, ep))
				last = ep.Status
				if ep.Status.Summary == nil || *ep.Status.Summary != w.summary || len(ep.Status.Destinations) != len(w.dests) {
					return false, nil
				}
				for _, d := range ep.Status.Destinations {
					if d.ObjectCounts != w.dests[d.SyncTargetName] || d.Cluster != imw1.Status.Cluster || d.LastSyncerHeartbeatTime == nil {
						return false, nil
					}
				}
				return true, nil
			})
			require.NoError(t, err, "placement %s: want %+v, status has summary %+v destinations %+v", name, w, last.Summary, last.Destinations)
		}
		// The namespace, the Deployment and the CRD; the Deployment is available (the status
		// set above).
		eventuallyCounts("edge-placement-s", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 1, ObjectCounts: counts(3, 3, 3, 1, 0, 0)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"guilder": counts(3, 3, 3, 1, 0, 0)},
		})
		// The namespace, two ConfigMaps and a Deployment, in each of two clusters.
		eventuallyCounts("edge-placement-c", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 2, ObjectCounts: counts(8, 8, 8, 0, 0, 0)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"florin": counts(4, 4, 4, 0, 0, 0), "guilder": counts(4, 4, 4, 0, 0, 0)},
		})

		// florin has a local-notes of its own, which the syncer leaves alone: a failure there.
		notes := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-notes", Namespace: "commonstuff"}, Data: map[string]string{"from": "wmw"}}
		require.NoError(t, wmw.Create(ctx, notes))
		eventuallyCounts("edge-placement-c", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 2, ObjectCounts: counts(10, 10, 9, 0, 1, 0)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"florin": counts(5, 5, 4, 0, 1, 0), "guilder": counts(5, 5, 5, 0, 0, 0)},
		})

		// kubectl kubestellar status says the same, object by object.
		out, err := kubestellar(t, srv, "status", "edge-placement-c", "--wmw", "root:wmw1")
		require.Error(t, err, "a failed object makes the exit status non-zero")
		assert.Regexp(t, `(?m)^edge-placement-c\s+configmaps\s+commonstuff\s+local-notes\s+florin\s+Failed\s+NotOurs\s+\S+ ago$`, out)
		assert.Regexp(t, `(?m)^edge-placement-c\s+configmaps\s+commonstuff\s+local-notes\s+guilder\s+Applied\s+Applied\s+\S+ ago$`, out)
		assert.Regexp(t, `(?m)^edge-placement-c\s+deployments.apps\s+commonstuff\s+commond\s+florin\s+Applied\s+`, out)
		assert.Contains(t, out, "configmaps commonstuff/local-notes at florin failed: a ConfigMap named commonstuff/local-notes exists in the cluster and was not created by KubeStellar")
		out, err = kubestellar(t, srv, "status", "--wmw", "root:wmw1", "-o", "json")
		require.Error(t, err)
		report := &status.Report{}
		require.NoError(t, json.Unmarshal([]byte(out), report), out)
		states := map[placement.State]int{}
		for _, row := range report.Rows {
			states[row.State]++
		}
		// edge-placement-c: 10 rows, one failed; edge-placement-s: 3 rows, the Deployment available.
		assert.Equal(t, map[placement.State]int{placement.StateApplied: 11, placement.StateFailed: 1, placement.StateAvailable: 1}, states)

		require.NoError(t, wmw.Delete(ctx, notes))
		eventuallyCounts("edge-placement-c", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 2, ObjectCounts: counts(8, 8, 8, 0, 0, 0)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"florin": counts(4, 4, 4, 0, 0, 0), "guilder": counts(4, 4, 4, 0, 0, 0)},
		})
		local := &corev1.ConfigMap{}
		require.NoError(t, florinWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "local-notes"}, local))
		assert.Empty(t, local.Data, "florin's own local-notes is left as it was")
		out, err = kubestellar(t, srv, "status", "--wmw", "wmw1")
		require.NoError(t, err, out)
		assert.NotContains(t, out, "Failed")

		// A syncer that goes silent makes its SyncTarget stale, and its objects count as
		// stale, not failed; nothing is taken from its mailbox.
		guilderSyncer.Stop()
		readyOf := func() *metav1.Condition {
			st := &edgev2alpha1.SyncTarget{}
			require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: "guilder"}, st))
			if st.Status.LastSyncerHeartbeatTime == nil {
				return nil
			}
			return meta.FindStatusCondition(st.Status.Conditions, mailbox.ConditionReady)
		}
		framework.Eventually(t, time.Minute, "SyncTarget guilder is Ready False, Stale", func() bool {
			c := readyOf()
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == mailbox.ReasonStale
		})
		framework.Eventually(t, time.Minute, "a Warning Event Stale on SyncTarget guilder", func() bool {
			list := &eventsv1.EventList{}
			require.NoError(t, imw.List(ctx, list))
			return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Regarding.Kind == "SyncTarget" && e.Regarding.Name == "guilder" && e.Reason == mailbox.ReasonStale && e.Type == corev1.EventTypeWarning
			})
		})
		eventuallyCounts("edge-placement-s", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 1, ObjectCounts: counts(3, 3, 0, 0, 0, 3)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"guilder": counts(3, 3, 0, 0, 0, 3)},
		})
		out, err = kubestellar(t, srv, "status", "edge-placement-s", "--wmw", "wmw1")
		require.NoError(t, err, "stale is not failed: %s", out)
		assert.Regexp(t, `(?m)^edge-placement-s\s+deployments.apps\s+specialstuff\s+speciald\s+guilder\s+Stale\s+`, out)
		list := &edgev2alpha1.WrappedObjectList{}
		require.NoError(t, espw.List(ctx, list, client.InNamespace(guilderBox), client.MatchingLabels{wrapper.LabelSourceSpace: srv.WaitSpaceReady("wmw1").Status.Cluster}))
		assert.Len(t, list.Items, 7, "guilder's mailbox keeps every wrapper: 4 of edge-placement-c, 3 of edge-placement-s")

		guilderSyncer.Start()
		framework.Eventually(t, time.Minute, "SyncTarget guilder is Ready again", func() bool {
			c := readyOf()
			return c != nil && c.Status == metav1.ConditionTrue
		})
		eventuallyCounts("edge-placement-s", want{
			summary: edgev2alpha1.PlacementSummary{Destinations: 1, ObjectCounts: counts(3, 3, 3, 1, 0, 0)},
			dests:   map[string]edgev2alpha1.ObjectCounts{"guilder": counts(3, 3, 3, 1, 0, 0)},
		})
	})

	t.Run("an object of a CRD made in a cluster is upsynced", func(t *testing.T) {
		sprocket := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "group1.test/v1", "kind": "Sprocket",
			"metadata": map[string]any{"name": "george", "namespace": "default"}, "spec": map[string]any{"teeth": int64(12)},
		}}
		framework.Eventually(t, time.Minute, "guilder serves sprockets", func() bool { return guilderWEC.Create(ctx, sprocket.DeepCopy()) == nil })
		framework.Eventually(t, time.Minute, "it is in guilder's mailbox", func() bool {
			list := &edgev2alpha1.WrappedObjectList{}
			require.NoError(t, espw.List(ctx, list, client.InNamespace(guilderBox), client.MatchingLabels{syncer.LabelUpsync: "true"}))
			for i := range list.Items {
				if obj, err := wrapper.Unwrap(&list.Items[i]); err == nil && obj.GetKind() == "Sprocket" && obj.GetName() == "george" {
					return true
				}
			}
			return false
		})
	})

	t.Run("editing the workspace object updates both clusters; create-once objects stay", func(t *testing.T) {
		for name, value := range map[string]string{"httpd-htdocs": "v2", "seed": "second"} {
			cm := &corev1.ConfigMap{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: name}, cm))
			for k := range cm.Data {
				cm.Data[k] = value
			}
			require.NoError(t, wmw.Update(ctx, cm))
		}
		for _, wec := range []client.Client{florinWEC, guilderWEC} {
			framework.Eventually(t, time.Minute, "httpd-htdocs is v2", func() bool {
				cm := &corev1.ConfigMap{}
				return wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, cm) == nil && cm.Data["index.html"] == "v2"
			})
			cm := &corev1.ConfigMap{}
			require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "seed"}, cm))
			assert.Equal(t, "first", cm.Data["k"], "downsync-overwrite: false")
		}
	})

	t.Run("what controllers make from downsynced objects is left alone", func(t *testing.T) {
		d := &appsv1.Deployment{}
		require.NoError(t, florinWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "commond"}, d))
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "commond-abc", Namespace: "commonstuff", Labels: d.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: d.Spec.Selector, Template: d.Spec.Template},
		}
		require.NoError(t, florinWEC.Create(ctx, rs))
		// A controller also writes the Deployment's own fields.
		d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
		require.NoError(t, florinWEC.Update(ctx, d))
		framework.Consistently(t, 5*time.Second, "the ReplicaSet and the controller's annotation stay", func() bool {
			got := &appsv1.Deployment{}
			require.NoError(t, florinWEC.Get(ctx, client.ObjectKeyFromObject(d), got))
			return got.Annotations["deployment.kubernetes.io/revision"] == "1" &&
				florinWEC.Get(ctx, client.ObjectKeyFromObject(rs), &appsv1.ReplicaSet{}) == nil
		})
	})

	t.Run("the syncer reports a heartbeat", func(t *testing.T) {
		cfg := &edgev2alpha1.SyncerConfig{}
		framework.Eventually(t, time.Minute, "heartbeat recorded", func() bool {
			return espw.Get(ctx, client.ObjectKey{Namespace: guilderBox, Name: wrapper.SyncerConfigName}, cfg) == nil && cfg.Status.LastSyncerHeartbeatTime != nil
		})
	})

	t.Run("killing and restarting the syncer and the translator mid-way ends in the same state", func(t *testing.T) {
		guilderSyncer.Stop()
		translator.Stop()
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-s"}}))
		cm := &corev1.ConfigMap{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, cm))
		cm.Data["index.html"] = "v3"
		require.NoError(t, wmw.Update(ctx, cm))
		translator.Start()
		guilderSyncer.Start()

		framework.Eventually(t, 2*time.Minute, "speciald is gone from guilder", func() bool {
			return apierrors.IsNotFound(guilderWEC.Get(ctx, client.ObjectKey{Namespace: "specialstuff", Name: "speciald"}, &appsv1.Deployment{}))
		})
		framework.Eventually(t, time.Minute, "httpd-htdocs is v3 in guilder", func() bool {
			got := &corev1.ConfigMap{}
			return guilderWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, got) == nil && got.Data["index.html"] == "v3"
		})
	})

	t.Run("two placements from two spaces with different content: the older wins, both are told", func(t *testing.T) {
		srv.CreateSpaceWithAPI("wmw2")
		wmw2 := srv.Client("root:wmw2")
		before := &corev1.ConfigMap{}
		require.NoError(t, florinWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, before))
		require.NoError(t, wmw2.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "commonstuff"}}))
		require.NoError(t, wmw2.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "httpd-htdocs", Namespace: "commonstuff"},
			Data: map[string]string{"index.html": "from wmw2"}}))
		require.NoError(t, wmw2.Create(ctx, &edgev2alpha1.EdgePlacement{
			ObjectMeta: metav1.ObjectMeta{Name: "rival"},
			Spec: edgev2alpha1.EdgePlacementSpec{
				LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"region": "eu"}}},
				Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"commonstuff"}}},
			},
		}))
		conflict := func(c client.Client, name, contains string) bool {
			ep := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, c.Get(ctx, client.ObjectKey{Name: name}, ep))
			cond := meta.FindStatusCondition(ep.Status.Conditions, placement.ConditionConflict)
			return cond != nil && cond.Status == metav1.ConditionTrue && strings.Contains(cond.Message, contains)
		}
		const verdict = "placement root:wmw1/edge-placement-c takes precedence"
		framework.Eventually(t, time.Minute, "the newer placement has a Conflict condition naming the older", func() bool {
			return conflict(wmw2, "rival", "configmaps commonstuff/httpd-htdocs at florin: placement root:wmw1/edge-placement-c sends it there too, with other content; "+verdict)
		})
		framework.Eventually(t, time.Minute, "the older placement has one naming the newer", func() bool {
			return conflict(wmw, "edge-placement-c", "configmaps commonstuff/httpd-htdocs at florin: placement root:wmw2/rival sends it there too, with other content; "+verdict)
		})
		ep := &edgev2alpha1.EdgePlacement{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: "edge-placement-c"}, ep))
		assert.NotContains(t, meta.FindStatusCondition(ep.Status.Conditions, placement.ConditionConflict).Message, "namespaces",
			"the namespace both send is the same in both: no conflict")
		framework.Consistently(t, 5*time.Second, "florin keeps the older placement's content", func() bool {
			got := &corev1.ConfigMap{}
			require.NoError(t, florinWEC.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, got))
			return got.Data["index.html"] == before.Data["index.html"] && got.ResourceVersion == before.ResourceVersion
		})
		out, err := kubestellar(t, srv, "status", "rival", "--wmw", "wmw2")
		require.Error(t, err, out)
		assert.Regexp(t, `(?m)^rival\s+configmaps\s+commonstuff\s+httpd-htdocs\s+florin\s+Failed\s+Conflict\s+`, out)

		require.NoError(t, wmw2.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "rival"}}))
		framework.Eventually(t, time.Minute, "the older placement's conflict is over", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: "edge-placement-c"}, ep))
			return meta.IsStatusConditionFalse(ep.Status.Conditions, placement.ConditionConflict)
		})
	})

	t.Run("deleting the placement removes what the syncer made and nothing else", func(t *testing.T) {
		// Something of guilder's own in a namespace the syncer made.
		require.NoError(t, guilderWEC.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-notes", Namespace: "commonstuff"}}))
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-c"}}))
		for _, wec := range []client.Client{florinWEC, guilderWEC} {
			framework.Eventually(t, time.Minute, "commond is gone", func() bool {
				return apierrors.IsNotFound(wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "commond"}, &appsv1.Deployment{}))
			})
			framework.Eventually(t, time.Minute, "httpd-htdocs is gone", func() bool {
				return apierrors.IsNotFound(wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, &corev1.ConfigMap{}))
			})
			require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "local-notes"}, &corev1.ConfigMap{}), "the cluster's own object stays")
			ns := &corev1.Namespace{}
			require.NoError(t, wec.Get(ctx, client.ObjectKey{Name: "commonstuff"}, ns))
			assert.True(t, ns.DeletionTimestamp.IsZero(), "a namespace holding the cluster's own objects is kept")
		}
	})
}

// kubestellar runs kubectl kubestellar with the space server's admin kubeconfig, and returns
// what it printed (standard output, then standard error).
func kubestellar(t *testing.T, srv *framework.SpaceServer, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := plugin.NewKubectlKubestellarCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}, nil)
	cmd.SetArgs(append([]string{"--kubeconfig", srv.Kubeconfig}, args...))
	err := cmd.ExecuteContext(t.Context())
	return out.String() + errOut.String(), err
}

func clientFor(t *testing.T, api *framework.APIServer) client.Client {
	t.Helper()
	c, err := client.New(api.Config, client.Options{Scheme: apis.NewScheme()})
	require.NoError(t, err)
	return c
}

func sprocketCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "sprockets.group1.test"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "group1.test",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "sprockets", Singular: "sprocket", Kind: "Sprocket", ListKind: "SprocketList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
}

func findWrapper(t *testing.T, espw client.Client, box, kind, namespace, name string) *edgev2alpha1.WrappedObject {
	t.Helper()
	list := &edgev2alpha1.WrappedObjectList{}
	require.NoError(t, espw.List(t.Context(), list, client.InNamespace(box)))
	for i := range list.Items {
		obj, err := wrapper.Unwrap(&list.Items[i])
		if err == nil && obj.GetKind() == kind && obj.GetNamespace() == namespace && obj.GetName() == name {
			return &list.Items[i]
		}
	}
	return nil
}

func availableReplicas(raw []byte) int {
	var s appsv1.DeploymentStatus
	if json.Unmarshal(raw, &s) != nil {
		return -1
	}
	return int(s.AvailableReplicas)
}

func eventuallyExists(t *testing.T, c client.Client, obj client.Object, namespace, name string) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, "exists: "+namespace+"/"+name, func() bool {
		return c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, obj) == nil
	})
}
