package framework

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
