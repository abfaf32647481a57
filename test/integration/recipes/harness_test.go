package recipes

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/test/framework"
)

// core is a KubeStellar core run by `kubestellar start` from freshly built commands.
type core struct {
	// bin holds the project's commands; kubectl and the test binaries come after it on PATH.
	bin string
	// dir is the core's state and log folder.
	dir string
	// port is the space server's port.
	port int
}

// lazyCore starts the package's core on first use, so that `go test -run` of one recipe
// still works, and every recipe shares one core.
type lazyCore struct {
	dir  string
	once sync.Once
	c    *core
	err  error
}

// sharedCore returns the package's core, starting it the first time.
func sharedCore(t *testing.T) *core {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = startCore(t, shared.dir) })
	require.NoError(t, shared.err)
	return shared.c
}

// stop stops the core, if it was started.
func (l *lazyCore) stop() {
	if l.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r := l.c.run(ctx, l.c.dir, l.c.env(""), "kubestellar stop --log-folder logs"); r.Err != nil {
		fmt.Fprintf(os.Stderr, "kubestellar stop: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
}

// startCore builds every command into dir/bin and runs `kubestellar start` in dir.
func startCore(t *testing.T, dir string) (*core, error) {
	for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kubectl"} {
		if _, err := framework.LookupBinary(name); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(dir, "bin")
	args := append([]string{"build", "-o", bin + string(os.PathSeparator)}, commands(t)...)
	build := exec.Command("go", args...)
	build.Dir = framework.ModuleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the commands: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &core{bin: bin, dir: filepath.Join(dir, "core"), port: port}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := c.run(ctx, c.dir, c.env(""), fmt.Sprintf("kubestellar start --root-dir state --log-folder logs --secure-port %d", c.port))
	if r.Err != nil {
		// Whatever started is stopped by TestMain.
		shared.c = c
		return nil, fmt.Errorf("kubestellar start: %w\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	return c, nil
}

// commands lists the directories under cmd/.
func commands(t *testing.T) []string {
	entries, err := os.ReadDir(filepath.Join(framework.ModuleRoot(t), "cmd"))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, "./cmd/"+e.Name())
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// user is someone typing the documents' commands: a shell in a folder of their own, with a
// kubeconfig of their own (a copy of the admin kubeconfig) as KUBECONFIG.
type user struct {
	t          *testing.T
	c          *core
	home       string
	kubeconfig string
}

// newUser gives the test a user with a fresh copy of the admin kubeconfig.
func (c *core) newUser(t *testing.T) *user {
	t.Helper()
	home := t.TempDir()
	data, err := os.ReadFile(filepath.Join(c.dir, "state", "admin.kubeconfig"))
	require.NoError(t, err)
	kc := filepath.Join(home, "ks.kubeconfig")
	require.NoError(t, os.WriteFile(kc, data, 0o600))
	return &user{t: t, c: c, home: home, kubeconfig: kc}
}

// env is the environment of a user's shell: PATH with the project's commands, then kubectl
// and the test binaries.
func (c *core) env(kubeconfig string) []string {
	path := []string{c.bin}
	path = append(path, filepath.SplitList(os.Getenv(framework.AssetsEnv))...)
	path = append(path, filepath.SplitList(os.Getenv("PATH"))...)
	env := []string{"PATH=" + strings.Join(path, string(os.PathListSeparator)), "HOME=" + c.dir}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == framework.AssetsEnv || k == "GOCACHE" || k == "GOPATH" || k == "TMPDIR" {
			env = append(env, kv)
		}
	}
	return env
}

func (c *core) run(ctx context.Context, dir string, env []string, script string) framework.Result {
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	return framework.Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// sh runs a script as the user types it, in bash with -euo pipefail, in the user's folder.
func (u *user) sh(script string) framework.Result {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.t.Context(), 3*time.Minute)
	defer cancel()
	return u.c.run(ctx, u.home, u.c.env(u.kubeconfig), script)
}

// ok runs a script that must succeed and returns what it printed on stdout.
func (u *user) ok(script string) string {
	u.t.Helper()
	r := u.sh(script)
	require.NoError(u.t, r.Err, "%s\nstdout:\n%s\nstderr:\n%s", script, r.Stdout, r.Stderr)
	return r.Stdout
}

// fails runs a script that must fail, saying want on stderr.
func (u *user) fails(want, script string) framework.Result {
	u.t.Helper()
	r := u.sh(script)
	require.Error(u.t, r.Err, "%s should fail\nstdout:\n%s", script, r.Stdout)
	require.Contains(u.t, r.Stderr, want, script)
	return r
}
