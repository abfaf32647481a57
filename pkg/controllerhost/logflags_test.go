package controllerhost

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
)

func TestLogFlagsLeavesOutSecrets(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("token", "", "")
	fs.String("db-password", "", "")
	NewOptions("test", ":0").AddFlags(fs)
	assert.NoError(t, fs.Parse([]string{"--root-kubeconfig=/k", "--token=s3cr3t", "--db-password=hunter2"}))
	var lines []string
	logger := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 1})
	logFlags(logger, fs)
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, `"root-kubeconfig"="/k"`)
	assert.Contains(t, all, `"token"="(redacted)"`)
	assert.NotContains(t, all, "s3cr3t")
	assert.NotContains(t, all, "hunter2")
}
