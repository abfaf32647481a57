package server

import (
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplicaFlags(t *testing.T) {
	parse := func(args ...string) *Options {
		t.Helper()
		o := NewOptions()
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.AddFlags(fs)
		require.NoError(t, fs.Parse(args))
		return o
	}

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
