package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// wmwPath turns a workload management space's name (or path) into its path.
func wmwPath(name string) (string, error) {
	path, err := spaces.ResolvePath(name)
	if err != nil || path == spaces.RootPath {
		return "", fmt.Errorf("workload management space name %q must be a DNS label, such as wmw1", name)
	}
	return path, nil
}

func newEnsureWMW(e *env) *cobra.Command {
	var withKube bool
	timeout := 3 * time.Minute
	cmd := &cobra.Command{
		Use:   "wmw NAME",
		Short: "Ensure a workload management space, root:NAME, with the KubeStellar API",
		Long: `ensure wmw makes sure the workload management space root:NAME exists and is Ready, and that
it serves the KubeStellar API (EdgePlacement, Customizer, ...), and makes it the current space.
Running it again changes nothing else.

--with-kube: in the original KubeStellar a workspace got the Kubernetes API (Deployments,
ConfigMaps, ...) only when asked. Here a workload management space always serves the
Kubernetes workload API (all of it but what configures a cluster's own machinery, such as
StorageClasses and admission webhooks); --with-kube=false is accepted and changes nothing.`,
		Example: "  kubectl kubestellar ensure wmw wmw1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			path, err := wmwPath(args[0])
			if err != nil {
				return err
			}
			if !withKube {
				e.progress("Note: a workload management space always serves the Kubernetes workload API; --with-kube=false changes nothing")
			}
			c, _, err := e.spaces()
			if err != nil {
				return err
			}
			e.step("ensure space %s with the KubeStellar API", path)
			created, err := bootstrap.EnsureWithAPI(cmd.Context(), c, path, spacev1alpha1.RoleWorkload, timeout, e.progress)
			if err != nil {
				return err
			}
			if created {
				e.say("space %q created", path)
			} else {
				e.say("space %q unchanged", path)
			}
			return e.enterSpace(cmd.Context(), c, path)
		},
	}
	cmd.Flags().BoolVar(&withKube, "with-kube", true, "kept for compatibility; a workload management space always serves the Kubernetes workload API")
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the space")
	e.addTrace(cmd)
	return cmd
}

func newRemoveWMW(e *env) *cobra.Command {
	timeout := 2 * time.Minute
	cmd := &cobra.Command{
		Use:   "wmw NAME",
		Short: "Delete a workload management space and everything in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			path, err := wmwPath(args[0])
			if err != nil {
				return err
			}
			c, current, err := e.spaces()
			if err != nil {
				return err
			}
			e.step("delete space %s", path)
			deleted, err := c.Delete(cmd.Context(), path, timeout)
			if err != nil {
				return err
			}
			if deleted {
				e.say("space %q deleted", path)
			} else {
				e.say("space %q was not there", path)
			}
			if current == path {
				// The context must not be left pointing at a space that is gone.
				return e.enterSpace(cmd.Context(), c, spaces.RootPath)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the space to go")
	e.addTrace(cmd)
	return cmd
}
