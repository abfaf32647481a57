// Package recipes runs the original KubeStellar documents' recipes as they type them, in a
// shell, against a core that `kubestellar start` runs, and checks what a user would see.
package recipes

import (
	"fmt"
	"os"
	"testing"

	"github.com/kubestellar/kubestellar/test/framework"
)

// shared is the core every test of the package uses; TestMain stops it.
var shared = &lazyCore{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubestellar-recipes-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	framework.Main(m, func() {
		shared.stop()
		if os.Getenv("KEEP") == "" {
			_ = os.RemoveAll(dir)
		}
	})
}
