package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/test/framework"
)

// BenchmarkSpaceServer measures space creation time, idle memory per space, and request
// latency through the front proxy against the same request sent straight to the space's
// kube-apiserver.
func BenchmarkSpaceServer(b *testing.B) {
	srv := framework.StartSpaceServer(b)
	const spaceCount = 7

	// Creation: Space object created → Ready, one at a time.
	var creation []time.Duration
	ids := map[string]string{}
	for i := range spaceCount {
		name := fmt.Sprintf("bench%d", i)
		start := time.Now()
		space := srv.CreateSpace(name)
		creation = append(creation, time.Since(start))
		ids[name] = space.Status.Cluster
	}
	table(os.Stdout, fmt.Sprintf("Space creation (Space created → Ready, %d spaces, one at a time)", spaceCount),
		[]string{"p50", "min", "max"},
		[][]string{{ms(percentile(creation, 50)), ms(percentile(creation, 0)), ms(percentile(creation, 100))}})
	b.ReportMetric(float64(percentile(creation, 50).Milliseconds()), "ms-create-p50")

	// Idle memory: after the spaces have settled. Private_Dirty is what a process alone
	// holds; RSS also counts the program's pages that every space's process shares.
	time.Sleep(20 * time.Second)
	var rows [][]string
	var apiTotal, kcmTotal framework.Memory
	for i := range spaceCount {
		dir := filepath.Join(srv.Options.RootDir, "spaces", ids[fmt.Sprintf("bench%d", i)]) + "/"
		var api, kcm framework.Memory
		for _, p := range framework.ProcessesMatching(dir) {
			m, err := framework.MemoryOf(p.PID)
			require.NoError(b, err)
			switch filepath.Base(p.Args[0]) {
			case "kube-apiserver":
				api = m
			case "kube-controller-manager":
				kcm = m
			}
		}
		apiTotal.PrivateDirty += api.PrivateDirty
		apiTotal.RSS += api.RSS
		kcmTotal.PrivateDirty += kcm.PrivateDirty
		kcmTotal.RSS += kcm.RSS
		if i < 3 {
			rows = append(rows, []string{fmt.Sprintf("bench%d", i), mib(api.PrivateDirty), mib(api.RSS), mib(kcm.PrivateDirty), mib(kcm.RSS),
				mib(api.PrivateDirty + kcm.PrivateDirty)})
		}
	}
	rows = append(rows, []string{fmt.Sprintf("mean of %d", spaceCount),
		mib(apiTotal.PrivateDirty / spaceCount), mib(apiTotal.RSS / spaceCount),
		mib(kcmTotal.PrivateDirty / spaceCount), mib(kcmTotal.RSS / spaceCount),
		mib((apiTotal.PrivateDirty + kcmTotal.PrivateDirty) / spaceCount)})
	table(os.Stdout, "Idle memory per space of no role (20 s after the last space became Ready)",
		[]string{"space", "kube-apiserver private", "kube-apiserver RSS", "kube-controller-manager private", "kube-controller-manager RSS", "total private"}, rows)
	b.ReportMetric(float64(apiTotal.PrivateDirty+kcmTotal.PrivateDirty)/spaceCount/1024, "MiB-private-per-space")

	// Latency: the same GET through the front proxy and straight to the space's API server,
	// interleaved so that both see the same machine load.
	cfg := srv.Config("root:bench0")
	apiserver, ok := srv.SpaceProcess(ids["bench0"], "kube-apiserver")
	require.True(b, ok, "the space's kube-apiserver runs")
	direct := "https://127.0.0.1:" + flagValue(apiserver.Args, "secure-port")
	client := httpClient(b, cfg)
	viaProxy := cfg.Host + "/api/v1/namespaces/default"
	straight := direct + "/api/v1/namespaces/default"
	for range 50 {
		get(b, client, viaProxy)
		get(b, client, straight)
	}
	const n = 1000
	var proxied, directs []time.Duration
	for range n {
		proxied = append(proxied, get(b, client, viaProxy))
		directs = append(directs, get(b, client, straight))
	}
	ratio := float64(percentile(proxied, 50)) / float64(percentile(directs, 50))
	table(os.Stdout, fmt.Sprintf("GET namespace (%d requests each, interleaved, HTTP/2, client certificate)", n),
		[]string{"path", "p50", "p90", "p99"},
		[][]string{
			{"through the front proxy", ms(percentile(proxied, 50)), ms(percentile(proxied, 90)), ms(percentile(proxied, 99))},
			{"straight to kube-apiserver", ms(percentile(directs, 50)), ms(percentile(directs, 90)), ms(percentile(directs, 99))},
			{"ratio proxy/direct", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("%.2f", float64(percentile(proxied, 90))/float64(percentile(directs, 90))),
				fmt.Sprintf("%.2f", float64(percentile(proxied, 99))/float64(percentile(directs, 99)))},
		})
	b.ReportMetric(ratio, "proxy/direct-p50")
}

func httpClient(b *testing.B, cfg *rest.Config) *http.Client {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	require.NoError(b, err)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}}
}

func get(b *testing.B, client *http.Client, url string) time.Duration {
	start := time.Now()
	resp, err := client.Get(url)
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode, url)
	return time.Since(start)
}
