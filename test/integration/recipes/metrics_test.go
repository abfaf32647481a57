package recipes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRecipesMetrics checks what `kubestellar start` serves on this machine: each
// controller's metrics on 127.0.0.1 (ports 10203-10205) without profiles, and its probes ten
// ports above.
func TestRecipesMetrics(t *testing.T) {
	c := sharedCore(t)

	t.Run("the controllers' metrics and probes answer on this machine, profiles do not", func(t *testing.T) {
		u := c.newUser(t)
		for _, port := range []string{"10203", "10204", "10205"} {
			out := u.ok(`curl -sS --fail http://127.0.0.1:` + port + `/metrics`)
			assert.Contains(t, out, "controller_runtime_reconcile_total", "port %s", port)
			assert.Equal(t, "404", u.ok(`curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:`+port+`/debug/pprof/`), "port %s", port)
		}
		for _, port := range []string{"10213", "10214", "10215"} {
			assert.Equal(t, "ok", strings.TrimSpace(u.ok(`curl -sS --fail http://127.0.0.1:`+port+`/healthz`)), "port %s", port)
			assert.Equal(t, "ok", strings.TrimSpace(u.ok(`curl -sS --fail http://127.0.0.1:`+port+`/readyz`)), "port %s", port)
		}
	})
}
