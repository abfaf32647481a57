package plugin

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/inventory"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// locationOptions are the flags of ensure/remove location.
type locationOptions struct {
	imw string
}

func (o *locationOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.imw, "imw", spaces.DefaultIMW, "path of the inventory management space")
}

// imwClient returns a client for the inventory space, which must exist.
func (e *env) imwClient(cmd *cobra.Command, path string) (client.Client, *spaces.Client, error) {
	c, _, err := e.spaces()
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Get(cmd.Context(), path); err != nil {
		if errors.Is(err, spaces.ErrNotFound) {
			return nil, nil, fmt.Errorf("the inventory management space %s does not exist; create it with `kubestellar init --ensure-imw %s`", path, path)
		}
		return nil, nil, err
	}
	cl, err := clientFor(c, path)
	return cl, c, err
}

func newEnsureLocation(e *env) *cobra.Command {
	o := &locationOptions{}
	cmd := &cobra.Command{
		Use:   "location NAME [KEY=VALUE...]",
		Short: "Ensure a SyncTarget and a Location for a workload execution cluster",
		Long: `ensure location makes sure that, in the inventory management space, the SyncTarget NAME
exists with the label id=NAME and the given labels, and the Location NAME exists with the given
labels and selects the SyncTarget by id=NAME. Labels not given are left as they are. It deletes
a Location named "default" if there is one. Running it again changes nothing.`,
		Example: "  kubectl kubestellar ensure location florin env=prod region=eu",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			name := args[0]
			if err := inventory.ValidateName(name); err != nil {
				return err
			}
			labels, err := inventory.ParseLabels(args[1:])
			if err != nil {
				return err
			}
			return e.ensureLocation(cmd, o.imw, name, labels)
		},
	}
	o.addFlags(cmd)
	e.addTrace(cmd)
	return cmd
}

func (e *env) ensureLocation(cmd *cobra.Command, imw, name string, labels map[string]string) error {
	e.step("ensure SyncTarget and Location %s in %s with labels %v", name, imw, labels)
	cl, _, err := e.imwClient(cmd, imw)
	if err != nil {
		return err
	}
	return inventory.EnsureLocation(cmd.Context(), cl, name, labels, e.say)
}

func newRemoveLocation(e *env) *cobra.Command {
	o := &locationOptions{}
	cmd := &cobra.Command{
		Use:   "location NAME",
		Short: "Delete the SyncTarget and the Location of a workload execution cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			e.step("delete SyncTarget and Location %s in %s", args[0], o.imw)
			cl, _, err := e.imwClient(cmd, o.imw)
			if err != nil {
				return err
			}
			return inventory.RemoveLocation(cmd.Context(), cl, args[0], e.say)
		},
	}
	o.addFlags(cmd)
	e.addTrace(cmd)
	return cmd
}
