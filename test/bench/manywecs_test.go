package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/test/framework"
)

// manyWECsEnv sets the most WECs BenchmarkManyWECs makes (default 1000); it always runs 100
// first, so that the growth between the two can be read.
const manyWECsEnv = "KUBESTELLAR_BENCH_WECS"

const (
	// mwClusters is how many kube-apiservers play the WECs that have a syncer.
	mwClusters = 10
	// mwPerSyncer is how many WECs there are per connected syncer: one in five has one.
	mwPerSyncer = 5
	// mwObjects is how many ConfigMaps every WEC gets (and their namespace).
	mwObjects = 10
)

// BenchmarkManyWECs registers 100 and then 1,000 WECs (SyncTargets with their Locations, and
// so mailboxes) and connects a syncer to one in five of them: 200 syncers at 1,000, each run
// in this process with its own clients and caches, as a syncer process would. Every WEC gets
// 10 ConfigMaps and their namespace. It reports the time until every mailbox exists, until
// every wrapper is written and until every copy is in its cluster; the core's CPU and
// memory; the ESPW kube-apiserver's watches and memory; and how each grows from 100 to 1,000.
//
// Two syncers cannot deliver the same object into one cluster (the second finds it is not
// its own), and 200 kube-apiservers do not fit on 2 cores, so the syncers share 10 clusters
// this way: the WECs are in groups of 50, the placement of group g sends 10 ConfigMaps of its
// own namespace to its WECs, and each cluster holds the syncer of one WEC of every group.
// The fan-out (10 objects and a namespace per WEC) is the one of 10 objects placed on all.
func BenchmarkManyWECs(b *testing.B) {
	largest := 1000
	if v := os.Getenv(manyWECsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, manyWECsEnv)
		require.GreaterOrEqual(b, n, mwClusters*mwPerSyncer, "%s: at least %d WECs, one syncer for each of the %d clusters", manyWECsEnv, mwClusters*mwPerSyncer, mwClusters)
		largest = n
	}
	sizes := []int{largest}
	if largest > 100 {
		sizes = []int{100, largest}
	}
	bin := framework.BuildCommands(b, "mailbox-controller", "kubestellar-where-resolver", "placement-translator")
	var runs []*mwResult
	for _, n := range sizes {
		b.Run(fmt.Sprintf("WECs=%d", n), func(b *testing.B) {
			r := runManyWECs(b, bin, n)
			runs = append(runs, r)
			b.ReportMetric(r.converged.Seconds(), "s-converged")
		})
	}
	printManyWECs(runs)
}

// mwResult is what one size measured.
type mwResult struct {
	wecs, syncers, wrappers           int
	mailboxes, written, converged     time.Duration
	espwWatches                       int // -1 when the server did not say
	components                        []mwComponent
	espwRSS, benchRSS                 int64 // KiB
	mailboxesErr, writtenErr, copyErr string
}

// mwComponent is one part of the core: its CPU while the placements converged, its idle CPU
// after, and its memory then.
type mwComponent struct {
	name       string
	cpu        float64 // seconds
	millicores float64
	rss        int64 // KiB
}

