package plugin

import (
	"helm.sh/helm/v3/pkg/chart"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubestellar/kubestellar/pkg/deploy"
)

// ChartLoader returns the chart that deploy installs unless --chart says otherwise.
type ChartLoader func() (*chart.Chart, error)

// NewKubectlKubestellarCommand returns the command tree of `kubectl kubestellar`; deploy
// installs the chart that loadChart returns.
func NewKubectlKubestellarCommand(streams genericiooptions.IOStreams, loadChart ChartLoader) *cobra.Command {
	e := &env{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-kubestellar",
		Short: "Manage KubeStellar: inventory, workspaces, syncers and deployment",
		Long: `kubectl kubestellar manages KubeStellar. The kubeconfig (the usual kubectl flags apply) must
reach the KubeStellar space server; its current context's URL path, /clusters/<path>, is the
current space, and the commands address other spaces by path from the same server.
The usual kubectl flags apply; the server is given with --server (-s means --silent here).`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kubestellar"},
		SilenceErrors: true,
	}
	e.flags.AddFlags(root.PersistentFlags())
	// As in the original KubeStellar, -s is prep-for-syncer's --silent; give the server
	// with --server.
	if server := root.PersistentFlags().Lookup("server"); server != nil {
		server.Shorthand = ""
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	ensure := &cobra.Command{Use: "ensure", Short: "Create something unless it exists"}
	remove := &cobra.Command{Use: "remove", Short: "Delete something; deleting what is not there is fine"}
	ensure.AddCommand(newEnsureLocation(e), newEnsureWMW(e))
	remove.AddCommand(newRemoveLocation(e), newRemoveWMW(e))
	root.AddCommand(ensure, remove, newWS(e), newPrepForSyncer(e), newPrepForCluster(e), newSyncerGen(e),
		newDeploy(e, loadChart), newExplain(e), newStatus(e),
		newGetKubeconfig(e, "get-internal-kubeconfig", deploy.KeyCluster, "clients inside the hosting cluster (https://kubestellar.<namespace>.svc:6443)"),
		newGetKubeconfig(e, "get-external-kubeconfig", deploy.KeyExternal, "clients outside the hosting cluster (the external endpoint given to deploy)"))
	return root
}
