package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/process"
	"github.com/kubestellar/kubestellar/test/framework"
)

const (
	// dpStepTimeout bounds each measured step, so that a pipeline too slow to finish is
	// reported as such instead of hanging the run.
	dpStepTimeout    = 5 * time.Minute
	dpSequential     = 50
	dpObjects        = 100
	dpInFlight       = 100
	dpScaleObjects   = 1000
	dpSyncerRSSLimit = 40 << 10 // KiB
	dpNamespace      = "datapath"
	dpFloorNamespace = "datapath-floor"
	dpLocationLabel  = "datapath"
)

// BenchmarkDataPath measures the whole data path (workspace → placement translator →
// mailbox → syncer → cluster) for 2 and 10 workload execution clusters, each a real
// kube-apiserver with its own syncer process, against the floor: the same writes made
// straight to the clusters at the same concurrency. Arrivals are seen through a watch on
// each cluster. It also reports the CPU and memory of the core and of each syncer, and the
// requests each delivered object costs the clusters' and the core space's apiservers.
func BenchmarkDataPath(b *testing.B) {
	bin := framework.BuildCommands(b, "mailbox-controller", "kubestellar-where-resolver", "placement-translator", "kubestellar-syncer")
	var results []*dpResult
	for _, n := range []int{2, 10} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			r := runDataPath(b, bin, n, n == 2)
			results = append(results, r)
			for _, s := range r.steps {
				if s.pipeErr == "" && s.floorErr == "" && s.floor > 0 {
					b.ReportMetric(float64(s.pipeline)/float64(s.floor), s.metric+"-ratio")
				}
			}
		})
	}
	printDataPath(os.Stdout, results)
}

// dpStep is one measured step: the pipeline's time and the floor's.
type dpStep struct {
	name, metric      string
	pipeline, floor   time.Duration
	pipeErr, floorErr string // "timeout" or "skipped" when there is no time
	target            float64
}

type dpResult struct {
	n        int
	steps    []dpStep
	usage    [][]string
	split    [][]string
	requests [][]string
	scale    [][]string
}

// dpWriter writes ConfigMaps into one namespace of every one of its clusters, concurrently.
type dpWriter struct {
	clients   []kubernetes.Interface
	namespace string
}

func (w dpWriter) each(ctx context.Context, fn func(context.Context, kubernetes.Interface) error) error {
	if len(w.clients) == 1 {
		return fn(ctx, w.clients[0])
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range w.clients {
		g.Go(func() error { return fn(ctx, c) })
	}
	return g.Wait()
}

func (w dpWriter) create(ctx context.Context, name, value string) error {
	return w.each(ctx, func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().ConfigMaps(w.namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.namespace}, Data: map[string]string{dataKey: value}}, metav1.CreateOptions{})
		return err
	})
}