func runManyWECs(b *testing.B, bin string, n int) *mwResult {
	ctx := b.Context()
	syncers := n / mwPerSyncer
	groups := syncers / mwClusters
	res := &mwResult{wecs: n, syncers: groups * mwClusters, wrappers: n * (mwObjects + 1)}

	srv := framework.StartSpaceServer(b)
	espwSpace := srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	imw, wmw := srv.Client("root:imw1"), srv.Client("root:wmw1")
	clusters := make([]*framework.APIServer, mwClusters)
	clusterConfigs := make([]*rest.Config, mwClusters)
	for i := range clusters {
		clusters[i] = framework.StartAPIServer(b)
		clusterConfigs[i] = clusters[i].Config
	}
	core := map[string]int{}
	for _, name := range []string{"mailbox-controller", "kubestellar-where-resolver", "placement-translator"} {
		core[name] = startCoreProcess(b, bin, name, srv).Pid()
	}

	// The WECs: WEC i is in group i % groups; the first mwClusters of every group have a
	// syncer, the j-th of them in cluster j.
	targets := make([]*edgev2alpha1.SyncTarget, n)
	mailboxes := watchMailboxes(b, srv.Config(espwPath))
	start := time.Now()
	parallel(b, n, 16, func(i int) error {
		st, err := createLocation(ctx, imw, fmt.Sprintf("wec-%04d", i), map[string]string{"bench-group": strconv.Itoa(i % groups)})
		targets[i] = st
		return err
	})
	mailboxesCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	err := awaitCondition(mailboxesCtx, time.Second, func() bool { return len(mailboxes.List()) == n })
	cancel()
	res.mailboxes, res.mailboxesErr = since(start, err)
	require.Empty(b, res.mailboxesErr, "every mailbox made")

	for i, st := range targets {
		if i/groups >= mwClusters {
			continue
		}
		box := mailbox.Name(imw1.Status.Cluster, st.UID)
		framework.StartSyncer(b, srv, espwPath, box, st.Name, clusterConfigs[i/groups], func(o *syncer.Options) {
			o.SyncTargetUID = st.UID
			o.HeartbeatInterval = 0 // the command's default
		})
	}
	namespaces := make([]string, groups)
	for g := range namespaces {
		namespaces[g] = fmt.Sprintf("fleet-%02d", g)
	}
	copies := watchCopies(b, clusterConfigs, namespaces...)
	wrapped := watchWrappers(b, srv.Config(espwPath))
	var keys []string
	for _, ns := range namespaces {
		require.NoError(b, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		for i := range mwObjects {
			name := fmt.Sprintf("cm-%02d", i)
			require.NoError(b, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{dataKey: "1"}}))
			keys = append(keys, ns+"/"+name)
		}
	}

	espwPIDs := []int{}
	for _, p := range framework.ProcessesMatching(srv.Options.RootDir + "/spaces/") {
		if strings.HasSuffix(p.Args[0], "kube-apiserver") && strings.Contains(strings.Join(p.Args, " "), espwSpace.Status.Cluster) {
			espwPIDs = append(espwPIDs, p.PID)
		}
	}
	require.Len(b, espwPIDs, 1, "the ESPW's kube-apiserver")
	probes := []dpProbe{}
	for _, name := range []string{"mailbox-controller", "kubestellar-where-resolver", "placement-translator"} {
		probes = append(probes, dpProbe{name, []int{core[name]}})
	}
	probes = append(probes, dpProbe{"ESPW kube-apiserver", espwPIDs},
		dpProbe{fmt.Sprintf("benchmark process (space server front proxy + etcd, %d syncers, benchmark watches)", res.syncers), []int{0}})
	cpuBefore := make([]float64, len(probes))
	for i, p := range probes {
		cpuBefore[i] = p.cpu()
	}

	start = time.Now()
	for g, ns := range namespaces {
		require.NoError(b, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
			ObjectMeta: metav1.ObjectMeta{Name: "place-" + ns},
			Spec: edgev2alpha1.EdgePlacementSpec{
				LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bench-group": strconv.Itoa(g)}}},
				Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{ns}}},
			},
		}))
	}
	convergeCtx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	at, err := copies.await(convergeCtx, keys, true, "1")
	res.converged, res.copyErr = since(start, err)
	if err == nil {
		res.converged = at.Sub(start)
	}
	var writtenAt time.Time
	err = awaitCondition(convergeCtx, time.Second, func() bool {
		var all bool
		writtenAt, all = wrapped.allBy(res.wrappers)
		return all
	})
	res.written, res.writtenErr = since(start, err)
	if err == nil {
		res.written = writtenAt.Sub(start)
	}
	cpuAfter := make([]float64, len(probes))
	for i, p := range probes {
		cpuAfter[i] = p.cpu()
	}

	// Idle: once what the placements caused has settled.
	time.Sleep(20 * time.Second)
	const idleWindow = 20 * time.Second
	idleBefore := make([]float64, len(probes))
	for i, p := range probes {
		idleBefore[i] = p.cpu()
	}
	time.Sleep(idleWindow)
	for i, p := range probes {
		rss, _ := p.mem()
		res.components = append(res.components, mwComponent{name: p.component, cpu: cpuAfter[i] - cpuBefore[i],
			millicores: (p.cpu() - idleBefore[i]) / idleWindow.Seconds() * 1000, rss: rss})
	}
	res.espwRSS = res.components[3].rss
	res.benchRSS = res.components[4].rss
	res.espwWatches = watchCount(ctx, srv.Config(espwPath))
	return res
}

// since is the time from start, or what kept the wait from ending.
func since(start time.Time, err error) (time.Duration, string) {
	if err != nil {
		return 0, "not within the time allowed"
	}
	return time.Since(start), ""
}

// awaitCondition checks cond, which reads only what the benchmark's watches hold, every
// interval until it holds or ctx ends.
func awaitCondition(ctx context.Context, interval time.Duration, cond func() bool) error {
	return wait.PollUntilContextCancel(ctx, interval, true, func(context.Context) (bool, error) { return cond(), nil })
}

