package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/process"
	"github.com/kubestellar/kubestellar/test/framework"
)

// BenchmarkControllers measures the mailbox controller on 1,000 SyncTargets and the
// where-resolver on 100 placements over 1,000 Locations, each as its own process, against
// the time the same space server takes to accept the same number of plain writes.
func BenchmarkControllers(b *testing.B) {
	const targets, placements, regions = 1000, 100, 10
	bin := framework.BuildCommands(b, "mailbox-controller", "kubestellar-where-resolver")
	srv := framework.StartSpaceServer(b)
	srv.CreateSpaceWithAPI("espw")
	srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	srv.CreateSpaceWithAPI("baseline")
	ctx := b.Context()
	espw, imw, wmw := srv.Client("root:espw"), srv.Client("root:imw1"), srv.Client("root:wmw1")

	// Baseline: the same number of namespaces written straight into a space, 4 at a time
	// (the controller's --concurrency).
	baseline := srv.Client("root:baseline")
	start := time.Now()
	parallel(b, targets, 4, func(i int) error {
		return baseline.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i)}})
	})
	rawCreate := time.Since(start)

	// The inventory, made before the controllers start.
	parallel(b, targets, 8, func(i int) error {
		name := fmt.Sprintf("st-%04d", i)
		labels := map[string]string{"id": name, "region": fmt.Sprintf("r%d", i%regions)}
		if err := imw.Create(ctx, &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			return err
		}
		return imw.Create(ctx, &edgev2alpha1.Location{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: edgev2alpha1.LocationSpec{
				Resource:         edgev2alpha1.GroupVersionResource{Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "synctargets"},
				InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"id": name}},
			},
		})
	})

	// Mailboxes.
	start = time.Now()
	mailboxes := startProcess(b, filepath.Join(bin, "mailbox-controller"), srv)
	waitFor(b, 10*time.Minute, func() bool {
		list := &corev1.NamespaceList{}
		return espw.List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}) == nil && len(list.Items) == targets
	})
	mailboxTime := time.Since(start)
	time.Sleep(5 * time.Second)
	mailboxRSS := framework.RSSKiB(mailboxes.Pid())

	// Placements: each selects one region, so 100 Locations and 100 destinations apiece.
	parallel(b, placements, 8, func(i int) error {
		return wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ep-%03d", i)},
			Spec: edgev2alpha1.EdgePlacementSpec{LocationSelectors: []metav1.LabelSelector{
				{MatchLabels: map[string]string{"region": fmt.Sprintf("r%d", i%regions)}},
			}},
		})
	})
	// Baseline: the end state written straight into a space, 4 writers.
	destinations := make([]edgev2alpha1.SinglePlacement, targets/regions)
	for i := range destinations {
		destinations[i] = edgev2alpha1.SinglePlacement{Cluster: "c", LocationName: fmt.Sprint(i), SyncTargetName: fmt.Sprint(i), SyncTargetUID: "u"}
	}
	start = time.Now()
	parallel(b, placements, 4, func(i int) error {
		if err := baseline.Create(ctx, &edgev2alpha1.SinglePlacementSlice{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i)}, Destinations: destinations}); err != nil {
			return err
		}
		return baseline.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("status-%d", i), Namespace: "default"}})
	})
	rawSlices := time.Since(start)

	start = time.Now()
	resolver := startProcess(b, filepath.Join(bin, "kubestellar-where-resolver"), srv)
	perPlacement := targets / regions
	waitFor(b, 10*time.Minute, func() bool {
		list := &edgev2alpha1.SinglePlacementSliceList{}
		if wmw.List(ctx, list) != nil || len(list.Items) != placements {
			return false
		}
		for _, s := range list.Items {
			if len(s.Destinations) != perPlacement {
				return false
			}
		}
		return true
	})
	resolveTime := time.Since(start)
	time.Sleep(5 * time.Second)
	resolverRSS := framework.RSSKiB(resolver.Pid())

	table(os.Stdout, "Controllers at size (each its own process; timed from process start to the right end state)",
		[]string{"what", "time", "baseline", "ratio", "controller RSS"},
		[][]string{
			{fmt.Sprintf("%d SyncTargets → %d mailboxes", targets, targets), ms(mailboxTime),
				ms(rawCreate) + " (create " + fmt.Sprint(targets) + " namespaces directly)", fmt.Sprintf("%.2f", float64(mailboxTime)/float64(rawCreate)), mib(mailboxRSS)},
			{fmt.Sprintf("%d placements × %d Locations → %d slices of %d", placements, targets, placements, perPlacement), ms(resolveTime),
				ms(rawSlices) + " (write " + fmt.Sprint(placements) + " slices + " + fmt.Sprint(placements) + " objects directly)",
				fmt.Sprintf("%.2f", float64(resolveTime)/float64(rawSlices)), mib(resolverRSS)},
		})
	table(os.Stdout, "Reconciles (from each controller's /metrics)", []string{"controller", "reconciles", "errors"},
		[][]string{
			{"mailbox", reconciles(b, mailboxes, "mailbox", "success"), reconciles(b, mailboxes, "mailbox", "error")},
			{"where-resolver", reconciles(b, resolver, "where-resolver", "success"), reconciles(b, resolver, "where-resolver", "error")},
		})
	b.ReportMetric(float64(mailboxTime.Milliseconds()), "ms-1000-mailboxes")
	b.ReportMetric(float64(resolveTime.Milliseconds()), "ms-100-slices")
}

// parallel runs fn for 0..n-1 with the given number of workers, failing on the first error.
func parallel(b *testing.B, n, workers int, fn func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
}

type controllerProcess struct {
	*process.Process
	metricsURL string
}

func startProcess(b *testing.B, path string, srv *framework.SpaceServer) *controllerProcess {
	b.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(b, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := framework.StartCommand(b, path, "--root-kubeconfig", srv.Kubeconfig, "--base-kubeconfig", srv.Kubeconfig,
		"--metrics-bind-address", addr, "--health-bind-address", "", "--qps", "200", "--burst", "400")
	return &controllerProcess{Process: p, metricsURL: "http://" + addr + "/metrics"}
}

// reconciles reads controller_runtime_reconcile_total for a controller and result.
func reconciles(b *testing.B, p *controllerProcess, controller, result string) string {
	resp, err := http.Get(p.metricsURL)
	require.NoError(b, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	want := fmt.Sprintf(`controller_runtime_reconcile_total{controller=%q,result=%q} `, controller, result)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, want); ok {
			return v
		}
	}
	return "0"
}

func waitFor(b *testing.B, timeout time.Duration, cond func() bool) {
	b.Helper()
	err := wait.PollUntilContextTimeout(b.Context(), 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	require.NoError(b, err)
}
