package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/inventory"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// imwFlagUsage is the help of --imw, wherever it is.
const imwFlagUsage = "inventory management space: a path (root:imw1) or a name under root (imw1); default the current space"

// locationOptions are the flags of ensure/remove location.
type locationOptions struct {
	imw string
}

func (o *locationOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.imw, "imw", "", imwFlagUsage)
}

// resolveIMW returns the path of the inventory management space that --imw (flag) names,
// or, when it names none, the current space. Neither the root space nor the core space
// (espw) is one, and a context that addresses no space has no current one.
func (e *env) resolveIMW(flag, espw string) (string, error) {
	_, current, err := e.spaces()
	if err != nil {
		return "", err
	}
	return imwPath(flag, current, espw)
}

// imwPath is resolveIMW's decision, given the current space.
func imwPath(flag, current, espw string) (string, error) {
	const fix = "name the inventory management space with --imw (e.g. --imw root:imw1), or enter it first with `kubectl kubestellar ws root:imw1`"
	if flag == "" {
		switch current {
		case "":
			return "", fmt.Errorf("the current context addresses no space, so there is no current space to use as the inventory management space: %s", fix)
		case spaces.RootPath, espw:
			return "", fmt.Errorf("the current space %s is not an inventory management space: %s", current, fix)
		}
		return current, nil
	}
	path, err := spaces.ResolvePath(flag)
	if err != nil {
		return "", fmt.Errorf("--imw %q: %w", flag, err)
	}
	if path == spaces.RootPath || path == espw {
		return "", fmt.Errorf("--imw %s: that is not an inventory management space; name one such as root:imw1", path)
	}
	return path, nil
}

// imwClient returns a client for the inventory space at path, which must exist.
func (e *env) imwClient(cmd *cobra.Command, path string) (client.Client, *spaces.Client, error) {
	c, _, err := e.spaces()
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Get(cmd.Context(), path); err != nil {
		if errors.Is(err, spaces.ErrNotFound) {
			name, _ := spaces.ChildName(path)
			return nil, nil, fmt.Errorf("the inventory management space %s does not exist; create it with `kubectl kubestellar ws create %s` or `kubestellar init --ensure-imw %s`", path, name, path)
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
		Long: `ensure location makes sure that, in the inventory management space (--imw, by default the
current space), the SyncTarget NAME exists with the label id=NAME and the given labels, and
the Location NAME exists with the given labels and selects the SyncTarget by id=NAME. Labels
not given are left as they are. The SyncTarget is annotated kcp.io/cluster=<the space's ID>,
so that its mailbox is <ID>-mb-<SyncTarget UID>. It installs the KubeStellar API into the
space if the space does not serve it yet, and deletes a Location named "default" if there is
one. Afterwards the inventory management space is the current space. Running it again
changes nothing.`,
		Example: "  kubectl kubestellar ws root:imw1\n  kubectl kubestellar ensure location florin env=prod region=eu\n" +
			"  kubectl kubestellar ensure location --imw imw1 guilder env=prod extended=yes",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			name, labels, err := locationArgs(args)
			if err != nil {
				return err
			}
			return e.ensureLocationIn(cmd, o.imw, spaces.DefaultESPW, name, labels, true)
		},
	}
	o.addFlags(cmd)
	e.addTrace(cmd)
	return cmd
}

// ensureLocation ensures the SyncTarget and Location name in the inventory management space
// that --imw (imwFlag) names, and leaves the current space as it is.
func (e *env) ensureLocation(cmd *cobra.Command, imwFlag, espw, name string, labels map[string]string) error {
	return e.ensureLocationIn(cmd, imwFlag, espw, name, labels, false)
}

// ensureLocationIn ensures the SyncTarget and Location name; with enter, it first makes the
// inventory management space current, as the original command does.
func (e *env) ensureLocationIn(cmd *cobra.Command, imwFlag, espw, name string, labels map[string]string, enter bool) error {
	ctx := cmd.Context()
	imw, err := e.resolveIMW(imwFlag, espw)
	if err != nil {
		return err
	}
	e.step("ensure SyncTarget and Location %s in %s with labels %v", name, imw, labels)
	cl, c, err := e.imwClient(cmd, imw)
	if err != nil {
		return err
	}
	if enter {
		if err := e.enterSpace(ctx, c, imw); err != nil {
			return err
		}
	}
	if cl, err = e.ensureInventoryAPI(ctx, c, cl, imw); err != nil {
		return err
	}
	if err := inventory.EnsureLocation(ctx, cl, name, labels, e.say); err != nil {
		return err
	}
	id, err := c.ID(ctx, imw)
	if err != nil {
		return err
	}
	st := &edgev2alpha1.SyncTarget{}
	if err := cl.Get(ctx, client.ObjectKey{Name: name}, st); err != nil {
		return fmt.Errorf("reading SyncTarget %s in %s: %w", name, imw, err)
	}
	e.step("annotate SyncTarget %s with %s=%s", name, mailbox.AnnotationSpaceID, id)
	_, err = mailbox.AnnotateSyncTarget(ctx, cl, st, id)
	return err
}

// ensureInventoryAPI installs the KubeStellar API into the space at path unless it serves
// SyncTargets already (the original command bound the API into the workspace when needed),
// and returns a client that knows it.
func (e *env) ensureInventoryAPI(ctx context.Context, c *spaces.Client, cl client.Client, path string) (client.Client, error) {
	err := cl.List(ctx, &edgev2alpha1.SyncTargetList{}, client.Limit(1))
	if err == nil {
		return cl, nil
	}
	if !meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("listing SyncTargets in %s: %w", path, err)
	}
	e.step("install the KubeStellar API into %s", path)
	list, err := crds.Edge()
	if err != nil {
		return nil, err
	}
	if err := crds.Install(ctx, c.Config(path), list, time.Minute); err != nil {
		return nil, fmt.Errorf("installing the KubeStellar API into %s: %w", path, err)
	}
	e.say("The KubeStellar API is installed in %s.", path)
	return clientFor(c, path)
}

func newRemoveLocation(e *env) *cobra.Command {
	o := &locationOptions{}
	cmd := &cobra.Command{
		Use:   "location NAME",
		Short: "Delete the SyncTarget and the Location of a workload execution cluster",
		Long: `remove location deletes the SyncTarget and the Location NAME from the inventory management
space (--imw, by default the current space). Deleting what is not there is fine.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			imw, err := e.resolveIMW(o.imw, spaces.DefaultESPW)
			if err != nil {
				return err
			}
			e.step("delete SyncTarget and Location %s in %s", args[0], imw)
			cl, _, err := e.imwClient(cmd, imw)
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

// locationArgs parses "NAME [KEY=VALUE...]", the arguments of ensure location and
// prep-for-cluster.
func locationArgs(args []string) (string, map[string]string, error) {
	if err := inventory.ValidateName(args[0]); err != nil {
		return "", nil, err
	}
	labels, err := inventory.ParseLabels(args[1:])
	if err != nil {
		return "", nil, err
	}
	return args[0], labels, nil
}
