package plugin

import (
	"helm.sh/helm/v3/pkg/chart"

	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/pkg/inventory"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/syncergen"
	"github.com/kubestellar/kubestellar/pkg/version"
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
		newDeploy(e, loadChart),
		newGetKubeconfig(e, "get-internal-kubeconfig", deploy.KeyCluster, "clients inside the hosting cluster (https://kubestellar.<namespace>.svc:6443)"),
		newGetKubeconfig(e, "get-external-kubeconfig", deploy.KeyExternal, "clients outside the hosting cluster (the external endpoint given to deploy)"))
	return root
}

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

// wmwPath turns a workspace name into its path.
func wmwPath(name string) (string, error) {
	path := name
	if !strings.HasPrefix(name, spaces.RootPath+":") {
		path = spaces.ChildPath(name)
	}
	if err := spaces.ValidatePath(path); err != nil || path == spaces.RootPath {
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
it serves the KubeStellar API (EdgePlacement, Customizer, ...). Running it again changes nothing.

--with-kube: in the original KubeStellar a workspace got the Kubernetes API (Deployments,
ConfigMaps, ...) only when asked. Here every space is a complete Kubernetes API server, so
the Kubernetes API is always there; --with-kube=false is accepted and changes nothing.`,
		Example: "  kubectl kubestellar ensure wmw wmw1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			path, err := wmwPath(args[0])
			if err != nil {
				return err
			}
			if !withKube {
				e.progress("Note: every space serves the Kubernetes API; --with-kube=false changes nothing")
			}
			c, _, err := e.spaces()
			if err != nil {
				return err
			}
			e.step("ensure space %s with the KubeStellar API", path)
			created, err := bootstrap.EnsureWithAPI(cmd.Context(), c, path, timeout, e.progress)
			if err != nil {
				return err
			}
			if created {
				e.say("space %q created", path)
			} else {
				e.say("space %q unchanged", path)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withKube, "with-kube", true, "kept for compatibility; every space serves the Kubernetes API")
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
			c, _, err := e.spaces()
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
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the space to go")
	e.addTrace(cmd)
	return cmd
}

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

// syncerOptions are the flags of prep-for-syncer and syncer-gen.
type syncerOptions struct {
	imw, espw string
	image     string
	output    string
	silent    bool
	timeout   time.Duration
}

// DefaultSyncerImage is the syncer image of this release.
func DefaultSyncerImage() string {
	return "ghcr.io/kubestellar/kubestellar/syncer:" + version.Get().GitVersion
}

func (o *syncerOptions) addFlags(cmd *cobra.Command, withSpaces bool) {
	if withSpaces {
		cmd.Flags().StringVar(&o.imw, "imw", spaces.DefaultIMW, "path of the inventory management space")
		cmd.Flags().StringVar(&o.espw, "espw", spaces.DefaultESPW, "path of the KubeStellar core space")
	}
	cmd.Flags().StringVar(&o.image, "syncer-image", DefaultSyncerImage(), "syncer container image")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "file to write the manifest to (default NAME-syncer.yaml; - for stdout)")
	cmd.Flags().BoolVarP(&o.silent, "silent", "s", false, "print nothing but errors (the kubectl flag -s is not available here; use --server)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 60*time.Second, "how long to wait for the mailbox and the syncer's token")
}

func newPrepForSyncer(e *env) *cobra.Command {
	o := &syncerOptions{}
	cmd := &cobra.Command{
		Use:   "prep-for-syncer NAME",
		Short: "Prepare the mailbox of SyncTarget NAME and write the syncer manifest for its cluster",
		Long: `prep-for-syncer waits for the mailbox of SyncTarget NAME, gives the syncer a ServiceAccount,
Role and RoleBinding in that mailbox (and nowhere else) and a token, and writes the manifest to
apply to the workload execution cluster: a namespace kubestellar-syncer-NAME-<random>, the
syncer's ServiceAccount, ClusterRole and ClusterRoleBinding, a Secret with its kubeconfig for
the mailbox (the server URL and CA of the current kubeconfig, TLS verified) and its
Deployment. "kubectl delete -f" of the same file removes the syncer from the cluster.`,
		Example: "  kubectl kubestellar prep-for-syncer florin\n  kubectl --context florin apply -f florin-syncer.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			return e.prepForSyncer(cmd, o, args[0])
		},
	}
	o.addFlags(cmd, true)
	e.addTrace(cmd)
	return cmd
}

func (e *env) prepForSyncer(cmd *cobra.Command, o *syncerOptions, name string) error {
	ctx := cmd.Context()
	imwClient, c, err := e.imwClient(cmd, o.imw)
	if err != nil {
		return err
	}
	e.step("find SyncTarget %s in %s", name, o.imw)
	st := &edgev2alpha1.SyncTarget{}
	if err := imwClient.Get(ctx, client.ObjectKey{Name: name}, st); err != nil {
		return fmt.Errorf("SyncTarget %s in %s: %w (create it with `kubectl kubestellar ensure location %s ...`)", name, o.imw, err, name)
	}
	imwID, err := c.ID(ctx, o.imw)
	if err != nil {
		return err
	}
	box := mailbox.Name(imwID, st.UID)
	if _, err := c.Get(ctx, o.espw); err != nil {
		return fmt.Errorf("the core space: %w", err)
	}
	espw, err := clientFor(c, o.espw)
	if err != nil {
		return err
	}
	e.step("wait for mailbox %s in %s", box, o.espw)
	progress := e.progress
	if o.silent {
		progress = func(string, ...any) {}
	}
	if err := syncergen.WaitForMailbox(ctx, espw, box, o.timeout, progress); err != nil {
		return err
	}
	return e.writeSyncer(cmd, o, c, espw, name, st.UID, box)
}

func (e *env) writeSyncer(cmd *cobra.Command, o *syncerOptions, c *spaces.Client, espw client.Client, name string, uid types.UID, box string) error {
	e.step("give the syncer access to mailbox %s", box)
	token, err := syncergen.PrepareMailbox(cmd.Context(), espw, box, "kubestellar-syncer-"+name, o.timeout)
	if err != nil {
		return err
	}
	ca, err := caData(c.Base)
	if err != nil {
		return err
	}
	manifest, ns, err := syncergen.Manifest(syncergen.ManifestOptions{
		Name: name, SyncTargetUID: uid, Mailbox: box, Image: o.image,
		Server: c.Config(o.espw).Host, CA: ca, Token: token,
	})
	if err != nil {
		return err
	}
	output := o.output
	if output == "" {
		output = name + "-syncer.yaml"
	}
	e.step("write %s", output)
	if output == "-" {
		_, err := e.streams.Out.Write(manifest)
		return err
	}
	// The manifest holds the syncer's token.
	if err := os.WriteFile(output, manifest, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", output, err)
	}
	if !o.silent {
		e.say("Wrote the syncer manifest for %s to %s. Apply it to the workload execution cluster with:", name, output)
		e.say("  kubectl apply -f %s", output)
		e.say("and watch the syncer start with:")
		e.say("  kubectl get deployment -n %s kubestellar-syncer-%s", ns, name)
	}
	return nil
}

func newPrepForCluster(e *env) *cobra.Command {
	o := &syncerOptions{}
	cmd := &cobra.Command{
		Use:   "prep-for-cluster NAME [KEY=VALUE...]",
		Short: "ensure location NAME, then prep-for-syncer NAME",
		Long: `prep-for-cluster does what "ensure location NAME KEY=VALUE..." and then "prep-for-syncer
NAME" do, with the flags of both.`,
		Example: "  kubectl kubestellar prep-for-cluster florin env=prod",
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
			if err := e.ensureLocation(cmd, o.imw, name, labels); err != nil {
				return err
			}
			return e.prepForSyncer(cmd, o, name)
		},
	}
	o.addFlags(cmd, true)
	e.addTrace(cmd)
	return cmd
}

