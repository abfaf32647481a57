// Package dist builds a release archive with `make dist` and installs it with the bootstrap
// script, as a user does, then uses what the script prints.
package dist

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/pkg/localrun"
	"github.com/kubestellar/kubestellar/test/framework"
)

// version is stamped into the test's release, so that the test sees it travel.
const version = "v0.0.0-disttest"

func TestBootstrapRefusesBadFlags(t *testing.T) {
	script := filepath.Join(framework.ModuleRoot(t), "bootstrap", "bootstrap-kubestellar.sh")
	dir := t.TempDir()
	missing := filepath.Join(dir, "kubestellar_v1.2.3_linux_amd64.tar.gz")
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--os", "plan9"}, []string{"--os plan9 is not supported; KubeStellar is released for linux and darwin", "--help"}},
		{[]string{"--arch", "mips"}, []string{"--arch mips is not supported"}},
		{[]string{"--bogus"}, []string{"unknown flag: --bogus", "Usage:", "--ensure-folder DIR"}},
		{[]string{"--os"}, []string{"--os needs a value", "Usage:"}},
		{[]string{"--os", "--arch", "arm64"}, []string{"--os needs a value"}},
		{[]string{"--openshift", "yes"}, []string{"--openshift must be true or false, not 'yes'"}},
		{[]string{"--endpoint-address", "example.com"}, []string{"--endpoint-address must be HOST:PORT"}},
		{[]string{"--host-ns", "Bad_NS"}, []string{"--host-ns must be a namespace name"}},
		{[]string{"--secure-port", "70000"}, []string{"--secure-port must be a port number from 1 to 65535"}},
		{[]string{"--kubestellar-version", "1.2"}, []string{"--kubestellar-version must be latest or a release version such as v0.21.0, not '1.2'"}},
		{[]string{"--endpoint-address", "a.example.com:443", "--external-endpoint", "b.example.com:443"}, []string{"--endpoint-address and --external-endpoint name the same setting"}},
		{[]string{"--external-endpoint", "example.com"}, []string{"--endpoint-address must be HOST:PORT"}},
		{[]string{"--archive", missing, "--os", "linux", "--arch", "amd64"}, []string{"--archive " + missing + ": no such file"}},
		{[]string{"--archive", missing, "--os", "linux", "--arch", "arm64"}, []string{"is for linux/amd64, not linux/arm64"}},
		{[]string{"--archive", missing, "--kubestellar-version", "v1.0.0"}, []string{"holds release v1.2.3, not --kubestellar-version v1.0.0"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			folder := filepath.Join(dir, "folder")
			r := framework.Run(t.Context(), dir, script, append([]string{"--ensure-folder", folder}, c.args...)...)
			var exit *exec.ExitError
			require.ErrorAs(t, r.Err, &exit, "the script should fail\n%s%s", r.Stdout, r.Stderr)
			assert.Equal(t, 2, exit.ExitCode())
			for _, want := range c.wants {
				assert.Contains(t, r.Stderr, want)
			}
			assert.Empty(t, r.Stdout, "nothing to export")
			assert.NoDirExists(t, folder, "a refused run leaves nothing behind")
		})
	}
	r := framework.Run(t.Context(), dir, script, "--help")
	require.NoError(t, r.Err)
	// The copy in the source tree belongs to no release, so it never names one as its default.
	assert.Regexp(t, `--kubestellar-version VERSION +release to install, such as v0\.21\.0, or latest`, r.Stdout)
	assert.Contains(t, r.Stdout, "(default: latest)")
	assert.NotContains(t, r.Stdout, "v0.0.0-dev")
	assert.Contains(t, r.Stdout, "--external-endpoint HOST:PORT")
	assert.Contains(t, r.Stdout, "--kcp-version VERSION")

	t.Run("latest, when the releases page names no release", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		folder := filepath.Join(dir, "folder")
		cmd := exec.CommandContext(t.Context(), script, "--ensure-folder", folder, "--kubestellar-version", "latest")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "kubestellar"), "KUBESTELLAR_RELEASES_URL="+srv.URL+"/releases")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.Error(t, cmd.Run())
		assert.Contains(t, stderr.String(), "could not find the newest release at "+srv.URL+"/releases/latest; pass --kubestellar-version VERSION")
		assert.Empty(t, stdout.String())
		assert.NoDirExists(t, folder, "a refused run leaves nothing behind")
	})
}

