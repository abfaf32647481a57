// Package process runs the upstream binaries KubeStellar is built on (kube-apiserver,
// kube-controller-manager, etcd) as child processes: output to a log file, killed by the
// kernel if their parent dies, stopped gracefully on request.
package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes a child process.
type Spec struct {
	// Name is used in errors and logs.
	Name string
	// Path is the executable.
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Env, when not nil, replaces the inherited environment.
	Env []string
	// LogFile receives stdout and stderr; it is appended to.
	LogFile string
}

// Process is a running child process.
type Process struct {
	spec Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	// mu orders signals before reaping: the waiter marks the process exited, under mu, before
	// it reaps it, and signals are sent under mu only while it has not exited. Until it is
	// reaped the (zombie) process keeps its pid, so a signal never reaches a process that
	// was given the same pid later.
	mu     sync.Mutex
	exited bool
	// kill sends signals; syscall.Kill except in tests.
	kill func(pid int, sig syscall.Signal) error
}

// Start starts the process. It is sent SIGKILL by the kernel if this process dies first, so
// a crashed or timed-out parent leaves nothing behind.
func Start(spec Spec) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(spec.LogFile), 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory for %s: %w", spec.Name, err)
	}
	logFile, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file for %s: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{spec: spec, cmd: cmd, done: make(chan struct{}), kill: syscall.Kill}
	go func() {
		waitExited(cmd.Process.Pid)
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// waitExited blocks until the process has exited, leaving it to be reaped.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			// Any other error (there is no such child) means there is nothing left to wait for.
			return
		}
	}
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited; valid after Done is closed.
func (p *Process) Err() error { return p.err }

// LogFile is where the process's output goes.
func (p *Process) LogFile() string { return p.spec.LogFile }

// Exited reports whether the process has exited, and if so, how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, fmt.Errorf("%s exited: %w (see %s)", p.spec.Name, p.err, p.spec.LogFile)
	default:
		return false, nil
	}
}

// Signal sends sig to the process alone (not to its group), unless it has exited; it reports
// whether the signal was sent.
func (p *Process) Signal(sig syscall.Signal) bool {
	return p.signal(p.cmd.Process.Pid, sig)
}

// signalGroup sends sig to the process's group, unless the process has exited.
func (p *Process) signalGroup(sig syscall.Signal) bool {
	return p.signal(-p.cmd.Process.Pid, sig)
}

func (p *Process) signal(pid int, sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	_ = p.kill(pid, sig)
	return true
}

// Stop sends SIGTERM to the process's group (some binaries start helpers of their own),
// waits up to grace for the process to exit, then kills the group, and returns once the
// process has exited. It is safe to call concurrently, and after the process has exited,
// when it signals nothing.
func (p *Process) Stop(grace time.Duration) {
	if !p.signalGroup(syscall.SIGTERM) {
		<-p.done
		return
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.signalGroup(syscall.SIGKILL)
		<-p.done
	}
}

// Wait waits for the process to exit or for ctx to end.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
