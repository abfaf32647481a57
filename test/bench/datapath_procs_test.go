package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/process"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/test/framework"
)

// startCoreProcess runs one of the core's controllers as its own process against the space
// server, killed when the benchmark ends (and by the kernel if the benchmark dies first).
func startCoreProcess(b *testing.B, bin, name string, srv *framework.SpaceServer) *process.Process {
	b.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(b, err)
	return startBenchProcess(b, filepath.Join(bin, name), name,
		"--root-kubeconfig", srv.Kubeconfig, "--base-kubeconfig", srv.Kubeconfig,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port), "--health-bind-address", "", "--qps", "200", "--burst", "400")
}

// startSyncerProcess does what prep-for-syncer and a deployed syncer do: it gives the mailbox
// a ServiceAccount that reaches that mailbox alone, and runs kubestellar-syncer with its
// token and its own flags' defaults between the mailbox and the cluster wec.
func startSyncerProcess(b *testing.B, bin string, srv *framework.SpaceServer, box, syncTarget, uid string, wec *rest.Config) *process.Process {
	b.Helper()
	ctx := b.Context()
	admin := srv.Client(espwPath)
	sa := "kubestellar-syncer-" + syncTarget
	for _, obj := range syncer.MailboxAccess(box, sa) {
		require.NoError(b, admin.Create(ctx, obj))
	}
	espwCfg := srv.Config(espwPath)
	tr, err := kubernetes.NewForConfigOrDie(espwCfg).CoreV1().ServiceAccounts(box).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3 * 3600)}}, metav1.CreateOptions{})
	require.NoError(b, err)
	caData := espwCfg.CAData
	if len(caData) == 0 {
		caData, err = os.ReadFile(espwCfg.CAFile)
		require.NoError(b, err)
	}
	from := clientcmdapi.NewConfig()
	from.Clusters["mailbox"] = &clientcmdapi.Cluster{Server: espwCfg.Host, CertificateAuthorityData: caData}
	from.AuthInfos["mailbox"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	from.Contexts["mailbox"] = &clientcmdapi.Context{Cluster: "mailbox", AuthInfo: "mailbox", Namespace: box}
	from.CurrentContext = "mailbox"
	fromPath := filepath.Join(b.TempDir(), "mailbox.kubeconfig")
	require.NoError(b, clientcmd.WriteToFile(*from, fromPath))
	toPath := framework.WriteKubeconfig(b, map[string]*rest.Config{"wec": wec})
	return startBenchProcess(b, filepath.Join(bin, "kubestellar-syncer"), "syncer-"+syncTarget,
		"--from-kubeconfig", fromPath, "--to-kubeconfig", toPath, "--sync-target-name", syncTarget, "--sync-target-uid", uid)
}

func startBenchProcess(b *testing.B, path, name string, args ...string) *process.Process {
	b.Helper()
	p, err := process.Start(process.Spec{Name: name, Path: path, Args: args, LogFile: filepath.Join(b.TempDir(), name+".log")})
	require.NoError(b, err)
	b.Cleanup(func() {
		if exited, err := p.Exited(); exited {
			b.Errorf("%s exited during the benchmark: %v\n%s", name, err, fileTail(p.LogFile(), 30))
		}
		p.Stop(10 * time.Second)
	})
	return p
}

func fileTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; 100 on every Linux architecture
// Go supports.
const clockTicks = 100

// cpuSeconds is a process's user+system CPU time so far (-1 when it cannot be read); pid 0
// is this process, read with getrusage so that its children do not count.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return -1
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// The command name may hold spaces and parentheses: the fields follow the last ')'.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(utime+stime) / clockTicks
}

// memKiB returns a process's resident set size now and at its peak (VmRSS, VmHWM), in KiB;
// pid 0 is this process.
func memKiB(pid int) (rss, peak int64) {
	dir := "self"
	if pid != 0 {
		dir = strconv.Itoa(pid)
	}
	data, err := os.ReadFile(filepath.Join("/proc", dir, "status"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// requestsByVerb sums apiserver_request_total by verb and resource (as "APPLY wrappedobjects/status")
// from a kube-apiserver's /metrics,
// reached with cfg (a space's configuration reaches it through the front proxy).
func requestsByVerb(ctx context.Context, cfg *rest.Config) (map[string]float64, error) {
	body, err := apiserverMetrics(ctx, cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		labels, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		if !ok {
			continue
		}
		_, verb, ok := strings.Cut(labels, `verb="`)
		if !ok {
			continue
		}
		verb, _, _ = strings.Cut(verb, `"`)
		verb += " " + labelValue(labels, "resource")
		if sub := labelValue(labels, "subresource"); sub != "" {
			verb += "/" + sub
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[verb] += n
	}
	return out, nil
}

// apiserverMetrics reads a kube-apiserver's /metrics, reached with cfg.
func apiserverMetrics(ctx context.Context, cfg *rest.Config) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s/metrics: %w", cfg.Host, err)
	}
	return body, nil
}

// labelValue returns the value of a label in a Prometheus sample's label set.
func labelValue(labels, name string) string {
	for _, pair := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(pair, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// requestCounter reads apiserver_request_total from a set of kube-apiservers.
type requestCounter []*rest.Config

// snapshot is the sum over the servers, by verb; nil when any server did not answer.
func (rc requestCounter) snapshot(ctx context.Context) map[string]float64 {
	total := map[string]float64{}
	for _, cfg := range rc {
		m, err := requestsByVerb(ctx, cfg)
		if err != nil {
			return nil
		}
		for verb, n := range m {
			total[verb] += n
		}
	}
	return total
}

// perObject formats after-before by verb and resource, divided by objects, as
// "POST configmaps 1.00, GET namespaces 0.02, … = 1.02"; shares under 0.05 are left out of
// the list but not out of the sum.
func perObject(before, after map[string]float64, objects int) string {
	if before == nil || after == nil {
		return "n/a"
	}
	var verbs []string
	sum := 0.0
	for verb, n := range after {
		if d := n - before[verb]; d > 0 {
			verbs = append(verbs, verb)
			sum += d
		}
	}
	sort.Strings(verbs)
	var parts []string
	for _, verb := range verbs {
		if share := (after[verb] - before[verb]) / float64(objects); share >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.2f", verb, share))
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" = %.2f", sum/float64(objects))
}
