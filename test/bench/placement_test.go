package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

const espwPath = "root:espw"

// location makes a SyncTarget and Location named name, as ensure location does.
func location(b *testing.B, c client.Client, name string, labels map[string]string) *edgev2alpha1.SyncTarget {
	st, err := createLocation(b.Context(), c, name, labels)
	require.NoError(b, err)
	return st
}

// createLocation makes a SyncTarget and the Location that selects it alone, both with labels;
// it returns the SyncTarget as created (with its UID, which names its mailbox). It does not
// fail the benchmark, so it may run off the benchmark's goroutine.
func createLocation(ctx context.Context, c client.Client, name string, labels map[string]string) (*edgev2alpha1.SyncTarget, error) {
	stLabels := map[string]string{"id": name}
	for k, v := range labels {
		stLabels[k] = v
	}
	st := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: stLabels}}
	if err := c.Create(ctx, st); err != nil {
		return nil, fmt.Errorf("creating SyncTarget %s: %w", name, err)
	}
	if err := c.Create(ctx, &edgev2alpha1.Location{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: edgev2alpha1.LocationSpec{
			Resource:         edgev2alpha1.GroupVersionResource{Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "synctargets"},
			InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"id": name}},
		},
	}); err != nil {
		return nil, fmt.Errorf("creating Location %s: %w", name, err)
	}
	return st, nil
}

func startCore(b *testing.B, srv *framework.SpaceServer) {
	framework.StartController(b, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: espwPath, Concurrency: 4}))
	framework.StartController(b, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))
	framework.StartController(b, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: espwPath, Concurrency: 4}))
}

func placeNamespace(b *testing.B, wmw client.Client, ns string, selector map[string]string) {
	require.NoError(b, wmw.Create(b.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	require.NoError(b, wmw.Create(b.Context(), &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "place-" + ns},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: selector}},
			Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{ns}}},
		},
	}))
}

// BenchmarkDownsyncLatency measures, over 100 objects and 2 workload execution clusters, the
// time from creating an object in the workspace to its presence in each cluster.
func BenchmarkDownsyncLatency(b *testing.B) {
	const objects = 100
	srv := framework.StartSpaceServer(b)
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client(espwPath)
	wecs := map[string]*framework.APIServer{"florin": framework.StartAPIServer(b), "guilder": framework.StartAPIServer(b)}
	startCore(b, srv)
	placeNamespace(b, wmw, "latency", map[string]string{"env": "prod"})

	arrivals := map[string]map[string]time.Time{}
	var mu sync.Mutex
	for name, api := range wecs {
		st := location(b, imw, name, map[string]string{"env": "prod"})
		box := mailbox.Name(imw1.Status.Cluster, st.UID)
		waitFor(b, time.Minute, func() bool { return espw.Get(b.Context(), client.ObjectKey{Name: box}, &corev1.Namespace{}) == nil })
		framework.StartSyncer(b, srv, espwPath, box, name, api.Config)
		arrivals[name] = map[string]time.Time{}
		informer := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(kubernetes.NewForConfigOrDie(api.Config).CoreV1().RESTClient(), "configmaps", "latency", nilSelector()),
			&corev1.ConfigMap{}, 0, cache.Indexers{})
		_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
			cm := obj.(*corev1.ConfigMap)
			mu.Lock()
			defer mu.Unlock()
			if _, seen := arrivals[name][cm.Name]; !seen {
				arrivals[name][cm.Name] = time.Now()
			}
		}})
		require.NoError(b, err)
		go informer.Run(b.Context().Done())
	}
	// Warm up: the first object also starts every watch on the way.
	require.NoError(b, wmw.Create(b.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "warm-up", Namespace: "latency"}}))
	waitFor(b, 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !arrivals["florin"]["warm-up"].IsZero() && !arrivals["guilder"]["warm-up"].IsZero()
	})

	created := map[string]time.Time{}
	for i := range objects {
		name := fmt.Sprintf("cm-%03d", i)
		created[name] = time.Now()
		require.NoError(b, wmw.Create(b.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "latency"}, Data: map[string]string{"i": name}}))
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(b, 5*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals["florin"]) == objects+1 && len(arrivals["guilder"]) == objects+1
	})
	var rows [][]string
	var all []time.Duration
	for _, wec := range []string{"florin", "guilder"} {
		var ds []time.Duration
		for name, at := range created {
			ds = append(ds, arrivals[wec][name].Sub(at))
		}
		all = append(all, ds...)
		rows = append(rows, []string{wec, fmt.Sprint(len(ds)), ms(percentile(ds, 50)), ms(percentile(ds, 99)), ms(percentile(ds, 100))})
	}
	rows = append(rows, []string{"both", fmt.Sprint(len(all)), ms(percentile(all, 50)), ms(percentile(all, 99)), ms(percentile(all, 100))})
	table(os.Stdout, fmt.Sprintf("Downsync latency: ConfigMap created in the workspace → present in the cluster (%d objects, one every 100 ms)", objects),
		[]string{"cluster", "samples", "p50", "p99", "max"}, rows)
	b.ReportMetric(float64(percentile(all, 50).Milliseconds()), "ms-p50")
	b.ReportMetric(float64(percentile(all, 99).Milliseconds()), "ms-p99")
}

