package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// BenchmarkStatusAtScale places 10 ConfigMaps (and their namespace) on 1,000 destinations
// and plays the syncers' part by reporting on every wrapper, as a syncer does (server-side
// apply of the wrapper's status as kubestellar-syncer). It reports how long after the last
// report the placement's status says so, for a report on every wrapper and then for one
// failure, and how large the placement object is. STATUS_DESTINATIONS changes the 1,000.
func BenchmarkStatusAtScale(b *testing.B) {
	destinations := 1000
	if v := os.Getenv("STATUS_DESTINATIONS"); v != "" {
		_, err := fmt.Sscan(v, &destinations)
		require.NoError(b, err)
	}
	const objects, reporters = 10, 32
	srv := framework.StartSpaceServer(b)
	srv.CreateSpaceWithAPI("espw")
	srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	ctx := b.Context()
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client(espwPath)

	parallel(b, destinations, 16, func(i int) error {
		_, err := createLocation(ctx, imw, fmt.Sprintf("st-%04d", i), map[string]string{"fleet": "all"})
		return err
	})
	require.NoError(b, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}))
	for i := range objects {
		require.NoError(b, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%02d", i), Namespace: "fleet"}, Data: map[string]string{"i": fmt.Sprint(i)}}))
	}
	startCore(b, srv)
	waitFor(b, 10*time.Minute, func() bool {
		list := &corev1.NamespaceList{}
		return espw.List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}) == nil && len(list.Items) == destinations
	})

	require.NoError(b, wmw.Create(ctx, &edgev2alpha1.StatusCollector{
		ObjectMeta: metav1.ObjectMeta{Name: "ready"},
		Spec: edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
			{Name: "total", Type: edgev2alpha1.AggregatorSum, Subject: "returned.status.ready"},
			{Name: "reporting", Type: edgev2alpha1.AggregatorCount},
		}},
	}))
	want := (objects + 1) * destinations
	start := time.Now()
	require.NoError(b, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "everywhere"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"fleet": "all"}}},
			Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"fleet"}}},
			StatusCollectors:  []string{"ready"},
		},
	}))
	source := srvSpaceID(b, srv, "wmw1")
	var wrappers []edgev2alpha1.WrappedObject
	waitFor(b, 30*time.Minute, func() bool {
		list := &edgev2alpha1.WrappedObjectList{}
		if espw.List(ctx, list, client.MatchingLabels{wrapper.LabelSourceSpace: source}) != nil {
			return false
		}
		wrappers = list.Items
		return len(wrappers) == want
	})
	delivered := time.Since(start)

	placed := watchPlacement(b, srv, "root:wmw1", "everywhere")
	placed.await(b, 5*time.Minute, func(ep *edgev2alpha1.EdgePlacement) bool {
		return ep.Status.Summary != nil && ep.Status.Summary.Delivered == int32(want)
	})
	cm := &corev1.ConfigMap{}
	require.NoError(b, wmw.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "cm-00"}, cm))
	combined := watchCombined(b, srv, "root:wmw1", placement.CombinedStatusName(string(cm.UID), "everywhere"))

	// Every syncer reports every object applied.
	reportsStart := time.Now()
	parallel(b, len(wrappers), reporters, func(i int) error {
		return report(ctx, espw, &wrappers[i], metav1.ConditionTrue, "Applied")
	})
	lastReport := time.Now()
	allApplied := placed.await(b, 5*time.Minute, func(ep *edgev2alpha1.EdgePlacement) bool {
		return ep.Status.Summary != nil && ep.Status.Summary.Applied == int32(want)
	})
	allCombined := combined.await(b, 5*time.Minute, func(cs *edgev2alpha1.CombinedStatus) bool {
		return len(cs.Results) == 1 && len(cs.Results[0].Rows) == 1 && len(cs.Results[0].Rows[0]) == 2 &&
			string(cs.Results[0].Rows[0][0].Raw) == fmt.Sprint(destinations)
	})

	// One syncer reports one failure.
	require.NoError(b, report(ctx, espw, &wrappers[len(wrappers)/2], metav1.ConditionFalse, "ApplyFailed"))
	failedReport := time.Now()
	oneFailed := placed.await(b, 5*time.Minute, func(ep *edgev2alpha1.EdgePlacement) bool {
		return ep.Status.Summary != nil && ep.Status.Summary.Failed == 1 && ep.Status.Summary.Applied == int32(want-1)
	})

	ep := placed.last()
	raw, err := json.Marshal(ep)
	require.NoError(b, err)
	lagAll, lagOne, lagCombined := allApplied.Sub(lastReport), oneFailed.Sub(failedReport), allCombined.Sub(lastReport)
	cs := combined.last()
	csRaw, err := json.Marshal(cs)
	require.NoError(b, err)
	table(os.Stdout, fmt.Sprintf("Status at scale: %d objects (+ their namespace) × %d destinations = %d wrappers", objects, destinations, want),
		[]string{"what", "value", "target"},
		[][]string{
			{"placement created → every wrapper written", ms(delivered), ""},
			{fmt.Sprintf("%d reports, %d at a time", want, reporters), ms(lastReport.Sub(reportsStart)), ""},
			{"last report → status says all applied", ms(lagAll), "≤ 2 s " + met(lagAll <= 2*time.Second)},
			{"one failure reported → status says so", ms(lagOne), "≤ 2 s " + met(lagOne <= 2*time.Second)},
			{"last report → combined status sums every destination", ms(lagCombined), "≤ 2 s " + met(lagCombined <= 2*time.Second)},
			{"combined status object size", fmt.Sprintf("%d KiB", len(csRaw)/1024), ""},
			{"placement object size", fmt.Sprintf("%d KiB", len(raw)/1024), "< 256 KiB " + met(len(raw) < 256*1024)},
			{"destinations listed in its status", fmt.Sprint(len(ep.Status.Destinations)), fmt.Sprintf("≤ %d", edgev2alpha1.MaxDestinationStatuses)},
		})
	b.ReportMetric(lagAll.Seconds(), "s-lag-all")
	b.ReportMetric(lagOne.Seconds(), "s-lag-one")
	b.ReportMetric(lagCombined.Seconds(), "s-lag-combined")
	b.ReportMetric(float64(len(raw)), "placement-bytes")
}

