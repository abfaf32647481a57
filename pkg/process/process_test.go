package process

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signalLog records the signals a Process sends, checking at each that the target is still
// this test's own child: running, or exited and not yet reaped.
type signalLog struct {
	t    *testing.T
	mu   sync.Mutex
	sent []syscall.Signal
}

func (l *signalLog) kill(pid int, sig syscall.Signal) error {
	target := pid
	if target < 0 {
		target = -target
	}
	if ppid, ok := parentOf(target); !ok || ppid != os.Getpid() {
		l.t.Errorf("signal %v sent to pid %d, which is no longer this test's child", sig, pid)
	}
	l.mu.Lock()
	l.sent = append(l.sent, sig)
	l.mu.Unlock()
	return syscall.Kill(pid, sig)
}

func (l *signalLog) signals() []syscall.Signal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]syscall.Signal(nil), l.sent...)
}

// parentOf reads a process's parent pid from /proc; a zombie still has its entry.
func parentOf(pid int) (int, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

func start(t *testing.T, path string, args ...string) (*Process, *signalLog) {
	t.Helper()
	p, err := Start(Spec{Name: filepath.Base(path), Path: path, Args: args, LogFile: filepath.Join(t.TempDir(), "log")})
	require.NoError(t, err)
	log := &signalLog{t: t}
	p.mu.Lock()
	p.kill = log.kill
	p.mu.Unlock()
	t.Cleanup(func() { p.Stop(time.Second) })
	return p, log
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err)
	return path
}

func exitSignal(err error) (syscall.Signal, bool) {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return 0, false
	}
	status, ok := exitErr.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() {
		return 0, false
	}
	return status.Signal(), true
}

func TestStopAfterExitSendsNoSignal(t *testing.T) {
	p, log := start(t, lookPath(t, "true"))
	<-p.Done()
	require.NoError(t, p.Err())

	p.Stop(time.Second)
	p.Stop(time.Second)
	assert.False(t, p.Signal(syscall.SIGTERM), "Signal after exit")
	assert.Empty(t, log.signals(), "a process that has exited (its pid free for re-use) is never signalled")
}

func TestStopRacingExitSignalsOnlyOwnChild(t *testing.T) {
	truePath := lookPath(t, "true")
	for range 50 {
		p, _ := start(t, truePath)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { p.Stop(time.Second) })
		}
		wg.Wait()
		select {
		case <-p.Done():
		default:
			t.Fatal("Stop returned before the process had exited")
		}
	}
}

func TestStopConcurrentCallsAllReturnOnceExited(t *testing.T) {
	p, log := start(t, lookPath(t, "sleep"), "600")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { p.Stop(time.Minute) })
	}
	wg.Wait()
	sig, ok := exitSignal(p.Err())
	require.True(t, ok, "exited by a signal: %v", p.Err())
	assert.Equal(t, syscall.SIGTERM, sig)
	assert.NotContains(t, log.signals(), syscall.SIGKILL)

	sent := len(log.signals())
	p.Stop(time.Minute)
	assert.Len(t, log.signals(), sent, "stopping again after the exit signals nothing")
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	p, log := start(t, lookPath(t, "sh"), "-c", `trap "" TERM; while :; do sleep 1; done`)
	// Let the shell set its trap before it is signalled: wait for SIGTERM's bit in the ignored
	// set (other bits may be set already, for example when the tests run in the background).
	require.Eventually(t, func() bool { return ignores(p.Pid(), syscall.SIGTERM) }, 10*time.Second, 10*time.Millisecond)

	p.Stop(200 * time.Millisecond)
	sig, ok := exitSignal(p.Err())
	require.True(t, ok, "exited by a signal: %v", p.Err())
	assert.Equal(t, syscall.SIGKILL, sig)
	assert.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, log.signals())
}

// ignores reports whether the process ignores sig, from the SigIgn mask in /proc/PID/status.
func ignores(pid int, sig syscall.Signal) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if mask, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
			return err == nil && bits&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}