func newSyncerGen(e *env) *cobra.Command {
	o := &syncerOptions{}
	var uid string
	cmd := &cobra.Command{
		Use:   "syncer-gen NAME",
		Short: "Write a syncer manifest, run against a mailbox",
		Long: `syncer-gen works in a mailbox: the current space must be the core space and the namespace
(-n, or the context's) the mailbox. It gives the syncer NAME access to that mailbox and writes
the manifest for the workload execution cluster, as prep-for-syncer does once it has found the
mailbox.`,
		Example: "  kubectl kubestellar syncer-gen florin -n <mailbox> --syncer-image IMAGE -o florin-syncer.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			c, current, err := e.spaces()
			if err != nil {
				return err
			}
			if current == "" {
				return fmt.Errorf("the current context addresses no space; use the core space, e.g. `kubectl kubestellar ws %s`", spaces.DefaultESPW)
			}
			box, _, err := e.flags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return err
			}
			if _, _, ok := mailbox.ParseName(box); !ok {
				return fmt.Errorf("namespace %q is not a mailbox; give the mailbox with -n", box)
			}
			o.espw = current
			espw, err := clientFor(c, current)
			if err != nil {
				return err
			}
			return e.writeSyncer(cmd, o, c, espw, args[0], types.UID(uid), box)
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().StringVar(&uid, "sync-target-uid", "", "UID of the SyncTarget (for the syncer's logs)")
	e.addTrace(cmd)
	return cmd
}
