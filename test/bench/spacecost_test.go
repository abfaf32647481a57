package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// Windows of the space-cost measurements: processes settle first, then their CPU time is
// read at both ends of a window and their memory at its end.
const (
	costSettle = 20 * time.Second
	costWindow = 25 * time.Second
	// costLoadRate is the small load: writes (create, update, delete of a ConfigMap, in
	// turn) plus one list, per second, per space.
	costLoadRate = 4
)

// BenchmarkSpaceCost measures what each space costs in a core that `kubestellar start` runs
// (root, the core space, one inventory and one workload management space), idle and under a
// small load, beside the whole core's cost; then what each of the space server's levers
// (API surface, admission plugins, watch cache, GOGC) changes in a lone kube-apiserver.
func BenchmarkSpaceCost(b *testing.B) {
	b.Run("core", benchCoreCost)
	b.Run("levers", benchLevers)
}

// coreProc is one process of the core.
type coreProc struct {
	name  string // space path or controller name
	role  string // space role, or "" for the core's own processes
	kind  string // "kube-apiserver", "kube-controller-manager", or the program
	pid   int
	space bool
}

// procCost is what one process cost during a window.
type procCost struct {
	mem        framework.Memory
	millicores float64
}

func benchCoreCost(b *testing.B) {
	dir := framework.TempDir(b)
	bin := framework.BuildCommands(b, commandDirs(b)...)
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(b, err)
	path := []string{bin}
	path = append(path, filepath.SplitList(os.Getenv(framework.AssetsEnv))...)
	path = append(path, filepath.SplitList(os.Getenv("PATH"))...)
	env := append(os.Environ(), "PATH="+strings.Join(path, string(os.PathListSeparator)))
	run := func(args ...string) {
		cmd := exec.CommandContext(b.Context(), filepath.Join(bin, "kubestellar"), args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "kubestellar %v:\n%s", args, out)
	}
	b.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "kubestellar"), "stop", "--log-folder", "logs")
		cmd.Dir, cmd.Env = dir, env
		_ = cmd.Run()
	})
	run("start", "--root-dir", "state", "--log-folder", "logs", "--secure-port", strconv.Itoa(port),
		"--bind-address", "127.0.0.1", "--controller-port", "0")

	kubeconfig := filepath.Join(dir, "state", server.AdminKubeconfig)
	base, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(b, err)
	procs := coreProcesses(b, dir, base)

	time.Sleep(costSettle)
	idle := measureCost(b, procs, nil)
	load := measureCost(b, procs, func(ctx context.Context) { smallLoad(ctx, b, base, procs) })

	header := []string{"space", "role", "process", "Private_Dirty", "PSS", "RSS", "CPU"}
	for _, m := range []struct {
		what string
		cost map[int]procCost
	}{{"idle", idle}, {fmt.Sprintf("under load (%d requests/s per space)", costLoadRate+1), load}} {
		var rows [][]string
		var total procCost
		for _, p := range procs {
			c := m.cost[p.pid]
			total.mem.RSS += c.mem.RSS
			total.mem.PSS += c.mem.PSS
			total.mem.PrivateDirty += c.mem.PrivateDirty
			total.millicores += c.millicores
			if !p.space {
				continue
			}
			rows = append(rows, costRow(p.name, p.role, p.kind, c))
		}
		var others procCost
		for _, p := range procs {
			if !p.space {
				c := m.cost[p.pid]
				others.mem.RSS += c.mem.RSS
				others.mem.PSS += c.mem.PSS
				others.mem.PrivateDirty += c.mem.PrivateDirty
				others.millicores += c.millicores
			}
		}
		rows = append(rows,
			costRow("space server and controllers", "", "", others),
			costRow("whole core", "", fmt.Sprintf("%d processes", len(procs)), total))
		table(os.Stdout, fmt.Sprintf("Space cost, %s (smaps_rollup; CPU over %s after %s settling)", m.what, costWindow, costSettle), header, rows)
		if m.what == "idle" {
			b.ReportMetric(float64(total.mem.RSS)/1024, "MiB-core-idle-RSS")
			b.ReportMetric(total.millicores, "mcpu-core-idle")
		}
	}
}

func costRow(name, role, kind string, c procCost) []string {
	return []string{name, role, kind, mib(c.mem.PrivateDirty), mib(c.mem.PSS), mib(c.mem.RSS), fmt.Sprintf("%.0f m", c.millicores)}
}

