// Command kubestellar-release prints the semantic version of this KubeStellar release.
package main

import (
	"fmt"
	"os"

	"github.com/kubestellar/kubestellar/pkg/version"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "Usage: %s\nPrints the semantic version of this KubeStellar release.\n", os.Args[0])
		os.Exit(1)
	}
	fmt.Println(version.Get())
}
