// Command remove-kubestellar stops the KubeStellar core that `kubestellar start` runs on this
// machine and deletes its state.
package main

import (
	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/cli/kubestellar"
)

func main() { console.Main(kubestellar.NewRemoveKubestellarCommand) }