// commandDirs lists the project's commands (directories under cmd/).
func commandDirs(b *testing.B) []string {
	entries, err := os.ReadDir(filepath.Join(framework.ModuleRoot(b), "cmd"))
	require.NoError(b, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// coreProcesses finds the core's processes: those `kubestellar start` recorded in its pid
// files, and every space's kube-apiserver and kube-controller-manager, named by space.
func coreProcesses(b *testing.B, dir string, base *rest.Config) []coreProc {
	c, err := client.New(base, client.Options{Scheme: apis.NewScheme()})
	require.NoError(b, err)
	list := &spacev1alpha1.SpaceList{}
	require.NoError(b, c.List(b.Context(), list))
	byID := map[string][2]string{spaces.RootID: {spaces.RootPath, "root"}}
	for _, s := range list.Items {
		byID[s.Status.Cluster] = [2]string{spaces.ChildPath(s.Name), s.Labels[spacev1alpha1.LabelRole]}
	}
	var procs []coreProc
	spacesDir := filepath.Join(dir, "state", "spaces") + "/"
	for _, p := range framework.ProcessesMatching(spacesDir) {
		cmdline := strings.Join(p.Args, " ")
		_, after, _ := strings.Cut(cmdline, spacesDir)
		id, _, _ := strings.Cut(after, "/")
		space, ok := byID[id]
		if !ok {
			continue
		}
		procs = append(procs, coreProc{name: space[0], role: space[1], kind: filepath.Base(p.Args[0]), pid: p.PID, space: true})
	}
	pidFiles, err := filepath.Glob(filepath.Join(dir, "logs", "*.pid"))
	require.NoError(b, err)
	for _, f := range pidFiles {
		data, err := os.ReadFile(f)
		require.NoError(b, err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		require.NoError(b, err)
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		procs = append(procs, coreProc{name: name, kind: name, pid: pid})
	}
	slices.SortFunc(procs, func(x, y coreProc) int {
		if x.space != y.space {
			if x.space {
				return -1
			}
			return 1
		}
		return strings.Compare(x.name+x.kind, y.name+y.kind)
	})
	require.Len(b, slices.DeleteFunc(slices.Clone(procs), func(p coreProc) bool { return !p.space }), 8,
		"the core runs four spaces of two processes each")
	return procs
}

// measureCost reads every process's CPU time at both ends of a window, during which load
// (if any) runs, and its memory at the end.
func measureCost(b *testing.B, procs []coreProc, load func(ctx context.Context)) map[int]procCost {
	before := map[int]time.Duration{}
	for _, p := range procs {
		t, err := framework.CPUTime(p.pid)
		require.NoError(b, err, "%s %s", p.name, p.kind)
		before[p.pid] = t
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(b.Context(), costWindow)
	defer cancel()
	var wg sync.WaitGroup
	if load != nil {
		wg.Go(func() { load(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	elapsed := time.Since(start)
	out := map[int]procCost{}
	for _, p := range procs {
		t, err := framework.CPUTime(p.pid)
		require.NoError(b, err, "%s %s", p.name, p.kind)
		m, err := framework.MemoryOf(p.pid)
		require.NoError(b, err, "%s %s", p.name, p.kind)
		out[p.pid] = procCost{mem: m, millicores: float64(t-before[p.pid]) / float64(elapsed) * 1000}
	}
	return out
}

// smallLoad writes and lists ConfigMaps in the default namespace of every space until ctx
// ends.
func smallLoad(ctx context.Context, b *testing.B, base *rest.Config, procs []coreProc) {
	sc, _, err := spaces.NewClient(base)
	require.NoError(b, err)
	var wg sync.WaitGroup
	for _, p := range procs {
		if !p.space || p.kind != "kube-apiserver" {
			continue
		}
		cfg := sc.Config(p.name)
		cfg.QPS, cfg.Burst = 100, 100
		cs := kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps(metav1.NamespaceDefault)
		// Requests run under the benchmark's context, so that none is cut short by the
		// window's end: the loop stops between requests.
		rctx := b.Context()
		wg.Go(func() {
			tick := time.NewTicker(time.Second / costLoadRate)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				var err error
				switch i % costLoadRate {
				case 0:
					_, err = cs.Create(rctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "load"}, Data: map[string]string{"i": "0"}}, metav1.CreateOptions{})
				case costLoadRate - 1:
					err = cs.Delete(rctx, "load", metav1.DeleteOptions{})
					if err == nil {
						_, err = cs.List(rctx, metav1.ListOptions{})
					}
				default:
					_, err = cs.Update(rctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "load"}, Data: map[string]string{"i": strconv.Itoa(i)}}, metav1.UpdateOptions{})
				}
				if err != nil {
					b.Errorf("load on %s: %v", p.name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// lever is one setting of a lone kube-apiserver.
type lever struct {
	name string
	args []string
	gogc int
}

// benchLevers starts lone kube-apiservers (one etcd, a key prefix each), two at a time, with
// each lever alone and with the profiles the space server uses, and measures them idle.
func benchLevers(b *testing.B) {
	minimal := server.ProfileFor(spaces.RootPath, spacev1alpha1.RoleCore)
	workload := server.ProfileFor("root:wmw", spacev1alpha1.RoleWorkload)
	admissionOff := slices.DeleteFunc(slices.Clone(minimal.APIServerArgs), func(a string) bool {
		return !strings.HasPrefix(a, "--disable-admission-plugins=")
	})
	levers := []lever{
		{name: "none (before)"},
		{name: "admission plugins off", args: admissionOff},
		{name: "watch cache off", args: []string{"--watch-cache=false"}},
		{name: fmt.Sprintf("GOGC=%d", minimal.APIServerGOGC), gogc: minimal.APIServerGOGC},
		{name: "minimal API surface (+ its admission plugins off)", args: minimal.APIServerArgs},
		{name: "profile minimal (root, core, inventory)", args: minimal.APIServerArgs, gogc: minimal.APIServerGOGC},
		{name: "workload API surface (+ admission plugins off)", args: workload.APIServerArgs},
		{name: "profile workload", args: workload.APIServerArgs, gogc: workload.APIServerGOGC},
	}
	dir := framework.TempDir(b)
	etcdURL := framework.StartEtcd(b, filepath.Join(dir, "etcd"))
	certs := framework.NewAPIServerPKI(b, filepath.Join(dir, "pki"), "lever")
	rows := make([][]string, len(levers))
	for i := 0; i < len(levers); i += 2 {
		var wg sync.WaitGroup
		for j := i; j < min(i+2, len(levers)); j++ {
			wg.Go(func() { rows[j] = leverRow(b, certs, etcdURL, dir, j, levers[j]) })
		}
		wg.Wait()
	}
	table(os.Stdout, fmt.Sprintf("Levers on a lone idle kube-apiserver (%s settling, CPU over %s; two at a time)", costSettle, costWindow),
		[]string{"lever", "ready after", "Private_Dirty", "PSS", "RSS", "CPU"}, rows)
}

func leverRow(b *testing.B, certs *framework.APIServerPKI, etcdURL, dir string, i int, l lever) []string {
	env := os.Environ()
	if l.gogc != 0 {
		env = append(env, "GOGC="+strconv.Itoa(l.gogc))
	}
	start := time.Now()
	srv, err := kubeapiserver.Start(b.Context(), certs.Config(kubeapiserver.Config{
		Binary:      framework.Binary(b, "kube-apiserver"),
		Name:        fmt.Sprintf("lever%d", i),
		LogFile:     filepath.Join(dir, fmt.Sprintf("lever%d.log", i)),
		EtcdServers: []string{etcdURL},
		EtcdPrefix:  fmt.Sprintf("/lever%d", i),
		ExtraArgs:   l.args,
		Env:         env,
	}))
	if err != nil {
		b.Errorf("lever %q: %v", l.name, err)
		return []string{l.name, "did not start", "", "", "", ""}
	}
	ready := time.Since(start)
	defer srv.Stop(10 * time.Second)
	pid := 0
	for _, p := range framework.ProcessesMatching("--etcd-prefix="+fmt.Sprintf("/lever%d", i)+"\x00", "kube-apiserver") {
		pid = p.PID
	}
	require.NotZero(b, pid, "the kube-apiserver of lever %q runs", l.name)
	time.Sleep(costSettle)
	cost := measureCost(b, []coreProc{{name: l.name, pid: pid}}, nil)[pid]
	return []string{l.name, ready.Round(100 * time.Millisecond).String(), mib(cost.mem.PrivateDirty), mib(cost.mem.PSS), mib(cost.mem.RSS), fmt.Sprintf("%.0f m", cost.millicores)}
}
