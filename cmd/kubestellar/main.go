// Command kubestellar runs the KubeStellar core as bare processes on this machine.
package main

import (
	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/cli/kubestellar"
)

func main() { console.Main(kubestellar.NewKubestellarCommand) }
