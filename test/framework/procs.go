package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a running process found by its command line.
type Process struct {
	PID  int
	Args []string
}

// ProcessesMatching lists the processes whose command line contains every one of parts.
func ProcessesMatching(parts ...string) []Process {
	var out []Process
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		cmdline := string(raw)
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(cmdline, p)
		}
		if ok {
			out = append(out, Process{PID: pid, Args: strings.Split(strings.TrimRight(cmdline, "\x00"), "\x00")})
		}
	}
	return out
}

// RSSKiB is a process's resident set size in KiB (0 when it cannot be read).
func RSSKiB(pid int) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// Memory is what a process's memory costs, in KiB, from /proc/PID/smaps_rollup.
type Memory struct {
	// RSS is the resident set: every page in memory, shared ones included.
	RSS int64
	// PSS is the proportional set: shared pages divided among the processes sharing them.
	PSS int64
	// PrivateDirty is what this process alone holds (its heap and stacks): what it costs.
	PrivateDirty int64
}

// MemoryOf reads a process's memory.
func MemoryOf(pid int) (Memory, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return Memory{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	var m Memory
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "Rss":
			m.RSS = n
		case "Pss":
			m.PSS = n
		case "Private_Dirty":
			m.PrivateDirty = n
		}
	}
	return m, nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// CPUTime is the CPU time (user and system) a process has used so far.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces; the fields after it do not. utime
	// and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	_, rest, _ := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("process %d: short /proc stat line", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process %d: unreadable CPU times in /proc stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// SpaceProcess returns the process of the given program ("kube-apiserver",
// "kube-controller-manager") serving the space with the given ID.
func (s *SpaceServer) SpaceProcess(spaceID, program string) (Process, bool) {
	for _, p := range ProcessesMatching(filepath.Join(s.Options.RootDir, "spaces", spaceID) + "/") {
		if filepath.Base(p.Args[0]) == program {
			return p, true
		}
	}
	return Process{}, false
}

// Main runs a package's tests (call it from TestMain) and then makes sure that no process a
// test started, directly or through a program that let it run on in the background, outlives
// them: the test process adopts orphaned descendants (it is their subreaper), and any
// descendant still running at the end (after the after functions, which stop what the
// package shares) is listed, killed, and fails the run.
func Main(m *testing.M, after ...func()) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "framework: cannot adopt orphaned test processes: %v\n", err)
	}
	code := m.Run()
	for _, f := range after {
		f()
	}
	if left := children(); len(left) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: processes started by the tests are still running; killing them:")
		for _, p := range left {
			fmt.Fprintf(os.Stderr, "  pid %d: %s\n", p.PID, strings.Join(p.Args, " "))
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		code = 1
	}
	os.Exit(code)
}

// children lists this process's living (not zombie) child processes.
func children() []Process {
	var out []Process
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := parentAndState(pid)
		if !ok || ppid != self || state == "Z" || state == "X" {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, Process{PID: pid, Args: strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")})
	}
	return out
}

// parentAndState reads a process's parent pid and state letter from /proc.
func parentAndState(pid int) (int, string, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", false
	}
	// The command name, in parentheses, may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 2 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, fields[0], err == nil
}
