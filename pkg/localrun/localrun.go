// Package localrun runs the KubeStellar core as bare processes on this machine: the space
// server and the controllers, in the background, with their logs and pid files in a folder.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
)

// Options configure the bare-process core.
type Options struct {
	// RootDir is the space server's state directory.
	RootDir string
	// LogFolder holds each process's log and pid file.
	LogFolder string
	// LocalServer runs the space server here; otherwise Kubeconfig reaches one.
	LocalServer bool
	// BindAddress is the IP address the local space server listens on; its own default
	// (every address) when empty.
	BindAddress string
	// ExternalHostname is the DNS name or IP address by which other machines (a WEC's syncer
	// among them) reach the local space server; it goes into the admin kubeconfig, and so into
	// every syncer manifest, and the serving certificate covers it. When empty: BindAddress if
	// given, else an address of this machine that others can reach (see ReachableHost).
	ExternalHostname string
	// SecurePort is the local space server's port.
	SecurePort int
	// ControllerPort is where the first controller serves /metrics on 127.0.0.1, the others
	// on the ports after it, and each its /healthz and /readyz HealthPortOffset ports above
	// (another value lets a second core run on the same machine); 0 serves none.
	ControllerPort int
	// Kubeconfig and Context reach a space server that is not local.
	Kubeconfig, Context string
	// ESPWPath, IMWs and WMWs are what init ensures.
	ESPWPath   string
	IMWs, WMWs []string
	// BinDir holds the binaries; beside this program when empty.
	BinDir string
	// Timeout bounds each wait.
	Timeout time.Duration
	// Out gets progress; Trace, when set, gets each step as it is taken.
	Out, Trace io.Writer
	// Verbose raises the processes' log verbosity.
	Verbose bool
}

// controllers are the controller binaries, in start order, which is the order of their
// default ports (10203, 10204, 10205) that --controller-port shifts.
var controllers = []string{"mailbox-controller", "placement-translator", "kubestellar-where-resolver"}

const spaceServer = "kubestellar-space-server"

// HealthPortOffset is how far above its metrics port a controller serves its probes, as the
// binaries do by default (10203 and 10213, and so on).
const HealthPortOffset = 10

// step writes a step to the trace.
func (o *Options) step(format string, args ...any) {
	if o.Trace != nil {
		fmt.Fprintf(o.Trace, "+ "+format+"\n", args...)
	}
}

func (o *Options) say(format string, args ...any) {
	fmt.Fprintf(o.Out, format+"\n", args...)
}

// KubeconfigPath is the admin kubeconfig of the local space server.
func (o *Options) KubeconfigPath() string {
	abs, err := filepath.Abs(filepath.Join(o.RootDir, server.AdminKubeconfig))
	if err != nil {
		return filepath.Join(o.RootDir, server.AdminKubeconfig)
	}
	return abs
}

func (o *Options) kubeconfig() (string, string) {
	if o.LocalServer {
		return o.KubeconfigPath(), ""
	}
	return o.Kubeconfig, o.Context
}

// componentKubeconfig is the kubeconfig a component (server.Component*) uses: with a local
// space server, the one of the component's own identity when the server wrote it (a server
// older than identities did not); otherwise what kubeconfig says.
func (o *Options) componentKubeconfig(component string) (string, string) {
	if o.LocalServer {
		path := server.IdentityKubeconfig(absolute(o.RootDir), component)
		if fileExists(path) {
			return path, ""
		}
	}
	return o.kubeconfig()
}