func (w dpWriter) update(ctx context.Context, name, value string) error {
	patch := fmt.Appendf(nil, `{"data":{%q:%q}}`, dataKey, value)
	return w.each(ctx, func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().ConfigMaps(w.namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

func (w dpWriter) delete(ctx context.Context, name string) error {
	return w.each(ctx, func(ctx context.Context, c kubernetes.Interface) error {
		return c.CoreV1().ConfigMaps(w.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
}

func (w dpWriter) keys(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = w.namespace + "/" + n
	}
	return out
}

// inFlight runs fn on every name, with up to workers calls at once.
func inFlight(ctx context.Context, names []string, workers int, fn func(context.Context, string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, n := range names {
		g.Go(func() error { return fn(ctx, n) })
	}
	return g.Wait()
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// dpProbe is a component whose CPU and memory are reported; pids lists its processes (0 is
// this process).
type dpProbe struct {
	component string
	pids      []int
}

func (p dpProbe) cpu() float64 {
	total := 0.0
	for _, pid := range p.pids {
		total += max(0, cpuSeconds(pid))
	}
	return total
}

func (p dpProbe) mem() (rss, peak int64) {
	for _, pid := range p.pids {
		r, h := memKiB(pid)
		rss, peak = rss+r, peak+h
	}
	return rss, peak
}

func runDataPath(b *testing.B, bin string, n int, withScale bool) *dpResult {
	ctx := b.Context()
	res := &dpResult{n: n}
	srv := framework.StartSpaceServer(b)
	espwSpace := srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	imw, espw := srv.Client("root:imw1"), srv.Client(espwPath)

	wecs := make([]*framework.APIServer, n)
	wecConfigs := make([]*rest.Config, n)
	floorClients := make([]kubernetes.Interface, n)
	for i := range wecs {
		wecs[i] = framework.StartAPIServer(b)
		wecConfigs[i] = wecs[i].Config
		floorClients[i] = kubernetes.NewForConfigOrDie(unthrottled(wecs[i].Config))
	}

	core := []struct {
		name string
		proc *process.Process
	}{
		{"mailbox-controller", startCoreProcess(b, bin, "mailbox-controller", srv)},
		{"where-resolver", startCoreProcess(b, bin, "kubestellar-where-resolver", srv)},
		{"placement-translator", startCoreProcess(b, bin, "placement-translator", srv)},
	}
	syncers := make([]*process.Process, n)
	for i, api := range wecs {
		name := fmt.Sprintf("wec-%02d", i)
		st := location(b, imw, name, map[string]string{"bench": dpLocationLabel})
		box := mailbox.Name(imw1.Status.Cluster, st.UID)
		waitFor(b, 2*time.Minute, func() bool { return espw.Get(ctx, client.ObjectKey{Name: box}, &corev1.Namespace{}) == nil })
		syncers[i] = startSyncerProcess(b, bin, srv, box, name, string(st.UID), api.Config)
	}
	watched := watchCopies(b, wecConfigs, dpNamespace, dpFloorNamespace)
	wrapped := watchWrappers(b, srv.Config(espwPath))

	pipeline := dpWriter{clients: []kubernetes.Interface{kubernetes.NewForConfigOrDie(unthrottled(srv.Config("root:wmw1")))}, namespace: dpNamespace}
	floor := dpWriter{clients: floorClients, namespace: dpFloorNamespace}
	for _, c := range floorClients {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dpFloorNamespace}}, metav1.CreateOptions{})
		require.NoError(b, err)
	}
	placeNamespace(b, srv.Client("root:wmw1"), dpNamespace, map[string]string{"bench": dpLocationLabel})

	// Warm-up: the first object also starts every watch and connection on the way.
	pipelineUp := true
	for _, w := range []dpWriter{floor, pipeline} {
		stepCtx, cancel := context.WithTimeout(ctx, dpStepTimeout)
		require.NoError(b, w.create(stepCtx, "warm-up", "1"))
		_, err := watched.await(stepCtx, w.keys([]string{"warm-up"}), true, "1")
		cancel()
		if w.namespace == dpNamespace && errors.Is(err, context.DeadlineExceeded) {
			pipelineUp = false
			continue
		}
		require.NoError(b, err)
	}

	// What the run costs: the core as its processes (the space server's own code runs in
	// this process, with the benchmark's clients), and each syncer.
	probes := []dpProbe{}
	for _, c := range core {
		probes = append(probes, dpProbe{c.name, []int{c.proc.Pid()}})
	}
	var spaceAPIs, spaceKCMs []int
	espwAPI := dpProbe{component: "ESPW kube-apiserver"}
	for _, p := range framework.ProcessesMatching(srv.Options.RootDir + "/spaces/") {
		switch {
		case strings.HasSuffix(p.Args[0], "kube-apiserver") && strings.Contains(strings.Join(p.Args, " "), espwSpace.Status.Cluster):
			espwAPI.pids = append(espwAPI.pids, p.PID)
		case strings.HasSuffix(p.Args[0], "kube-apiserver"):
			spaceAPIs = append(spaceAPIs, p.PID)
		case strings.HasSuffix(p.Args[0], "kube-controller-manager"):
			spaceKCMs = append(spaceKCMs, p.PID)
		}
	}
	probes = append(probes, espwAPI,
		dpProbe{fmt.Sprintf("other space kube-apiservers (%d)", len(spaceAPIs)), spaceAPIs},
		dpProbe{fmt.Sprintf("space kube-controller-managers (%d)", len(spaceKCMs)), spaceKCMs},
		dpProbe{"benchmark process (space server front proxy + etcd, benchmark clients)", []int{0}})
	var wecPIDs []int
	for _, api := range wecs {
		for _, p := range framework.ProcessesMatching(api.Dir + "/") {
			wecPIDs = append(wecPIDs, p.PID)
		}
	}
	wecProbe := dpProbe{fmt.Sprintf("WEC kube-apiservers + etcds (%d processes; floor writes too)", len(wecPIDs)), wecPIDs}
	syncerProbes := make([]dpProbe, n)
	for i, p := range syncers {
		syncerProbes[i] = dpProbe{fmt.Sprintf("syncer wec-%02d", i), []int{p.Pid()}}
	}
	allProbes := append(append(slices.Clone(probes), wecProbe), syncerProbes...)
	cpuBefore := make([]float64, len(allProbes))
	for i, p := range allProbes {
		cpuBefore[i] = p.cpu()
	}

	wecRequests := requestCounter(wecConfigs)
	espwRequests := requestCounter{srv.Config(espwPath)}
	// measure runs one step's floor, then its pipeline; once the pipeline has timed out, the
	// pipeline's later steps are skipped. W2 also counts requests.
	measure := func(name, metric string, target float64, run func(context.Context, dpWriter) ([]time.Duration, error), pick func([]time.Duration) time.Duration) {
		step := dpStep{name: name, metric: metric, target: target}
		for _, w := range []dpWriter{floor, pipeline} {
			var t time.Duration
			errText := ""
			if w.namespace == dpNamespace && !pipelineUp {
				errText = "skipped"
			} else {
				stepCtx, cancel := context.WithTimeout(ctx, dpStepTimeout)
				ds, err := run(stepCtx, w)
				cancel()
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					errText = "timeout"
				default:
					require.NoError(b, err, "%s (%s)", name, w.namespace)
					t = pick(ds)
				}
			}
			if w.namespace == dpNamespace {
				step.pipeline, step.pipeErr = t, errText
				pipelineUp = pipelineUp && errText == ""
			} else {
				step.floor, step.floorErr = t, errText
			}
		}
		res.steps = append(res.steps, step)
	}

	w1 := map[string][]time.Duration{}
	var toMailboxes, toClusters []time.Duration // W1's pipeline samples, split where the wrappers appear
	w1Run := func(ctx context.Context, w dpWriter) ([]time.Duration, error) {
		var ds []time.Duration
		for _, name := range names("w1", dpSequential) {
			start := time.Now()
			if err := w.create(ctx, name, "1"); err != nil {
				return nil, err
			}
			at, err := watched.await(ctx, w.keys([]string{name}), true, "1")
			if err != nil {
				return nil, err
			}
			ds = append(ds, at.Sub(start))
			if w.namespace == dpNamespace {
				if wrappedAt, ok := wrapped.lastArrival(w.keys([]string{name})[0], n); ok {
					toMailboxes, toClusters = append(toMailboxes, wrappedAt.Sub(start)), append(toClusters, at.Sub(wrappedAt))
				}
			}
		}
		w1[w.namespace] = ds
		return ds, nil
	}
	bulkTarget := 2.0
	if n > 2 {
		bulkTarget = 3
	}
	measure(fmt.Sprintf("W1 p50: %d sequential creates → present in every WEC", dpSequential), "W1-p50", 0, w1Run,
		func(ds []time.Duration) time.Duration { return percentile(ds, 50) })
	// The p99 comes from the same samples as the p50.
	p50 := res.steps[len(res.steps)-1]
	p99 := dpStep{name: fmt.Sprintf("W1 p99: %d sequential creates → present in every WEC", dpSequential), metric: "W1-p99", target: 3,
		pipeErr: p50.pipeErr, floorErr: p50.floorErr, pipeline: percentile(w1[dpNamespace], 99), floor: percentile(w1[dpFloorNamespace], 99)}
	res.steps = append(res.steps, p99)
	for _, part := range []struct {
		what string
		ds   []time.Duration
	}{
		{"create in the WMW → its wrapper in every mailbox (placement translator)", toMailboxes},
		{"wrapper in every mailbox → the copy in every WEC (syncers)", toClusters},
	} {
		res.split = append(res.split, []string{part.what, fmt.Sprint(n), fmt.Sprintf("%d of %d", len(part.ds), dpSequential),
			dpDuration(percentile(part.ds, 50)), dpDuration(percentile(part.ds, 99))})
	}

	bulk := names("w2", dpObjects)
	wall := func(ds []time.Duration) time.Duration { return ds[0] }
	requests := map[string][2]string{}
	measure(fmt.Sprintf("W2: %d creates, %d in flight → every copy present", dpObjects, dpInFlight), "W2", bulkTarget,
		func(ctx context.Context, w dpWriter) ([]time.Duration, error) {
			wecBefore, espwBefore := wecRequests.snapshot(ctx), espwRequests.snapshot(ctx)
			start := time.Now()
			if err := inFlight(ctx, bulk, dpInFlight, func(ctx context.Context, name string) error { return w.create(ctx, name, "1") }); err != nil {
				return nil, err
			}
			at, err := watched.await(ctx, w.keys(bulk), true, "1")
			if err != nil {
				return nil, err
			}
			// Requests made for these objects after they arrived (status written back, say)
			// count too.
			time.Sleep(5 * time.Second)
			delivered := dpObjects * n
			requests[w.namespace] = [2]string{
				perObject(wecBefore, wecRequests.snapshot(ctx), delivered),
				perObject(espwBefore, espwRequests.snapshot(ctx), delivered),
			}
			return []time.Duration{at.Sub(start)}, nil
		}, wall)
	measure(fmt.Sprintf("W3: %d updates (a data value), %d in flight → every copy current", dpObjects, dpInFlight), "W3", bulkTarget,
		func(ctx context.Context, w dpWriter) ([]time.Duration, error) {
			start := time.Now()
			if err := inFlight(ctx, bulk, dpInFlight, func(ctx context.Context, name string) error { return w.update(ctx, name, "2") }); err != nil {
				return nil, err
			}
			at, err := watched.await(ctx, w.keys(bulk), true, "2")
			return []time.Duration{at.Sub(start)}, err
		}, wall)
	measure(fmt.Sprintf("W4: %d deletes, %d in flight → every copy gone", dpObjects, dpInFlight), "W4", bulkTarget,
		func(ctx context.Context, w dpWriter) ([]time.Duration, error) {
			start := time.Now()
			if err := inFlight(ctx, bulk, dpInFlight, func(ctx context.Context, name string) error { return w.delete(ctx, name) }); err != nil {
				return nil, err
			}
			at, err := watched.await(ctx, w.keys(bulk), false, "")
			return []time.Duration{at.Sub(start)}, err
		}, wall)

	for i, p := range allProbes {
		rss, peak := p.mem()
		res.usage = append(res.usage, []string{p.component, fmt.Sprint(n), fmt.Sprintf("%.1f s", p.cpu()-cpuBefore[i]), mib(rss), mib(peak)})
	}
	for _, w := range []string{dpNamespace, dpFloorNamespace} {
		label := map[string]string{dpNamespace: "pipeline", dpFloorNamespace: "floor"}[w]
		r, ok := requests[w]
		if !ok {
			r = [2]string{"n/a", "n/a"}
		}
		res.requests = append(res.requests,
			[]string{fmt.Sprint(n), label, "WEC kube-apiservers (sum)", r[0]},
			[]string{fmt.Sprint(n), label, "ESPW kube-apiserver", r[1]})
	}

	if withScale {
		res.scale = dpScale(b, pipeline, watched, syncerProbes, pipelineUp)
	}
	return res
}

// dpScale places 1,000 ConfigMaps and reads each syncer's memory once they have all arrived.
func dpScale(b *testing.B, pipeline dpWriter, watched *copies, syncers []dpProbe, pipelineUp bool) [][]string {
	objects := names("scale", dpScaleObjects)
	took := "skipped"
	if pipelineUp {
		ctx, cancel := context.WithTimeout(b.Context(), dpStepTimeout)
		start := time.Now()
		err := inFlight(ctx, objects, dpInFlight, func(ctx context.Context, name string) error { return pipeline.create(ctx, name, "1") })
		var at time.Time
		if err == nil {
			at, err = watched.await(ctx, pipeline.keys(objects), true, "1")
		}
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			took = "timeout"
		default:
			require.NoError(b, err)
			took = "all there in " + dpDuration(at.Sub(start))
		}
		// Let the syncers finish what follows the arrivals (status back to the wrappers).
		time.Sleep(5 * time.Second)
	}
	var rows [][]string
	for _, s := range syncers {
		rss, peak := s.mem()
		rows = append(rows, []string{fmt.Sprintf("%s RSS, %d ConfigMaps placed (%s)", s.component, dpScaleObjects, took),
			fmt.Sprint(len(syncers)), mib(rss), mib(peak), "≤ 40 MiB", met(strings.HasPrefix(took, "all there") && rss <= dpSyncerRSSLimit)})
	}
	return rows
}

// unthrottled copies cfg without the client-side rate limit, so that the benchmark's own
// writes (pipeline and floor alike) are never held back by their client.
func unthrottled(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 100000, 100000
	return c
}

// dpDuration prints milliseconds below 10 s and seconds above.
func dpDuration(d time.Duration) string {
	if d < 10*time.Second {
		return ms(d)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func printDataPath(w io.Writer, results []*dpResult) {
	var steps, usage, split, requests, scale [][]string
	for _, r := range results {
		for _, s := range r.steps {
			pipe, floor, ratio, target, ok := dpDuration(s.pipeline), dpDuration(s.floor), "", "", ""
			if s.pipeErr != "" {
				pipe = s.pipeErr
			}
			if s.floorErr != "" {
				floor = s.floorErr
			}
			if s.pipeErr == "" && s.floorErr == "" && s.floor > 0 {
				ratio = fmt.Sprintf("%.1f×", float64(s.pipeline)/float64(s.floor))
			}
			if s.target > 0 {
				target = fmt.Sprintf("≤ %.0f× floor", s.target)
				ok = met(ratio != "" && float64(s.pipeline) <= s.target*float64(s.floor))
			}
			steps = append(steps, []string{s.name, fmt.Sprint(r.n), pipe, floor, ratio, target, ok})
		}
		usage = append(usage, r.usage...)
		split = append(split, r.split...)
		requests = append(requests, r.requests...)
		scale = append(scale, r.scale...)
	}
	table(w, "Data path: workspace → translator → mailbox → syncer → cluster (pipeline), against the same writes made straight to the N clusters (floor); arrivals seen by watches",
		[]string{"step", "N", "pipeline", "floor", "ratio", "target", "met"}, steps)
	table(w, "Data path: W1's pipeline time split where the wrappers appear in the core space (seen by a watch there)",
		[]string{"part", "N", "samples", "p50", "p99"}, split)
	table(w, "Data path: CPU over W1–W4 (floor steps included) and memory after W4",
		[]string{"component", "N", "CPU", "RSS", "peak RSS"}, usage)
	if len(scale) > 0 {
		table(w, "Data path: syncer memory with many objects", []string{"what", "N", "RSS", "peak RSS", "target", "met"}, scale)
	}
	table(w, "Data path: apiserver requests per delivered object during W2 (apiserver_request_total, by verb and resource)",
		[]string{"N", "path", "apiserver", "requests per object"}, requests)
}
