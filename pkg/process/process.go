// Package process runs the upstream binaries KubeStellar is built on (kube-apiserver,
// kube-controller-manager, etcd) as child processes: output to a log file, killed by the
// kernel if their parent dies, stopped gracefully on request.
package process

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
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
	once sync.Once
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
	p := &Process{spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
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

// Stop sends SIGTERM, waits up to grace for the process to exit, then kills it. Stopping a
// process that has already exited does nothing.
func (p *Process) Stop(grace time.Duration) {
	p.once.Do(func() {
		// Signal the whole process group: some binaries start helpers of their own.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
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