// releaseServer serves archive as the only release, version, laid out as GitHub lays out
// releases: /releases/latest redirects to /releases/tag/VERSION, and the assets are under
// /releases/download/VERSION/. It counts the downloads.
func releaseServer(t *testing.T, archive string) (*httptest.Server, *atomic.Int32) {
	var downloads atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /releases/latest", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/releases/tag/"+version, http.StatusFound)
	})
	mux.HandleFunc("GET /releases/tag/"+version, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "KubeStellar "+version+"\n")
	})
	mux.HandleFunc("GET /releases/download/"+version+"/"+filepath.Base(archive), func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		http.ServeFile(w, r, archive)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &downloads
}

func TestDistAndBootstrap(t *testing.T) {
	root := framework.ModuleRoot(t)
	framework.Binary(t, "kubectl") // fails early, with directions, when the test assets are missing
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dist := t.TempDir()

	start := time.Now()
	cmd := exec.CommandContext(t.Context(), "make", "--no-print-directory", "dist", "DIST_PLATFORMS="+platform, "DIST_DIR="+dist, "VERSION="+version)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make dist\n%s", out)
	t.Logf("make dist for %s took %s", platform, time.Since(start).Round(time.Second))

	asset := fmt.Sprintf("kubestellar_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH)
	archive := filepath.Join(dist, asset)
	if info, err := os.Stat(archive); err == nil {
		t.Logf("%s: %.1f MiB", asset, float64(info.Size())/(1<<20))
	}

	t.Run("the archive holds every command, the upstream servers, the charts and the README", func(t *testing.T) {
		entries := readArchive(t, archive)
		var names []string
		for _, e := range entries {
			names = append(names, e.name)
		}
		assert.True(t, slices.IsSorted(names), "entries in name order: %v", names)
		mtime := entries[0].mtime
		for _, e := range entries {
			assert.Equal(t, mtime, e.mtime, "%s has the release time", e.name)
			assert.Zero(t, e.uid, "%s belongs to root", e.name)
		}

		commands, err := os.ReadDir(filepath.Join(root, "cmd"))
		require.NoError(t, err)
		want := []string{"bin/kube-apiserver", "bin/kube-controller-manager", "bin/kubectl"}
		for _, c := range commands {
			want = append(want, "bin/"+c.Name())
		}
		for _, w := range want {
			e, ok := find(entries, w)
			if assert.True(t, ok, "%s in the archive", w) {
				assert.Equal(t, int64(0o755), e.mode&0o777, "%s is executable", w)
			}
		}
		readme, ok := find(entries, "README.md")
		require.True(t, ok, "README.md in the archive")
		wantReadme, err := os.ReadFile(filepath.Join(root, "README.md"))
		require.NoError(t, err)
		assert.Equal(t, string(wantReadme), readme.content)

		if _, err := os.Stat(filepath.Join(root, "charts", "kubestellar", "Chart.yaml")); err == nil {
			chart, ok := find(entries, "charts/kubestellar/Chart.yaml")
			require.True(t, ok, "the chart in the archive")
			assert.Contains(t, chart.content, "\nversion: "+strings.TrimPrefix(version, "v")+"\n")
			assert.Contains(t, chart.content, "\nappVersion: \""+version+"\"\n")
		}
	})

	t.Run("SHA256SUMS covers the archive and the stamped script", func(t *testing.T) {
		sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		require.NoError(t, err)
		var files []string
		for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
			sum, file, ok := strings.Cut(line, "  ")
			require.True(t, ok, "line %q", line)
			files = append(files, file)
			assert.Equal(t, sha256File(t, filepath.Join(dist, file)), sum, file)
		}
		assert.Equal(t, []string{asset, "bootstrap-kubestellar.sh"}, files)
		script, err := os.ReadFile(filepath.Join(dist, "bootstrap-kubestellar.sh"))
		require.NoError(t, err)
		assert.Contains(t, string(script), "\nrelease_version="+version+"\n")
	})

	// The script runs as a user would run it, without KubeStellar on PATH: first the copy in
	// the source tree, which finds the newest release and downloads it, then the release's own
	// copy, with the archive at hand.
	folder := filepath.Join(framework.TempDir(t), "ks")
	bin := filepath.Join(folder, "kubestellar", "bin")
	releases, downloads := releaseServer(t, archive)
	port := freePort(t, 1)
	// Three metrics ports and, HealthPortOffset above them, three health ports.
	controllerPort := freePort(t, localrun.HealthPortOffset+3)
	t.Cleanup(func() {
		// The test's context is over by now.
		r := framework.Run(context.Background(), folder, filepath.Join(bin, "kubestellar"), "stop", "--log-folder", filepath.Join(folder, "kubestellar-logs"))
		if r.Err != nil {
			t.Errorf("kubestellar stop: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
	})
	bootstrap := func(t *testing.T, script string, args ...string) framework.Result {
		args = append(args, "--ensure-folder", folder,
			"--secure-port", fmt.Sprint(port), "--bind-address", "127.0.0.1", "--", "--controller-port", fmt.Sprint(controllerPort))
		cmd := exec.CommandContext(t.Context(), script, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "kubestellar"), "KUBESTELLAR_RELEASES_URL="+releases.URL+"/releases")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		t.Logf("bootstrap took %s", time.Since(start).Round(time.Second))
		require.NoError(t, err, "bootstrap\n%s%s", stdout.String(), stderr.String())
		return framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	}
	kubeconfig := filepath.Join(folder, ".kubestellar", "admin.kubeconfig")
	exports := fmt.Sprintf("export PATH=\"%s:$PATH\"\nexport KUBECONFIG=\"%s\"\n", bin, kubeconfig)
	sourceScript := filepath.Join(root, "bootstrap", "bootstrap-kubestellar.sh")
	releaseScript := filepath.Join(dist, "bootstrap-kubestellar.sh")

	t.Run("bootstrap from the source tree installs the newest release, starts the core and prints the exports", func(t *testing.T) {
		r := bootstrap(t, sourceScript, "--kcp-version", "v0.11.0")
		assert.Equal(t, exports, r.Stdout)
		assert.Contains(t, r.Stderr, "Note: --kcp-version v0.11.0 is ignored: this KubeStellar runs no kcp")
		assert.Contains(t, r.Stderr, "The newest KubeStellar release is "+version)
		url := releases.URL + "/releases/download/" + version + "/" + asset
		assert.Contains(t, r.Stderr, "Downloading "+url)
		assert.Contains(t, r.Stderr, "Unpacking "+url+" into "+filepath.Join(folder, "kubestellar"))
		assert.Contains(t, r.Stderr, "Starting KubeStellar "+version+" as processes on this machine")
		assert.Contains(t, r.Stderr, "KubeStellar is ready. To use it from another shell:")
		assert.Equal(t, int32(1), downloads.Load())

		// The folder is laid out as the documents say: the release under kubestellar/, the
		// core's state and logs beside it.
		for _, p := range []string{"kubestellar/bin/kubestellar", "kubestellar/bin/kubectl", "kubestellar/bin/kube-apiserver", "kubestellar/README.md", "kubestellar/charts/kubestellar/Chart.yaml", ".kubestellar/admin.kubeconfig", "kubestellar-logs"} {
			_, err := os.Stat(filepath.Join(folder, p))
			assert.NoError(t, err, "%s in the install folder", p)
		}
		release := framework.Run(t.Context(), folder, filepath.Join(bin, "kubestellar-release"))
		require.NoError(t, release.Err)
		assert.Equal(t, version+"\n", release.Stdout)
		assert.Equal(t, []string{"127.0.0.1"}, listeners(t, port), "--bind-address reaches the space server")
		for _, name := range []string{"kubestellar-space-server", "mailbox-controller", "kubestellar-where-resolver", "placement-translator"} {
			assert.FileExists(t, filepath.Join(folder, "kubestellar-logs", name+".pid"), "%s runs", name)
		}
	})

	t.Run("the printed KUBECONFIG reaches the space server and its core spaces", func(t *testing.T) {
		server := framework.Kubectl(t, kubeconfig, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
		// --bind-address is the address the space server writes for itself.
		assert.Equal(t, fmt.Sprintf("https://127.0.0.1:%d/clusters/root", port), server)
		spaces := framework.Kubectl(t, kubeconfig, "get", "spaces", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase", "--no-headers")
		assert.Regexp(t, `(?m)^espw\s+Ready$`, spaces)
		assert.Regexp(t, `(?m)^imw1\s+Ready$`, spaces)
		assert.Regexp(t, `(?m)^wmw1\s+Ready$`, spaces)
	})

	t.Run("a second run, of the release's script with the archive at hand, does not unpack again and leaves the core running", func(t *testing.T) {
		r := bootstrap(t, releaseScript, "--archive", archive)
		assert.Equal(t, exports, r.Stdout)
		assert.Contains(t, r.Stderr, "KubeStellar "+version+" for "+platform+" is already unpacked in "+filepath.Join(folder, "kubestellar"))
		assert.NotContains(t, r.Stderr, "The newest KubeStellar release", "a version at hand needs no look-up")
		assert.Equal(t, int32(1), downloads.Load(), "nothing downloaded again")
		assert.NotContains(t, r.Stderr, "Unpacking")
		assert.Contains(t, framework.Kubectl(t, kubeconfig, "get", "spaces", "espw", "-o", "jsonpath={.status.phase}"), "Ready")
	})

	t.Run("--external-endpoint deploys into the current cluster with that endpoint", func(t *testing.T) {
		bootstrapDeploysWithExternalEndpoint(t, releaseScript, archive)
	})
}

func bootstrapDeploysWithExternalEndpoint(t *testing.T, script, archive string) {
	hosting := framework.StartAPIServer(t)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"hosting": hosting.Config})
	// What the init container of a running core publishes, so that the script's wait for the
	// external kubeconfig ends at once; the deploy itself is a dry run. The Secret is the
	// chart's, so it carries the release's ownership marks.
	const ns = "ks-bootstrap"
	const external = "apiVersion: v1\nkind: Config\ncurrent-context: root\n"
	cs := kubernetes.NewForConfigOrDie(hosting.Config)
	_, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubestellar", Namespace: ns,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{"meta.helm.sh/release-name": "kubestellar", "meta.helm.sh/release-namespace": ns},
		},
		Data: map[string][]byte{"external.kubeconfig": []byte(external)},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	folder := filepath.Join(framework.TempDir(t), "deploy")
	cmd := exec.CommandContext(t.Context(), script, "--archive", archive, "--ensure-folder", folder,
		"--external-endpoint", "ks.example.com:443", "--host-ns", ns, "--", "--dry-run")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "kubestellar"), "KUBECONFIG="+kubeconfig)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "bootstrap\n%s%s", stdout.String(), stderr.String())

	assert.Contains(t, stderr.String(), "Deploying KubeStellar "+version+" into namespace "+ns+" of the current cluster")
	assert.Contains(t, stderr.String(), "- --external-endpoint=ks.example.com:443", "the endpoint reaches the chart")
	assert.Contains(t, stderr.String(), "dry run: nothing was changed")
	fetched := filepath.Join(folder, "kubestellar.kubeconfig")
	assert.Equal(t, fmt.Sprintf("export PATH=\"%s:$PATH\"\nexport KUBECONFIG=\"%s\"\n", filepath.Join(folder, "kubestellar", "bin"), fetched), stdout.String())
	got, err := os.ReadFile(fetched)
	require.NoError(t, err)
	assert.Equal(t, external, string(got))
}

