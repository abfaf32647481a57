package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocumentedFlags runs the controller with the original documents' --mbws-* flags and
// checks, in the flags it logs at startup, that they set the --base-* flags.
func TestDocumentedFlags(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailbox-controller")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	help, err := exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err, string(help))
	assert.Contains(t, string(help), "--mbws-kubeconfig")
	// Metrics stay on this machine unless asked otherwise; the probes have their own port.
	assert.Regexp(t, `--metrics-bind-address string +.*\(default "127\.0\.0\.1:10203"\)`, string(help))
	assert.Regexp(t, `--health-bind-address string +.*\(default ":10213"\)`, string(help))
	assert.Regexp(t, `--metrics-secure +.*HTTPS`, string(help))
	assert.Regexp(t, `--enable-pprof +.*/debug/pprof/`, string(help))

	// The kubeconfig does not exist, so the controller waits for it until killed.
	kubeconfig := filepath.Join(dir, "not-yet.kubeconfig")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--mbws-kubeconfig", kubeconfig, "--mbws-context", "mb", "--mbws-user", "u1",
		"--mbws-cluster", "c1", "--server-bind-address", "", "-v", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	log := stderr.String()
	for _, want := range []string{
		`"Command line flag" base-kubeconfig="` + kubeconfig + `"`,
		`"Command line flag" base-context="mb"`,
		`"Command line flag" base-user="u1"`,
		`"Command line flag" base-cluster="c1"`,
		`"Command line flag" concurrency="8"`,
		`"Command line flag" espw-path="root:espw"`,
		// --server-bind-address is the original's name of --metrics-bind-address.
		`"Command line flag" metrics-bind-address=""`,
		`"Command line flag" enable-pprof="false"`,
	} {
		assert.Contains(t, log, want)
	}
	assert.NotContains(t, log, "unknown flag")
}
