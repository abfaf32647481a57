//go:build chaos

package chaos

import (
	"testing"

	"github.com/kubestellar/kubestellar/test/framework"
)

// TestMain fails the run if a process the suite started outlives it.
func TestMain(m *testing.M) { framework.Main(m) }