type entry struct {
	name, content string
	mode          int64
	uid           int
	mtime         time.Time
}

// readArchive lists a .tar.gz, with the content of its small files.
func readArchive(t *testing.T, path string) []entry {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		e := entry{name: strings.TrimSuffix(h.Name, "/"), mode: h.Mode, uid: h.Uid, mtime: h.ModTime}
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			e.content = string(data)
		}
		out = append(out, e)
	}
}

func find(entries []entry, name string) (entry, bool) {
	for _, e := range entries {
		if e.name == name {
			return e, true
		}
	}
	return entry{}, false
}

func sha256File(t *testing.T, path string) string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// freePort returns the first of n consecutive free ports on 127.0.0.1.
func freePort(t *testing.T, n int) int {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		first := l.Addr().(*net.TCPAddr).Port
		listeners := []net.Listener{l}
		ok := true
		for i := 1; i < n && ok; i++ {
			next, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+i))
			if ok = err == nil; ok {
				listeners = append(listeners, next)
			}
		}
		for _, l := range listeners {
			require.NoError(t, l.Close())
		}
		if ok {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

// pathWithout is $PATH without the directories that hold the named program.
func pathWithout(t *testing.T, program string) string {
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, program)); err == nil {
			t.Logf("leaving %s off PATH: it holds %s", dir, program)
			continue
		}
		keep = append(keep, dir)
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// listeners lists the IPv4 addresses listening on a TCP port, from /proc/net/tcp.
func listeners(t *testing.T, port int) []string {
	data, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		fields := strings.Fields(line)
		// Fields: sl, local address (hex IP:port, IP little-endian), remote address, state (0A: LISTEN).
		if len(fields) < 4 || fields[3] != "0A" {
			continue
		}
		ip, p, _ := strings.Cut(fields[1], ":")
		if p != fmt.Sprintf("%04X", port) || len(ip) != 8 {
			continue
		}
		b, err := hex.DecodeString(ip)
		require.NoError(t, err)
		out = append(out, net.IPv4(b[3], b[2], b[1], b[0]).String())
	}
	return out
}