// watchMailboxes watches the mailbox namespaces of the core space, metadata only, with a
// client of its own, so that waiting for them lists nothing again; it returns the watch's
// store once it has listed.
func watchMailboxes(b *testing.B, cfg *rest.Config) cache.Store {
	b.Helper()
	mc, err := metadata.NewForConfig(rest.CopyConfig(cfg))
	require.NoError(b, err)
	f := metadatainformer.NewFilteredSharedInformerFactory(mc, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.LabelSelector = mailbox.LabelMailbox + "=true"
	})
	inf := f.ForResource(corev1.SchemeGroupVersion.WithResource("namespaces")).Informer()
	go inf.Run(b.Context().Done())
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	require.True(b, cache.WaitForCacheSync(ctx.Done(), inf.HasSynced), "the core space's mailbox watch lists")
	return inf.GetStore()
}

// watchCount is the number of watches a kube-apiserver serves now (apiserver_longrunning_requests
// with verb WATCH), or -1 when it does not say.
func watchCount(ctx context.Context, cfg *rest.Config) int {
	body, err := apiserverMetrics(ctx, cfg)
	if err != nil {
		return -1
	}
	total, found := 0.0, false
	for _, line := range strings.Split(string(body), "\n") {
		labels, ok := strings.CutPrefix(line, "apiserver_longrunning_requests{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		if !ok || labelValue(labels, "verb") != "WATCH" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return -1
		}
		total, found = total+v, true
	}
	if !found {
		return -1
	}
	return int(total)
}

func printManyWECs(runs []*mwResult) {
	var conv, comps [][]string
	for _, r := range runs {
		show := func(d time.Duration, errText string) string {
			if errText != "" {
				return errText
			}
			return dpDuration(d)
		}
		conv = append(conv, []string{fmt.Sprint(r.wecs), fmt.Sprint(r.syncers), fmt.Sprint(r.wrappers),
			show(r.mailboxes, r.mailboxesErr), show(r.written, r.writtenErr), show(r.converged, r.copyErr), watches(r.espwWatches)})
		for _, c := range r.components {
			comps = append(comps, []string{fmt.Sprint(r.wecs), c.name, fmt.Sprintf("%.1f s", c.cpu), fmt.Sprintf("%.0f", c.millicores), mib(c.rss)})
		}
	}
	table(os.Stdout, fmt.Sprintf("Many WECs: %d ConfigMaps and their namespace on every WEC, one WEC in %d with a syncer (in this process), %d clusters", mwObjects, mwPerSyncer, mwClusters),
		[]string{"WECs", "syncers", "wrappers", "SyncTargets made → every mailbox", "placements made → every wrapper", "placements made → every copy in its cluster", "ESPW watches"}, conv)
	table(os.Stdout, "Many WECs: the core while the placements converge, idle after, and its memory",
		[]string{"WECs", "component", "CPU converging", "idle millicores", "RSS"}, comps)
	if len(runs) < 2 {
		return
	}
	small, large := runs[0], runs[len(runs)-1]
	linear := float64(large.wecs) / float64(small.wecs)
	ratio := func(a, b float64) string {
		if a <= 0 || b <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f×", b/a)
	}
	worse := func(a, b float64) string {
		if a <= 0 || b <= 0 {
			return ""
		}
		return met(b/a <= linear)
	}
	var growth [][]string
	add := func(what string, a, b float64) {
		growth = append(growth, []string{what, ratio(a, b), fmt.Sprintf("%.0f×", linear), worse(a, b)})
	}
	add("every mailbox made", small.mailboxes.Seconds(), large.mailboxes.Seconds())
	add("every wrapper written", small.written.Seconds(), large.written.Seconds())
	add("every copy in its cluster", small.converged.Seconds(), large.converged.Seconds())
	add("ESPW watches", float64(small.espwWatches), float64(large.espwWatches))
	for i := range small.components {
		if i >= len(large.components) {
			break
		}
		s, l := small.components[i], large.components[i]
		add(s.name+" CPU converging", s.cpu, l.cpu)
		add(s.name+" RSS", float64(s.rss), float64(l.rss))
	}
	table(os.Stdout, fmt.Sprintf("Many WECs: growth from %d to %d WECs", small.wecs, large.wecs),
		[]string{"what", "grew", "linear", "at most linear"}, growth)
}

func watches(n int) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.Itoa(n)
}