// BenchmarkFanOut measures 100 objects placed on 200 mailboxes (20,000 wrappers, no
// clusters), against writing wrappers straight into the same space.
func BenchmarkFanOut(b *testing.B) {
	const objects, boxes, rawWrites = 100, 200, 4000
	srv := framework.StartSpaceServer(b)
	srv.CreateSpaceWithAPI("espw")
	srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	ctx := b.Context()
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client(espwPath)

	// Baseline: wrappers written straight into one mailbox-like namespace, 32 at a time (the
	// translator's 4 workers × 8 writes).
	require.NoError(b, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "raw"}}))
	start := time.Now()
	parallel(b, rawWrites, 32, func(i int) error {
		return espw.Create(ctx, &edgev2alpha1.WrappedObject{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%d", i), Namespace: "raw"},
			Spec: edgev2alpha1.WrappedObjectSpec{Object: runtime.RawExtension{Raw: []byte(fmt.Sprintf(
				`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%d","namespace":"fanout"},"data":{"i":"%d"}}`, i, i))}},
		})
	})
	rawRate := float64(rawWrites) / time.Since(start).Seconds()

	parallel(b, boxes, 8, func(i int) error {
		_, err := createLocation(b.Context(), imw, fmt.Sprintf("st-%03d", i), map[string]string{"fleet": "all"})
		return err
	})
	require.NoError(b, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fanout"}}))
	parallel(b, objects, 8, func(i int) error {
		return wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i), Namespace: "fanout"}, Data: map[string]string{"i": fmt.Sprint(i)}})
	})
	startCore(b, srv)
	waitFor(b, 5*time.Minute, func() bool {
		list := &corev1.NamespaceList{}
		return espw.List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}) == nil && len(list.Items) == boxes
	})

	want := (objects + 1) * boxes // the namespace travels too
	start = time.Now()
	require.NoError(b, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "everywhere"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"fleet": "all"}}},
			Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"fanout"}}},
		},
	}))
	waitFor(b, 20*time.Minute, func() bool {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(edgev2alpha1.SchemeGroupVersion.WithKind("WrappedObjectList"))
		return espw.List(ctx, list, client.MatchingLabels{wrapper.LabelSourceSpace: srvSpaceID(b, srv, "wmw1")}) == nil && len(list.Items) == want
	})
	converge := time.Since(start)
	rate := float64(want) / converge.Seconds()
	table(os.Stdout, fmt.Sprintf("Fan-out: %d objects (+ their namespace) × %d mailboxes = %d wrappers", objects, boxes, want),
		[]string{"what", "time", "wrappers/s"},
		[][]string{
			{"placement created → every wrapper written", ms(converge), fmt.Sprintf("%.0f", rate)},
			{fmt.Sprintf("raw creates of %d wrappers, 32 at a time", rawWrites), "", fmt.Sprintf("%.0f", rawRate)},
			{"ratio translator/raw", "", fmt.Sprintf("%.2f", rate/rawRate)},
		})
	b.ReportMetric(converge.Seconds(), "s-converge")
	b.ReportMetric(rate/rawRate, "rate/raw")
}

func srvSpaceID(b *testing.B, srv *framework.SpaceServer, name string) string {
	return srv.WaitSpaceReady(name).Status.Cluster
}
