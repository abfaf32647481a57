package console

import (
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
)

func TestJoinBoolValues(t *testing.T) {
	root := &cobra.Command{Use: "root"}
	root.PersistentFlags().Bool("local-kcp", true, "")
	sub := &cobra.Command{Use: "wmw", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().Bool("with-kube", true, "")
	sub.Flags().BoolP("trace", "X", false, "")
	sub.Flags().String("name", "", "")
	root.AddCommand(sub)

	for _, tc := range []struct{ in, want []string }{
		{[]string{"wmw", "example-wmw", "--with-kube", "false"}, []string{"wmw", "example-wmw", "--with-kube=false"}},
		{[]string{"--local-kcp", "false", "wmw", "x"}, []string{"--local-kcp=false", "wmw", "x"}},
		{[]string{"wmw", "--with-kube", "x"}, []string{"wmw", "--with-kube", "x"}},
		{[]string{"wmw", "-X", "true", "x"}, []string{"wmw", "-X=true", "x"}},
		{[]string{"wmw", "--name", "true"}, []string{"wmw", "--name", "true"}},
		{[]string{"wmw", "--with-kube=true", "false"}, []string{"wmw", "--with-kube=true", "false"}},
		{[]string{"wmw", "--", "--with-kube", "false"}, []string{"wmw", "--", "--with-kube", "false"}},
	} {
		assert.Equal(t, tc.want, JoinBoolValues(root, tc.in), "%v", tc.in)
	}

	var withKube bool
	assert.NoError(t, sub.Flags().Lookup("with-kube").Value.Set("true"))
	root.SetArgs(JoinBoolValues(root, []string{"wmw", "example-wmw", "--with-kube", "false"}))
	sub.RunE = func(c *cobra.Command, args []string) error {
		withKube, _ = c.Flags().GetBool("with-kube")
		assert.Equal(t, []string{"example-wmw"}, args)
		return nil
	}
	assert.NoError(t, root.Execute())
	assert.False(t, withKube)
}
