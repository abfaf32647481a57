package server

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// parseOptions is the server's options as the flags args set them.
func parseOptions(t *testing.T, args ...string) *Options {
	t.Helper()
	o := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return o
}

func TestReplicaFlags(t *testing.T) {
	parse := func(args ...string) *Options { return parseOptions(t, args...) }

	o := parse("--replica", "b", "--root-replica", "a", "--peer", "a=https://space-server-0.ks:6443", "--peer", "c=https://10.0.0.3:6443")
	require.NoError(t, o.Validate())
	assert.Equal(t, map[string]string{"a": "https://space-server-0.ks:6443", "c": "https://10.0.0.3:6443"}, o.Peers)
	require.NoError(t, parse().Validate(), "a lone server needs none of them")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--replica", "a", "--peer", "a=https://x:6443"}, `--peer a=https://x:6443: name another replica than this one (--replica "a")`},
		{[]string{"--peer", "=https://x:6443"}, "--peer =https://x:6443: name another replica"},
		{[]string{"--replica", "a", "--peer", "b=http://x:6443"}, "--peer b=http://x:6443: give the replica's front proxy as https://host:port"},
		{[]string{"--replica", "a", "--peer", "b=x:6443"}, "give the replica's front proxy as https://host:port"},
		{[]string{"--replica", "a", "--peer", "b=https://x:6443/clusters/root"}, "give the replica's front proxy as https://host:port"},
		{[]string{"--replica", "b", "--root-replica", "a"}, "--root-replica a is another replica: give its address with --peer a=https://host:port"},
	} {
		err := parse(tc.args...).Validate()
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}

func TestCertificateFlags(t *testing.T) {
	parse := func(args ...string) *Options { return parseOptions(t, args...) }
	assert.Equal(t, pki.LeafValidity, parse().CertificateValidity, "the default lifetime is unchanged")
	o := parse("--certificate-validity", "90s", "--metrics-bind-address", "127.0.0.1:10210")
	require.NoError(t, o.Validate())
	assert.Equal(t, 90*time.Second, o.CertificateValidity)

	err := parse("--certificate-validity", "10s").Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--certificate-validity 10s is shorter than 30s")
	err = parse("--metrics-bind-address", "10210").Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--metrics-bind-address "10210": give [host]:port`)
}
