package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStampedBuild builds the command the way the Makefile does and checks what a user sees.
func TestStampedBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kubestellar-version")
	pkg := "github.com/kubestellar/kubestellar/pkg/version"
	ldflags := "-X " + pkg + ".gitCommit=0123abcd -X " + pkg + ".gitTreeState=clean -X " + pkg + ".buildDate=2026-01-02T03:04:05Z -X " + pkg + ".gitVersion=v1.2.3"
	out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(bin).Output()
	require.NoError(t, err)
	var info map[string]string
	require.NoError(t, json.Unmarshal(out, &info))
	assert.True(t, strings.HasPrefix(string(out), `{"major":"1","minor":"2","gitVersion":"v1.2.3",`), "the documents' field order: %s", out)
	assert.Equal(t, "1", info["major"])
	assert.Equal(t, "2", info["minor"])
	assert.Equal(t, "0123abcd", info["gitCommit"])
	assert.Equal(t, "clean", info["gitTreeState"])
	assert.Equal(t, "2026-01-02T03:04:05Z", info["buildDate"])
	assert.Equal(t, "v1.2.3", info["gitVersion"])
	assert.Contains(t, info["platform"], "/")

	for component, want := range map[string]string{"gitCommit": "0123abcd", "buildDate": "2026-01-02T03:04:05Z", "gitTreeState": "clean"} {
		out, err := exec.Command(bin, component).Output()
		require.NoError(t, err)
		assert.Equal(t, want+"\n", string(out))
	}

	cmd := exec.Command(bin, "help")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "an unknown component must fail")
	assert.NotZero(t, exitErr.ExitCode())
	assert.Empty(t, string(stdout))
	assert.Contains(t, stderr.String(), `Invalid component requested: "help"`)
	assert.Contains(t, stderr.String(), "Usage: ")
}
