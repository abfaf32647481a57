package plugin

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

func newWS(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "ws [PATH|.|..|tree]",
		Short: "Show or change the current space of the current context",
		Long: `ws shows the current space (the /clusters/<path> of the current context's server URL), or
changes it: PATH is a path such as root:imw1, or a name under root; ".." goes to root; "."
shows the current one; "tree" shows every space.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			c, current, err := e.spaces()
			if err != nil {
				return err
			}
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			switch arg {
			case ".":
				if current == "" {
					return fmt.Errorf("the current context addresses no space (its URL has no /clusters/<path>)")
				}
				e.say("Current space is %q.", current)
				return nil
			case "tree":
				paths, err := c.List(cmd.Context())
				if err != nil {
					return err
				}
				e.say(".")
				e.say("└── %s", spaces.RootPath)
				for i, p := range paths[1:] {
					branch := "├──"
					if i == len(paths)-2 {
						branch = "└──"
					}
					name, _ := spaces.ChildName(p)
					e.say("    %s %s", branch, name)
				}
				return nil
			case "..":
				if current == spaces.RootPath || current == "" {
					return fmt.Errorf("space %q has no parent", current)
				}
				arg = spaces.RootPath
			}
			target := arg
			if !strings.HasPrefix(arg, spaces.RootPath) {
				target = spaces.ChildPath(arg)
			}
			if _, err := c.Get(cmd.Context(), target); err != nil {
				return err
			}
			if err := e.setCurrentSpace(c, target); err != nil {
				return err
			}
			e.say("Current space is %q.", target)
			return nil
		},
	}
}

// setCurrentSpace points the current context's cluster at the space at path.
func (e *env) setCurrentSpace(c *spaces.Client, path string) error {
	loader := e.flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return err
	}
	name := raw.CurrentContext
	if e.flags.Context != nil && *e.flags.Context != "" {
		name = *e.flags.Context
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		return fmt.Errorf("context %q not found", name)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return fmt.Errorf("context %q refers to cluster %q, which is not in the kubeconfig", name, kctx.Cluster)
	}
	cluster.Server = spaces.URL(c.Base.Host, path)
	return clientcmd.ModifyConfig(loader.ConfigAccess(), raw, false)
}
