package edge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestCombinedStatus places a Deployment on two clusters and combines what they report
// with StatusCollectors.
func TestCombinedStatus(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	eastAPI, westAPI := framework.StartAPIServer(t), framework.StartAPIServer(t)
	ctx := t.Context()
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client(espwPath)
	eastWEC, westWEC := clientFor(t, eastAPI), clientFor(t, westAPI)

	east := framework.EnsureLocation(t, imw, "east", map[string]string{"env": "prod"})
	west := framework.EnsureLocation(t, imw, "west", map[string]string{"env": "prod"})
	require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	web := framework.Deployment("web", "shop")
	web.Spec.Replicas = ptr.To[int32](3)
	require.NoError(t, wmw.Create(ctx, web))

	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
		ObjectMeta: metav1.ObjectMeta{Name: "available-replicas"},
		Spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			{Name: "available", Type: edgev2alpha1.AggregatorSum, Subject: "returned.status.availableReplicas"},
			{Name: "clusters", Type: edgev2alpha1.AggregatorCount},
		}},
	}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
		ObjectMeta: metav1.ObjectMeta{Name: "per-cluster"},
		Spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
			{Name: "wec", Def: "destination.name"},
			{Name: "location", Def: "destination.location"},
			{Name: "space", Def: "destination.space"},
			{Name: "available", Def: "returned.status.availableReplicas"},
			{Name: "wanted", Def: "obj.spec.replicas"},
		}},
	}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
		ObjectMeta: metav1.ObjectMeta{Name: "ready-clusters"},
		Spec: edgev2alpha1.StatusCollectorSpec{
			Filter:         `returned.status.?conditions.orValue([]).exists(c, c.type == "Available" && c.status == "True")`,
			CombinedFields: []edgev2alpha1.NamedAggregator{{Name: "ready", Type: edgev2alpha1.AggregatorCount}},
		},
	}))
	ep := &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-everywhere"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"shop"}},
			},
			StatusCollectors: []string{"available-replicas", "per-cluster", "ready-clusters"},
		},
	}
	require.NoError(t, wmw.Create(ctx, ep))

	framework.StartController(t, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: espwPath, Concurrency: 4}))
	framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))
	framework.StartController(t, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: espwPath, Concurrency: 4}))
	eastBox, westBox := mailbox.Name(imw1.Status.Cluster, east.UID), mailbox.Name(imw1.Status.Cluster, west.UID)
	for _, box := range []string{eastBox, westBox} {
		framework.Eventually(t, time.Minute, "mailbox "+box+" exists", func() bool {
			return espw.Get(ctx, client.ObjectKey{Name: box}, &corev1.Namespace{}) == nil
		})
	}
	// Heartbeats far apart: the placement's status is then counted again on a change, not
	// because a heartbeat falls due.
	slowHeartbeat := func(o *syncer.Options) { o.HeartbeatInterval = 5 * time.Minute }
	framework.StartSyncer(t, srv, espwPath, eastBox, "east", eastAPI.Config, slowHeartbeat)
	framework.StartSyncer(t, srv, espwPath, westBox, "west", westAPI.Config, slowHeartbeat)
	eventuallyExists(t, eastWEC, &appsv1.Deployment{}, "shop", "web")
	eventuallyExists(t, westWEC, &appsv1.Deployment{}, "shop", "web")
	require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, web))
	csName := string(web.UID) + ".shop-everywhere"

	// results renders a CombinedStatus's results as "collector: row; row" lines, each row
	// its JSON values joined by spaces.
	results := func(cs *edgev2alpha1.CombinedStatus) string {
		var lines []string
		for _, r := range cs.Results {
			var rows []string
			for _, row := range r.Rows {
				var vals []string
				for _, v := range row {
					// A JSON null decodes as no bytes.
					data, err := v.MarshalJSON()
					require.NoError(t, err)
					vals = append(vals, string(data))
				}
				rows = append(rows, strings.Join(vals, " "))
			}
			line := fmt.Sprintf("%s(%d) [%s]: %s", r.Name, r.Counted, strings.Join(r.ColumnNames, " "), strings.Join(rows, "; "))
			if len(r.Errors) > 0 {
				line += " errors: " + strings.Join(r.Errors, "; ")
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n")
	}
	resultsWithin := func(t *testing.T, within time.Duration, want string) *edgev2alpha1.CombinedStatus {
		t.Helper()
		var last string
		cs := &edgev2alpha1.CombinedStatus{}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, within, true, func(context.Context) (bool, error) {
			if err := wmw.Get(ctx, client.ObjectKey{Name: csName}, cs); err != nil {
				last = err.Error()
				return false, nil
			}
			last = results(cs)
			return last == want, nil
		})
		require.NoError(t, err, "want\n%s\nhave\n%s", want, last)
		return cs
	}
	eventuallyResults := func(t *testing.T, want string) *edgev2alpha1.CombinedStatus {
		t.Helper()
		return resultsWithin(t, time.Minute, want)
	}
	setStatus := func(t *testing.T, wec client.Client, available int32, cond corev1.ConditionStatus) {
		t.Helper()
		d := &appsv1.Deployment{}
		require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, d))
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: available, ReadyReplicas: available,
			AvailableReplicas: available, UpdatedReplicas: available,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: cond, Reason: "Test"}}}
		require.NoError(t, wec.Status().Update(ctx, d))
	}
	perCluster := func(eastAvail, westAvail string) string {
		return `per-cluster(2) [wec location space available wanted]: "east" "east" "root:imw1" ` + eastAvail + ` 3; "west" "west" "root:imw1" ` + westAvail + ` 3`
	}

	t.Run("before any cluster reports, the sum is 0", func(t *testing.T) {
		cs := eventuallyResults(t, strings.Join([]string{
			"available-replicas(2) [available clusters]: 0 2",
			perCluster("null", "null"),
			"ready-clusters(0) [ready]: 0",
		}, "\n"))
		assert.Equal(t, edgev2alpha1.CombinedStatusObject{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment",
			Namespace: "shop", Name: "web", UID: string(web.UID)}, cs.Object)
		assert.Equal(t, "shop-everywhere", cs.Placement)
		assert.EqualValues(t, 2, cs.Destinations)
		assert.Equal(t, map[string]string{edgev2alpha1.LabelCombinedStatusPlacement: "shop-everywhere",
			edgev2alpha1.LabelCombinedStatusObjectUID: string(web.UID)}, cs.Labels)
		assert.NotNil(t, cs.LastUpdateTime)
		got := &edgev2alpha1.EdgePlacement{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
		cond := meta.FindStatusCondition(got.Status.Conditions, placement.ConditionStatusCollected)
		require.NotNil(t, cond)
		assert.Equal(t, metav1.ConditionTrue, cond.Status)
	})

	t.Run("one cluster reports 3", func(t *testing.T) {
		setStatus(t, eastWEC, 3, corev1.ConditionTrue)
		eventuallyResults(t, strings.Join([]string{
			"available-replicas(2) [available clusters]: 3 2",
			perCluster("3", "null"),
			"ready-clusters(1) [ready]: 1",
		}, "\n"))
	})

	t.Run("the other reports 2, not available", func(t *testing.T) {
		setStatus(t, westWEC, 2, corev1.ConditionFalse)
		eventuallyResults(t, strings.Join([]string{
			"available-replicas(2) [available clusters]: 5 2",
			perCluster("3", "2"),
			"ready-clusters(1) [ready]: 1",
		}, "\n"))
		setStatus(t, westWEC, 2, corev1.ConditionTrue)
		eventuallyResults(t, strings.Join([]string{
			"available-replicas(2) [available clusters]: 5 2",
			perCluster("3", "2"),
			"ready-clusters(2) [ready]: 2",
		}, "\n"))
	})

	t.Run("a change to the workload object shows", func(t *testing.T) {
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, web))
		web.Spec.Replicas = ptr.To[int32](4)
		require.NoError(t, wmw.Update(ctx, web))
		eventuallyResults(t, strings.Join([]string{
			"available-replicas(2) [available clusters]: 5 2",
			`per-cluster(2) [wec location space available wanted]: "east" "east" "root:imw1" 3 4; "west" "west" "root:imw1" 2 4`,
			"ready-clusters(2) [ready]: 2",
		}, "\n"))
	})

	eventuallyCondition := func(t *testing.T, status metav1.ConditionStatus, reason, message string) {
		t.Helper()
		var last *metav1.Condition
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			got := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
			last = meta.FindStatusCondition(got.Status.Conditions, placement.ConditionStatusCollected)
			return last != nil && last.Status == status && last.Reason == reason && strings.Contains(last.Message, message) &&
				last.ObservedGeneration == got.Generation, nil
		})
		require.NoError(t, err, "want %s %s %q, have %+v", status, reason, message, last)
	}
	setCollectors := func(t *testing.T, names ...string) {
		t.Helper()
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
			got.Spec.StatusCollectors = names
			return wmw.Update(ctx, got) == nil, nil
		}))
	}

	t.Run("an edit at the edge that the syncer puts back shows on the workload object", func(t *testing.T) {
		d := &appsv1.Deployment{}
		require.NoError(t, eastWEC.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, d))
		d.Spec.Replicas = ptr.To[int32](9)
		require.NoError(t, eastWEC.Update(ctx, d))
		want := "at east: changed in the cluster, put back: [spec.replicas]"
		var notes []string
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			list := &eventsv1.EventList{}
			require.NoError(t, wmw.List(ctx, list, client.InNamespace("shop")))
			notes = notes[:0]
			for _, e := range list.Items {
				if e.Regarding.Kind == "Deployment" && e.Regarding.Name == "web" {
					notes = append(notes, e.Reason+": "+e.Note)
				}
			}
			return slices.Contains(notes, wrapper.EventDriftReverted+": "+want), nil
		})
		require.NoError(t, err, "no DriftReverted Event on the Deployment in the workload space; its events: %v", notes)
		require.NoError(t, eastWEC.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, d))
		assert.EqualValues(t, 4, *d.Spec.Replicas, "the syncer put the value back")
	})

	t.Run("a change to the workload object that no wrapper carries shows", func(t *testing.T) {
		// The object's own status stays in the workload space: changing it changes no
		// wrapper, and still changes what a collector reads of the object.
		require.NoError(t, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
			ObjectMeta: metav1.ObjectMeta{Name: "in-wmw"},
			Spec: edgev2alpha1.StatusCollectorSpec{Select: []edgev2alpha1.NamedExpression{
				{Name: "noted", Def: "obj.?status.?replicas.orValue(0)"}}},
		}))
		setCollectors(t, "in-wmw")
		eventuallyResults(t, "in-wmw(2) [noted]: 0; 0")
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, web))
		// Each status write is itself followed by one more count a second later: the change
		// comes after that one.
		time.Sleep(3 * time.Second)
		web.Status.Replicas = 7
		require.NoError(t, wmw.Status().Update(ctx, web))
		// Well before the placement's status would be counted again anyway (a minute).
		resultsWithin(t, 20*time.Second, "in-wmw(2) [noted]: 7; 7")
	})

	noneLeft := func() bool {
		list := &edgev2alpha1.CombinedStatusList{}
		require.NoError(t, wmw.List(ctx, list))
		return len(list.Items) == 0
	}

	t.Run("a missing collector is a condition on the placement, the others still collect", func(t *testing.T) {
		setCollectors(t, "available-replicas", "not-there")
		eventuallyCondition(t, metav1.ConditionFalse, placement.ReasonCollectorNotFound, "no StatusCollector not-there in this space")
		eventuallyResults(t, "available-replicas(2) [available clusters]: 5 2")

		require.NoError(t, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
			ObjectMeta: metav1.ObjectMeta{Name: "not-there"},
			Spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
				{Name: "most", Type: edgev2alpha1.AggregatorMax, Subject: "returned.status.availableReplicas"}}},
		}))
		eventuallyCondition(t, metav1.ConditionTrue, placement.ReasonCollected, "available-replicas, not-there")
		eventuallyResults(t, "available-replicas(2) [available clusters]: 5 2\nnot-there(2) [most]: 3")
	})

	t.Run("an invalid collector is a condition on the placement", func(t *testing.T) {
		sc := &edgev2alpha1.StatusCollector{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: "not-there"}, sc))
		sc.Spec.CombinedFields[0].Subject = "returned.status.availableReplicas +"
		require.NoError(t, wmw.Update(ctx, sc))
		eventuallyCondition(t, metav1.ConditionFalse, placement.ReasonCollectorInvalid, "not-there: spec.combinedFields[0].subject")
		eventuallyResults(t, "available-replicas(2) [available clusters]: 5 2")
	})

	t.Run("a CombinedStatus changed or deleted by someone else is made again", func(t *testing.T) {
		cs := &edgev2alpha1.CombinedStatus{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: csName}, cs))
		require.NoError(t, wmw.Delete(ctx, cs))
		eventuallyResults(t, "available-replicas(2) [available clusters]: 5 2")
	})

	t.Run("without collectors, the CombinedStatus and the condition go", func(t *testing.T) {
		setCollectors(t)
		framework.Eventually(t, time.Minute, "the CombinedStatus is deleted", noneLeft)
		framework.Eventually(t, time.Minute, "the condition is gone", func() bool {
			got := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
			return meta.FindStatusCondition(got.Status.Conditions, placement.ConditionStatusCollected) == nil
		})
	})

	t.Run("an object no longer selected loses its CombinedStatus", func(t *testing.T) {
		setCollectors(t, "available-replicas")
		eventuallyResults(t, "available-replicas(2) [available clusters]: 5 2")
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
			got.Spec.Downsync[0].ObjectNames = []string{"other"}
			return wmw.Update(ctx, got) == nil, nil
		}))
		framework.Eventually(t, time.Minute, "the CombinedStatus is deleted", noneLeft)
	})

	t.Run("a deleted placement takes its CombinedStatuses along", func(t *testing.T) {
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got := &edgev2alpha1.EdgePlacement{}
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: ep.Name}, got))
			got.Spec.Downsync[0].ObjectNames = nil
			return wmw.Update(ctx, got) == nil, nil
		}))
		// The clusters deleted the Deployment when it was no longer selected; the copies
		// they have now have no status yet.
		eventuallyResults(t, "available-replicas(2) [available clusters]: 0 2")
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: ep.Name}}))
		framework.Eventually(t, time.Minute, "the CombinedStatus is deleted", noneLeft)
	})
}
