package framework

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubestellar/kubestellar/pkg/process"
)

var (
	moduleRootOnce sync.Once
	moduleRoot     string
	moduleRootErr  error
)

// ModuleRoot is the directory of the KubeStellar Go module.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	moduleRootOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kubestellar/kubestellar").Output()
		moduleRoot, moduleRootErr = strings.TrimSpace(string(out)), err
	})
	must(t, moduleRootErr)
	return moduleRoot
}

// BuildCommands builds the named commands (directories under cmd/) into a temporary
// directory and returns it.
func BuildCommands(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %v: %v\n%s", names, err, out)
	}
	return dir
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs a program and returns its output; it does not fail the test. When ctx ends, the
// program and whatever it started in its process group are killed; so are they if the test
// process dies.
func Run(ctx context.Context, dir, program string, args ...string) Result {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	dieWithTest(cmd)
	err := cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// dieWithTest puts cmd in a process group of its own, killed as a whole when cmd's context
// ends, and makes the kernel kill cmd if the test process dies first.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Output pipes held open by a helper the program left behind must not block Wait.
	cmd.WaitDelay = 10 * time.Second
}

// StartCommand starts a program in the background as a real process, with its output in a
// log file (shown when the test fails). It is stopped when the test ends (SIGTERM to its
// process group, SIGKILL after 10 s), and killed by the kernel if the test process dies
// first.
func StartCommand(t testing.TB, program string, args ...string) *process.Process {
	t.Helper()
	name := filepath.Base(program)
	logFile := filepath.Join(t.TempDir(), name+".log")
	p, err := process.Start(process.Spec{Name: name, Path: program, Args: args, LogFile: logFile})
	must(t, err)
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", name, logTail(logFile, 40))
		}
	})
	return p
}

// Kubectl runs the test kubectl with the given kubeconfig and fails the test when it fails.
func Kubectl(t testing.TB, kubeconfigPath string, args ...string) string {
	t.Helper()
	r := Run(t.Context(), "", Binary(t, "kubectl"), append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// KubectlCommand returns an unstarted kubectl command, for long-running uses such as watches.
func KubectlCommand(ctx context.Context, t testing.TB, kubeconfigPath string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, Binary(t, "kubectl"), append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
	dieWithTest(cmd)
	return cmd
}

// WriteFile writes content to a new file in the test's temporary directory.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// ModuleDir is the directory of a module the KubeStellar module requires, for its files
// (CRD manifests and the like).
func ModuleDir(t testing.TB, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = ModuleRoot(t)
	out, err := cmd.Output()
	must(t, err)
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("module %s is not downloaded", module)
	}
	return dir
}
