package plugin

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/inventory"
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
