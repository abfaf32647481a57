package bench

import (
	"testing"

	"github.com/kubestellar/kubestellar/test/framework"
)

// TestMain fails the run if a process a benchmark started outlives it.
func TestMain(m *testing.M) { framework.Main(m) }
