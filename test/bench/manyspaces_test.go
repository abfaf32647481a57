package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

// manySpacesEnv sets how many WMWs BenchmarkManySpaces makes (default 100).
const manySpacesEnv = "KUBESTELLAR_BENCH_SPACES"

// BenchmarkManySpaces makes workload management spaces on one space server, a few at a time,
// up to 100 (manySpacesEnv), and at 10, 25, 50 and all of them reports how long they took to
// become Ready, their memory, the space server's, and a GET's latency through the front proxy
// against the same GET sent straight to the spaces' API servers, with every space live.
func BenchmarkManySpaces(b *testing.B) {
	total := 100
	if v := os.Getenv(manySpacesEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, manySpacesEnv)
		total = n
	}
	srv := framework.StartSpaceServer(b)
	root := srv.Client(spaces.RootPath)
	ctx := b.Context()

	var checkpoints []int
	for _, n := range []int{10, 25, 50} {
		if n < total {
			checkpoints = append(checkpoints, n)
		}
	}
	checkpoints = append(checkpoints, total)

	const inFlight = 4
	var (
		growth  [][]string
		names   []string
		started = time.Now()
	)
	for _, upTo := range checkpoints {
		batch := make([]string, 0, upTo-len(names))
		for i := len(names); i < upTo; i++ {
			batch = append(batch, fmt.Sprintf("wmw%03d", i))
		}
		errs := makeSpaces(ctx, root, batch, inFlight)
		for _, err := range errs {
			require.NoError(b, err)
		}
		names = append(names, batch...)
		elapsed := time.Since(started)
		// Let the new spaces settle before they are measured idle.
		time.Sleep(20 * time.Second)

		ids := make([]string, len(names))
		for i, name := range names {
			space := &spacev1alpha1.Space{}
			require.NoError(b, root.Get(ctx, client.ObjectKey{Name: name}, space))
			ids[i] = space.Status.Cluster
		}
		var api, kcm framework.Memory
		var pids []int
		for _, id := range ids {
			for _, program := range []string{"kube-apiserver", "kube-controller-manager"} {
				p, ok := srv.SpaceProcess(id, program)
				require.True(b, ok, "space %s runs its %s", id, program)
				m, err := framework.MemoryOf(p.PID)
				require.NoError(b, err)
				sum := &api
				if program == "kube-controller-manager" {
					sum = &kcm
				}
				sum.PrivateDirty += m.PrivateDirty
				pids = append(pids, p.PID)
			}
		}
		idle := idleCPU(b, pids, 10*time.Second)
		self, err := framework.MemoryOf(os.Getpid())
		require.NoError(b, err)
		proxied, direct := proxyAgainstDirect(b, srv, names, ids, 20)
		n := int64(len(ids))
		row := []string{
			strconv.Itoa(len(ids)), elapsed.Round(time.Second).String(),
			mib(api.PrivateDirty / n), mib(kcm.PrivateDirty / n), mib(api.PrivateDirty + kcm.PrivateDirty), mib(self.RSS),
			fmt.Sprintf("%.0f m", idle/float64(n)), fmt.Sprintf("%.0f m", idle),
			ms(percentile(proxied, 50)), ms(percentile(proxied, 99)), ms(percentile(direct, 50)), ms(percentile(direct, 99)),
			fmt.Sprintf("%.2f", float64(percentile(proxied, 50))/float64(percentile(direct, 50))),
		}
		growth = append(growth, row)
		// Each row as it comes: the larger counts can take long on a small machine.
		fmt.Println(strings.Join(row, "  "))
	}
	table(os.Stdout, fmt.Sprintf("Many WMWs on one space server (made %d at a time; memory and CPU 20 s after the last is Ready, CPU over 10 s; GETs of the default namespace, 20 per space, every space live)", inFlight),
		[]string{"spaces", "all Ready after", "kube-apiserver private / space", "kube-controller-manager private / space",
			"spaces' private, all", "space server RSS (the benchmark process)", "idle CPU / space", "idle CPU, all",
			"proxy p50", "proxy p99", "direct p50", "direct p99", "proxy/direct p50"},
		growth)
	b.ReportMetric(float64(len(names)), "spaces")
}

// makeSpaces creates the WMWs named, inFlight at a time, each waited for until Ready.
func makeSpaces(ctx context.Context, root client.Client, names []string, inFlight int) []error {
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for i := range next {
				errs[i] = makeSpace(ctx, root, names[i])
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

func makeSpace(ctx context.Context, root client.Client, name string) error {
	space := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{spacev1alpha1.LabelRole: spacev1alpha1.RoleWorkload}}}
	if err := root.Create(ctx, space); err != nil {
		return fmt.Errorf("creating Space %s: %w", name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := root.Get(ctx, client.ObjectKeyFromObject(space), space); err != nil {
			return false, nil //nolint:nilerr // tried again
		}
		return space.Status.Phase == spacev1alpha1.SpacePhaseReady, nil
	})
	if err != nil {
		return fmt.Errorf("space %s did not become Ready: %w (status %+v)", name, err, space.Status)
	}
	return nil
}

// proxyAgainstDirect sends perSpace GETs of the default namespace to every space (the WMWs
// named, with those IDs), each through the front proxy and straight to the space's
// kube-apiserver, interleaved, and returns both latencies.
func proxyAgainstDirect(b *testing.B, srv *framework.SpaceServer, names, ids []string, perSpace int) (proxied, direct []time.Duration) {
	b.Helper()
	cfg := srv.Config(spaces.RootPath)
	httpc := httpClient(b, cfg)
	defer httpc.CloseIdleConnections()
	viaProxy := make([]string, len(ids))
	straight := make([]string, len(ids))
	for i, id := range ids {
		p, ok := srv.SpaceProcess(id, "kube-apiserver")
		require.True(b, ok)
		viaProxy[i] = spaces.URL(srv.BaseURL(), spaces.ChildPath(names[i])) + "/api/v1/namespaces/default"
		straight[i] = "https://127.0.0.1:" + flagValue(p.Args, "secure-port") + "/api/v1/namespaces/default"
		// One GET each first, so that every connection is made before timing.
		get(b, httpc, viaProxy[i])
		get(b, httpc, straight[i])
	}
	for range perSpace {
		for i := range ids {
			proxied = append(proxied, get(b, httpc, viaProxy[i]))
			direct = append(direct, get(b, httpc, straight[i]))
		}
	}
	return proxied, direct
}

// idleCPU is the CPU the processes use over window, in millicores.
func idleCPU(b *testing.B, pids []int, window time.Duration) float64 {
	b.Helper()
	total := func() time.Duration {
		var sum time.Duration
		for _, pid := range pids {
			t, err := framework.CPUTime(pid)
			require.NoError(b, err)
			sum += t
		}
		return sum
	}
	before := total()
	time.Sleep(window)
	return float64(total()-before) / float64(window) * 1000
}