// report applies, as a syncer does, the Synced condition and a reported state (ready: 1) to a
// wrapper's status.
func report(ctx context.Context, espw client.Client, w *edgev2alpha1.WrappedObject, status metav1.ConditionStatus, reason string) error {
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": edgev2alpha1.SchemeGroupVersion.String(), "kind": "WrappedObject",
		"metadata": map[string]any{"namespace": w.Namespace, "name": w.Name},
		"status": map[string]any{
			"conditions": []any{map[string]any{
				"type": wrapper.ConditionSynced, "status": string(status), "reason": reason, "message": "",
				"observedGeneration": w.Generation, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
			}},
			"reportedState": map[string]any{"status": map[string]any{"ready": int64(1)}, "observedGeneration": int64(1)},
		},
	}}
	return espw.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(syncer.FieldManager), client.ForceOwnership)
}

// objectWatch follows one object by a watch, keeping its latest version and when that
// arrived.
type objectWatch[T client.Object] struct {
	mu      sync.Mutex
	changed *sync.Cond
	current T
	seen    bool
	at      time.Time
}

func watchPlacement(b *testing.B, srv *framework.SpaceServer, path, name string) *objectWatch[*edgev2alpha1.EdgePlacement] {
	return watchObject[*edgev2alpha1.EdgePlacement](b, srv, path, name, &edgev2alpha1.EdgePlacementList{})
}

func watchCombined(b *testing.B, srv *framework.SpaceServer, path, name string) *objectWatch[*edgev2alpha1.CombinedStatus] {
	return watchObject[*edgev2alpha1.CombinedStatus](b, srv, path, name, &edgev2alpha1.CombinedStatusList{})
}

func watchObject[T client.Object](b *testing.B, srv *framework.SpaceServer, path, name string, list client.ObjectList) *objectWatch[T] {
	c, err := client.NewWithWatch(srv.Config(path), client.Options{Scheme: apis.NewScheme()})
	require.NoError(b, err)
	p := &objectWatch[T]{}
	p.changed = sync.NewCond(&p.mu)
	ctx := b.Context()
	go func() {
		for ctx.Err() == nil {
			// A watch that ends (they time out) is started again.
			w, err := c.Watch(ctx, list, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				obj, ok := ev.Object.(T)
				if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
					continue
				}
				p.mu.Lock()
				p.current, p.seen, p.at = obj, true, time.Now()
				p.changed.Broadcast()
				p.mu.Unlock()
			}
			w.Stop()
		}
	}()
	return p
}

func (p *objectWatch[T]) last() T {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// await blocks until the object satisfies cond, and returns when the version that did
// arrived.
func (p *objectWatch[T]) await(b *testing.B, timeout time.Duration, cond func(T) bool) time.Time {
	deadline := time.AfterFunc(timeout, func() { p.mu.Lock(); p.changed.Broadcast(); p.mu.Unlock() })
	defer deadline.Stop()
	end := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.seen || !cond(p.current) {
		if time.Now().After(end) {
			b.Fatalf("not there within %s; last seen: %+v", timeout, p.current)
		}
		p.changed.Wait()
	}
	return p.at
}
