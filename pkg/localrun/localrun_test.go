package localrun

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdvertisedHost(t *testing.T) {
	ctx := t.Context()
	assert.Equal(t, "ks.example.test", (&Options{ExternalHostname: "ks.example.test", BindAddress: "10.1.2.3"}).advertisedHost(ctx),
		"--external-hostname wins")
	assert.Equal(t, "10.1.2.3", (&Options{BindAddress: "10.1.2.3"}).advertisedHost(ctx), "then --bind-address")
	assert.Equal(t, ReachableHost(ctx), (&Options{BindAddress: "0.0.0.0"}).advertisedHost(ctx), "every address is no address")
}

func TestReachableHostIsOfThisMachineAndNotLoopback(t *testing.T) {
	host := ReachableHost(t.Context())
	if host == "" {
		t.Skip("this machine has no address other machines can reach")
	}
	ip := net.ParseIP(host)
	if ip == nil {
		addrs, err := net.LookupHost(host)
		assert.NoError(t, err)
		assert.NotEmpty(t, addrs)
		return
	}
	assert.NotNil(t, ip.To4(), "an IPv4 address")
	assert.False(t, ip.IsLoopback())
	addrs, err := net.InterfaceAddrs()
	assert.NoError(t, err)
	var mine bool
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			mine = true
		}
	}
	assert.True(t, mine, "%s is an address of this machine", host)
}

// TestRunningRightAfterLaunch starts a process and asks at once whether it runs, many times:
// the kernel shows an empty command line for a moment after exec, which is not an exit.
func TestRunningRightAfterLaunch(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command here")
	}
	bin, logs := t.TempDir(), t.TempDir()
	data, err := os.ReadFile(sleep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, spaceServer), data, 0o755))
	o := &Options{BinDir: bin, LogFolder: logs, Out: io.Discard}
	// The moment is short on an idle machine; keep the processors busy, as a CI machine is.
	var stop atomic.Bool
	defer stop.Store(true)
	for range 2 * runtime.NumCPU() {
		go func() {
			for !stop.Load() {
				runtime.Gosched()
			}
		}()
	}
	for i := range 3000 {
		require.NoError(t, o.launch(spaceServer, []string{"30"}))
		running, pid := o.running(spaceServer)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		require.True(t, running, "launch %d: pid %d counted as exited while it runs", i, pid)
	}
}
