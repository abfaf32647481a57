// Command kubectl-kubestellar is the kubectl plugin behind `kubectl kubestellar`.
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubestellar/kubestellar/charts"
	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/cli/plugin"
)

func main() {
	console.Main(func(streams genericiooptions.IOStreams) *cobra.Command {
		return plugin.NewKubectlKubestellarCommand(streams, charts.Load)
	})
}
