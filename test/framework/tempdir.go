package framework

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tempRoot holds one directory per test process, named <pid>-<random>, so that directories
// left by a process that was killed (a test timeout panics past every cleanup) can be found
// and removed by the next run.
func tempRoot() string { return filepath.Join(os.TempDir(), "kubestellar-test") }

// TempDir makes a directory for a test's servers. It is removed when the test ends, and by
// a later test run if this process dies before that.
func TempDir(t testing.TB) string {
	t.Helper()
	sweepStale()
	if err := os.MkdirAll(tempRoot(), 0o755); err != nil {
		t.Fatalf("creating test directory root: %v", err)
	}
	dir, err := os.MkdirTemp(tempRoot(), strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatalf("creating test directory: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing test directory: %v", err)
		}
	})
	return dir
}

// sweepStale removes the directories of test processes that no longer exist.
func sweepStale() {
	entries, err := os.ReadDir(tempRoot())
	if err != nil {
		return
	}
	for _, e := range entries {
		pidText, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || alive(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(tempRoot(), e.Name()))
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// logTail returns the last lines of a file, for failure messages.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tail(string(data), lines)
}

// tail returns the last lines of text.
func tail(text string, lines int) string {
	all := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
