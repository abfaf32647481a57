package plugin

import (
	"fmt"
	"os"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/syncergen"
	"github.com/kubestellar/kubestellar/pkg/version"
)

// syncerOptions are the flags of prep-for-syncer and syncer-gen.
type syncerOptions struct {
	imw, espw string
	image     string
	output    string
	silent    bool
	timeout   time.Duration
	wecRules  string
}

// DefaultSyncerImage is the syncer image of this release.
func DefaultSyncerImage() string {
	return "ghcr.io/kubestellar/kubestellar/syncer:" + version.Get().GitVersion
}

func (o *syncerOptions) addFlags(cmd *cobra.Command, withSpaces bool) {
	if withSpaces {
		cmd.Flags().StringVar(&o.imw, "imw", "", imwFlagUsage)
		cmd.Flags().StringVar(&o.espw, "espw", spaces.DefaultESPW, "path of the KubeStellar core space")
	}
	cmd.Flags().StringVar(&o.image, "syncer-image", DefaultSyncerImage(), "syncer container image")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "file to write the manifest to (default NAME-syncer.yaml; - for stdout)")
	cmd.Flags().StringVar(&o.wecRules, "wec-rules", "", "YAML file with the rules (as in a ClusterRole's rules) the syncer may use in the cluster, "+
		"for a cluster that receives only known kinds; by default its ClusterRole allows everything (*/*/*), which downsyncing arbitrary kinds, RBAC and CRDs included, needs. "+
		"Namespaces and Events are always allowed")
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
	imw, err := e.resolveIMW(o.imw, o.espw)
	if err != nil {
		return err
	}
	o.imw = imw
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
	say := e.say
	if o.silent {
		say = func(string, ...any) {}
	}
	token, err := syncergen.PrepareMailbox(cmd.Context(), espw, box, "kubestellar-syncer-"+name, o.timeout, say)
	if err != nil {
		return err
	}
	ca, err := caData(c.Base)
	if err != nil {
		return err
	}
	server := c.Config(o.espw).Host
	var rules []rbacv1.PolicyRule
	if o.wecRules != "" {
		data, err := readFile(o.wecRules)
		if err != nil {
			return fmt.Errorf("--wec-rules: %w", err)
		}
		if rules, err = syncergen.ReadRules(data, "--wec-rules "+o.wecRules); err != nil {
			return err
		}
	}
	manifest, ns, err := syncergen.Manifest(syncergen.ManifestOptions{
		Name: name, SyncTargetUID: uid, Mailbox: box, Image: o.image,
		Server: server, CA: ca, Token: token, Rules: rules,
	})
	if err != nil {
		return err
	}
	if host, loopback := syncergen.LoopbackHost(server); loopback {
		// The manifest is still written: a cluster on this machine may reach the address.
		e.progress("Warning: the manifest's kubeconfig reaches the core at %s, a loopback address (%s): a syncer in a cluster "+
			"on another machine, or in a pod, cannot reach it there. Give the core an address the cluster can reach "+
			"(`kubestellar start --external-hostname HOST` or `--bind-address ADDR` for bare processes, "+
			"`kubectl kubestellar deploy --external-endpoint HOST:PORT` in a hosting cluster), use a kubeconfig with that "+
			"address, and run this command again.", server, host)
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
	say("Wrote the WEC manifest for namespace %q to %s. To apply it, run", ns, output)
	say("")
	say("  KUBECONFIG=<workload-execution-cluster-config> kubectl apply -f %s", output)
	say("")
	say("and to check that the syncer pod runs, run")
	say("")
	say("  KUBECONFIG=<workload-execution-cluster-config> kubectl get deployment -n %s %s", ns, ns)
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
			name, labels, err := locationArgs(args)
			if err != nil {
				return err
			}
			if err := e.ensureLocation(cmd, o.imw, o.espw, name, labels); err != nil {
				return err
			}
			return e.prepForSyncer(cmd, o, name)
		},
	}
	o.addFlags(cmd, true)
	e.addTrace(cmd)
	return cmd
}

// NewSyncerGenCommand returns syncer-gen as a command of its own, the
// kubectl-kubestellar-syncer_gen plugin, with the usual kubectl flags.
func NewSyncerGenCommand(streams genericiooptions.IOStreams) *cobra.Command {
	e := &env{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	cmd := newSyncerGen(e)
	cmd.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kubestellar syncer-gen"}
	cmd.SilenceErrors = true
	addKubectlFlags(e, cmd)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}

func newSyncerGen(e *env) *cobra.Command {
	o := &syncerOptions{}
	var uid string
	cmd := &cobra.Command{
		Use:   "syncer-gen NAME",
		Short: "Write a syncer manifest, run against a mailbox",
		Long: `syncer-gen works in a mailbox: the current space must be the core space and the namespace
(-n, or the context's, as "kubectl kubestellar ws root:<mailbox>" sets it) the mailbox of
SyncTarget NAME. It gives the syncer NAME access to that mailbox and writes the manifest for the
workload execution cluster, as prep-for-syncer does once it has found the mailbox. The same
command is installed as the plugin kubectl-kubestellar-syncer_gen.`,
		Example: `  kubectl kubestellar ws root:$mbws
  kubectl kubestellar syncer-gen florin --syncer-image IMAGE -o florin-syncer.yaml
  kubectl-kubestellar-syncer_gen florin --syncer-image IMAGE -o florin-syncer.yaml
  kubectl kubestellar syncer-gen florin -n <mailbox> --syncer-image IMAGE -o florin-syncer.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			name := args[0]
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
			_, boxUID, ok := mailbox.ParseName(box)
			if !ok {
				return fmt.Errorf("namespace %q is not a mailbox; enter the mailbox with `kubectl kubestellar ws root:<mailbox>`, or give it with -n", box)
			}
			o.espw = current
			espw, err := clientFor(c, current)
			if err != nil {
				return err
			}
			ns := &corev1.Namespace{}
			if err := espw.Get(cmd.Context(), client.ObjectKey{Name: box}, ns); err != nil {
				return fmt.Errorf("mailbox %s in space %s: %w", box, current, err)
			}
			if owner := ns.Annotations[mailbox.AnnotationSyncTargetName]; owner != "" && owner != name {
				return fmt.Errorf("mailbox %s belongs to SyncTarget %q, not %q; give %s, or enter the mailbox of %s", box, owner, name, owner, name)
			}
			if uid == "" {
				uid = string(boxUID)
			}
			return e.writeSyncer(cmd, o, c, espw, name, types.UID(uid), box)
		},
	}
	o.addFlags(cmd, false)
	cmd.Flags().StringVar(&uid, "sync-target-uid", "", "UID of the SyncTarget (default: the one in the mailbox's name)")
	e.addTrace(cmd)
	return cmd
}

// addKubectlFlags gives a command of its own the kubectl flags, as the plugin's root has them:
// -s is --silent, so the server is given with --server alone.
func addKubectlFlags(e *env, cmd *cobra.Command) {
	e.flags.AddFlags(cmd.PersistentFlags())
	if server := cmd.PersistentFlags().Lookup("server"); server != nil {
		server.Shorthand = ""
	}
}