// binDir is BinDir, else the folder holding this program.
func (o *Options) binDir() (string, error) {
	if o.BinDir != "" {
		return filepath.Abs(o.BinDir)
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Dir(self), nil
}

func (o *Options) bin(name string) (string, error) {
	dir, err := o.binDir()
	if err != nil {
		return "", err
	}
	if p := filepath.Join(dir, name); fileExists(p) {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s was found neither in %s nor on PATH; build it with `make build`", name, dir)
}

func (o *Options) pidFile(name string) string { return filepath.Join(o.LogFolder, name+".pid") }
func (o *Options) logFile(name string) string { return filepath.Join(o.LogFolder, name+".log") }

// Init waits for the space server and ensures the core space, IMWs and WMWs.
func Init(ctx context.Context, o *Options) error {
	path, context := o.componentKubeconfig(server.ComponentInit)
	o.step("init using kubeconfig %s", path)
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	c, _, err := spaces.NewClient(cfg)
	if err != nil {
		return err
	}
	return bootstrap.Init(ctx, c, bootstrap.Options{
		ESPWPath: o.ESPWPath, IMWs: o.IMWs, WMWs: o.WMWs, Timeout: o.Timeout,
		Progress: func(format string, args ...any) { o.step(format, args...); o.say(format, args...) },
	})
}

// Start stops what runs, starts the space server (if local) and the controllers in the
// background, does Init, and prints how to use the result.
func Start(ctx context.Context, o *Options) error {
	if err := Stop(ctx, o); err != nil {
		return err
	}
	if err := os.MkdirAll(o.LogFolder, 0o755); err != nil {
		return fmt.Errorf("creating --log-folder: %w", err)
	}
	v := "-v=1"
	if o.Verbose {
		v = "-v=3"
	}
	if o.LocalServer {
		args := []string{"--root-dir", o.RootDir, "--secure-port", strconv.Itoa(o.SecurePort), v}
		if o.BindAddress != "" {
			args = append(args, "--bind-address", o.BindAddress)
		}
		host := o.advertisedHost(ctx)
		if host != "" {
			args = append(args, "--advertise-address", host)
		} else {
			o.say("Found no address of this machine that other machines can reach; the kubeconfig says localhost, " +
				"which works on this machine only (give --external-hostname to choose the address)")
		}
		// The server writes its kubeconfig once it serves every space; one left by an earlier
		// run would say so too early.
		if err := os.Remove(o.KubeconfigPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the kubeconfig of the earlier run: %w", err)
		}
		if err := o.launch(spaceServer, args); err != nil {
			return err
		}
		if err := o.waitForKubeconfig(ctx); err != nil {
			return err
		}
	}
	for i, name := range controllers {
		kubeconfig, context := o.componentKubeconfig(strings.TrimPrefix(name, "kubestellar-"))
		metrics, health := "", ""
		if o.ControllerPort != 0 {
			// Each serves /metrics on its own port beside the others, and its probes
			// HealthPortOffset ports above.
			metrics = fmt.Sprintf("127.0.0.1:%d", o.ControllerPort+i)
			health = fmt.Sprintf("127.0.0.1:%d", o.ControllerPort+HealthPortOffset+i)
		}
		args := []string{
			"--root-kubeconfig", kubeconfig, "--base-kubeconfig", kubeconfig, "--espw-path", o.ESPWPath,
			"--metrics-bind-address", metrics, "--health-bind-address", health, v,
		}
		if context != "" {
			args = append(args, "--root-context", context)
		}
		if err := o.launch(name, args); err != nil {
			return err
		}
	}
	if err := Init(ctx, o); err != nil {
		return fmt.Errorf("%w (the processes keep running; see the logs in %s, and `kubestellar stop` to stop them)", err, o.LogFolder)
	}
	o.say("KubeStellar is running. To use it:")
	if dir, err := o.binDir(); err == nil {
		o.say("  export PATH=%s:$PATH", dir)
	}
	kubeconfig, _ := o.kubeconfig()
	o.say("  export KUBECONFIG=%s", kubeconfig)
	return nil
}

// advertisedHost is the host the local space server gives its clients: ExternalHostname,
// else BindAddress when it is a specific address, else ReachableHost.
func (o *Options) advertisedHost(ctx context.Context) string {
	if o.ExternalHostname != "" {
		return o.ExternalHostname
	}
	if ip := net.ParseIP(o.BindAddress); ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	return ReachableHost(ctx)
}

// ReachableHost returns an address of this machine that other machines can reach, as kcp
// chooses the one it writes into its kubeconfig: the first non-loopback IPv4 address of an
// interface that is up, else the host name when it resolves to a non-loopback address. It
// returns "" when there is neither.
func ReachableHost(ctx context.Context) string {
	if ifaces, err := net.Interfaces(); err == nil {
		for _, iface := range ifaces {
			if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
				continue
			}
			addrs, err := iface.Addrs()
			if err != nil {
				continue
			}
			for _, a := range addrs {
				ipnet, ok := a.(*net.IPNet)
				if !ok {
					continue
				}
				// Link-local addresses are not routed beyond the link, so they are left out too.
				if ip := ipnet.IP.To4(); ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
					return ip.String()
				}
			}
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && !ip.IsLoopback() {
			return host
		}
	}
	return ""
}

// launch starts a program in the background, in its own session so that it outlives this
// command, and records its pid.
func (o *Options) launch(name string, args []string) error {
	path, err := o.bin(name)
	if err != nil {
		return err
	}
	o.step("%s %s > %s 2>&1 &", path, strings.Join(args, " "), o.logFile(name))
	log, err := os.OpenFile(o.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if err := os.WriteFile(o.pidFile(name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	o.say("Started %s (pid %d, log %s)", name, pid, o.logFile(name))
	return nil
}

func (o *Options) waitForKubeconfig(ctx context.Context) error {
	start, last := time.Now(), time.Now()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, o.Timeout, true, func(context.Context) (bool, error) {
		if running, _ := o.running(spaceServer); !running {
			return false, fmt.Errorf("%s exited; the end of %s:\n%s", spaceServer, o.logFile(spaceServer), logTail(o.logFile(spaceServer), 10))
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			o.say("Waiting for the space server (%s so far)", time.Since(start).Round(time.Second))
		}
		return fileExists(o.KubeconfigPath()), nil
	})
	if err != nil {
		return fmt.Errorf("the space server did not write %s: %w", o.KubeconfigPath(), err)
	}
	return nil
}

// running reports whether the recorded process of name runs, and its pid. A pid now used by
// another program is not ours.
func (o *Options) running(name string) (bool, int) {
	data, err := os.ReadFile(o.pidFile(name))
	if err != nil {
		return false, 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return false, 0
	}
	return runs(pid, name), pid
}

// logTail returns the last lines of a log, indented, so an error can show why a process exited.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "  " + strings.Join(all, "\n  ")
}

// runs tells whether pid is a live process running the program name. It reads the
// executable's link rather than the command line: for a moment after exec the kernel shows
// an empty command line, and a process just started would look as if it had exited. The link
// is gone once the process exits, even before it is reaped.
func runs(pid int, name string) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		return false
	}
	// A binary rebuilt while its process runs shows as "path (deleted)".
	if filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == name {
		return true
	}
	// Started through a link of another name.
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	program, _, _ := strings.Cut(string(cmdline), "\x00")
	return filepath.Base(program) == name
}

