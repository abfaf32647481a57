package recipes

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRecipes runs every recipe against one core; each group of recipes is a subtest with a
// user of its own.
func TestRecipes(t *testing.T) {
	c := sharedCore(t)
	t.Run("the core answers kubectl", func(t *testing.T) {
		u := c.newUser(t)
		assert.Contains(t, u.ok("kubectl get spaces"), "espw")
	})
}
