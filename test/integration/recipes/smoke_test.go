package recipes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRecipes runs the recipes that are not about one area; each is a subtest with a user
// of its own.
func TestRecipes(t *testing.T) {
	c := sharedCore(t)
	t.Run("the core answers kubectl", func(t *testing.T) {
		u := c.newUser(t)
		assert.Contains(t, u.ok("kubectl get spaces"), "espw")
	})

	t.Run("boolean flags take their value after a space, as the documents type them", func(t *testing.T) {
		u := c.newUser(t)
		out := u.ok(`
kubectl kubestellar ensure wmw example-wmw --with-kube false
kubectl kubestellar ensure wmw example-wmw --with-kube true
`)
		assert.Contains(t, out, `space "root:example-wmw" created`)
		assert.Contains(t, out, `space "root:example-wmw" unchanged`)
		out = u.ok(`kubestellar --local-kcp false init --ensure-imw root:imw1 --ensure-wmw root:example-wmw`)
		assert.Contains(t, out, "The core space root:espw is Ready")
		assert.NotContains(t, out, "created")
		// A value that is not a boolean stays an argument, and says so.
		r := u.fails("accepts 1 arg(s)", `kubectl kubestellar ensure wmw example-wmw --with-kube maybe`)
		assert.True(t, strings.Contains(r.Stdout+r.Stderr, "Usage:"), "a bad argument shows the usage")
	})
}
