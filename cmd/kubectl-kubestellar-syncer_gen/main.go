// Command kubectl-kubestellar-syncer_gen is `kubectl kubestellar syncer-gen` as a plugin of its
// own, under the name the original KubeStellar documents use: run in a mailbox, it gives the
// syncer access there and writes the manifest for the workload execution cluster.
package main

import (
	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/cli/plugin"
)

func main() { console.Main(plugin.NewSyncerGenCommand) }
