package kubestellar

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubestellar/kubestellar/pkg/localrun"
)

// NewRemoveKubestellarCommand returns the remove-kubestellar command: stop the bare-process
// core and delete its state.
func NewRemoveKubestellarCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &localrun.Options{Out: streams.Out}
	var trace bool
	cmd := &cobra.Command{
		Use:   "remove-kubestellar",
		Short: "Stop the KubeStellar core run by kubestellar start and delete its state",
		Long: `remove-kubestellar undoes kubestellar start: it stops the processes recorded in --log-folder
(the controllers, then the space server and with it every space's API server), deletes the
space server's state in --root-dir (certificates, etcd data, every space and its objects,
admin.kubeconfig) and the processes' logs and pid files. Kubeconfigs handed out stop working,
and a later kubestellar start begins afresh with a new CA.

Run it in the folder where kubestellar start was run, or give the same --root-dir and
--log-folder. It can be run again: what is already gone is skipped.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			if trace {
				o.Trace = streams.ErrOut
			}
			return localrun.Remove(cmd.Context(), o)
		},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	fs := cmd.Flags()
	fs.StringVar(&o.LogFolder, "log-folder", defaultLogFolder, "folder of the processes' logs and pid files, as given to kubestellar start")
	fs.StringVar(&o.RootDir, "root-dir", defaultRootDir, "state directory of the local space server, as given to kubestellar start")
	fs.BoolVarP(&trace, "trace", "X", false, "print each step as it is taken")
	return cmd
}