// Stop stops every process recorded in the log folder, controllers first, by pid.
func Stop(ctx context.Context, o *Options) error {
	var errs []error
	for _, name := range append(append([]string{}, controllers...), spaceServer) {
		running, pid := o.running(name)
		if !running {
			if pid != 0 {
				_ = os.Remove(o.pidFile(name))
			}
			continue
		}
		o.step("kill -TERM %d  # %s", pid, name)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("stopping %s (pid %d): %w", name, pid, err))
			continue
		}
		// The space server stops its spaces' API servers before it exits.
		stopped := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			r, _ := o.running(name)
			return !r, nil
		}) == nil
		if !stopped {
			o.step("kill -KILL %d  # %s", pid, name)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = os.Remove(o.pidFile(name))
		o.say("Stopped %s (pid %d)", name, pid)
	}
	return errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Remove stops the bare-process core (as Stop does) and deletes its state: the space server's
// RootDir and, in LogFolder, the processes' logs and pid files (the folder too once empty).
// What is already gone is skipped, so it can be run again. A RootDir that does not hold a
// space server's state is refused rather than deleted.
func Remove(ctx context.Context, o *Options) error {
	if err := Stop(ctx, o); err != nil {
		return err
	}
	removed := false
	rootDir, logFolder := absolute(o.RootDir), absolute(o.LogFolder)
	if fileExists(o.RootDir) {
		if !fileExists(filepath.Join(o.RootDir, "pki", "ca.crt")) && !fileExists(filepath.Join(o.RootDir, server.AdminKubeconfig)) {
			return fmt.Errorf("--root-dir %s does not hold a space server's state (no pki/ca.crt nor %s); not removing it",
				o.RootDir, server.AdminKubeconfig)
		}
		o.step("rm -rf %s", o.RootDir)
		if err := os.RemoveAll(o.RootDir); err != nil {
			return fmt.Errorf("removing the space server's state: %w", err)
		}
		o.say("Removed the space server's state in %s", rootDir)
		removed = true
	}
	var files []string
	for _, name := range append(append([]string{}, controllers...), spaceServer) {
		files = append(files, o.logFile(name), o.pidFile(name))
	}
	logsRemoved := false
	for _, f := range files {
		if !fileExists(f) {
			continue
		}
		o.step("rm %s", f)
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing %s: %w", f, err)
		}
		logsRemoved = true
	}
	if logsRemoved {
		o.say("Removed the logs in %s", logFolder)
		removed = true
	}
	// Only an empty folder goes: anything else in it is not ours.
	if err := os.Remove(o.LogFolder); err == nil {
		o.step("rmdir %s", o.LogFolder)
	}
	if !removed {
		o.say("No KubeStellar state to remove (none in %s or %s)", rootDir, logFolder)
	}
	return nil
}

// absolute is path made absolute, for messages; path itself when that fails.
func absolute(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
