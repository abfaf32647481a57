package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/xlab/treeprint"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// previousExtension names the context extension in the kubeconfig that remembers where the
// context was before the last move, for `ws -`. An extension of the context itself (rather
// than a file of our own or an extra context, as kcp makes) travels with the kubeconfig, is
// kept by kubectl's own edits, is separate for each context, and does not show in
// `kubectl config get-contexts`.
const previousExtension = "kubestellar.io/previous-space"

// place is where a context points: a space, and a namespace when it is in a mailbox.
type place struct {
	Space     string `json:"space"`
	Namespace string `json:"namespace,omitempty"`
}

func newWS(e *env) *cobra.Command {
	espw := spaces.DefaultESPW
	cmd := &cobra.Command{
		Use:   "ws [PATH|NAME|.|..|~|-|MAILBOX]",
		Short: "Show or change the current space of the current context",
		Long: `ws shows the current space (the /clusters/<path> of the current context's server URL), or
changes it, as kcp's "kubectl ws" does with workspaces:

  ws                  show the current space (also "ws .")
  ws root:imw1        go to a space by path; a bare name such as imw1 is a name under root
  ws ..               go to the parent space (root)
  ws ~                go home: the root space
  ws -                go back to the space the context was in before the last move
  ws MAILBOX          go to a mailbox: the core space, with the mailbox namespace as the
                      context's namespace (also root:MAILBOX and root:espw:MAILBOX)
  ws tree             show the spaces below the current one, mailboxes under the core space
  ws create NAME      create a space and wait until it is Ready (--enter goes there)

Moving to another space leaves the context's namespace alone, except that leaving a mailbox
clears it. "ws -" is remembered in the context, in the kubeconfig extension
kubestellar.io/previous-space.`,
		Example: "  kubectl kubestellar ws root:imw1\n  kubectl kubestellar ws tree | grep -- -mb-\n  kubectl kubestellar ws -",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			return e.moveTo(cmd.Context(), arg, espw)
		},
	}
	cmd.PersistentFlags().StringVar(&espw, "espw", espw, "path of the KubeStellar core space, where the mailboxes are")
	cmd.AddCommand(newWSTree(e, &espw), newWSCreate(e))
	return cmd
}

// moveTo carries out `ws ARG`.
func (e *env) moveTo(ctx context.Context, arg, espw string) error {
	c, current, err := e.spaces()
	if err != nil {
		return err
	}
	// An unquoted ~ reaches us as the shell's home folder.
	if home, err := os.UserHomeDir(); err == nil && home != "" && arg == home {
		arg = "~"
	}
	if arg == "." {
		if current == "" {
			return errors.New("the current context addresses no space (its server URL has no /clusters/<path>)")
		}
		return e.sayWhere(ctx, c, place{Space: current, Namespace: e.contextNamespace()}, espw)
	}
	// root:espw:MAILBOX, the path a mailbox workspace had in kcp.
	if name, ok := strings.CutPrefix(arg, espw+":"); ok {
		return e.enterMailbox(ctx, c, espw, name)
	}
	move, err := spaces.ParseMove(arg, current)
	if err != nil {
		return err
	}
	if move.Previous {
		prev, err := e.previous()
		if err != nil {
			return err
		}
		if isMailboxName(prev.Namespace) {
			return e.enterMailbox(ctx, c, prev.Space, prev.Namespace)
		}
		if _, err := c.Get(ctx, prev.Space); err != nil {
			return fmt.Errorf("the previous space: %w", err)
		}
		return e.enterAndSay(ctx, c, prev, espw)
	}
	_, err = c.Get(ctx, move.Path)
	if errors.Is(err, spaces.ErrNotFound) {
		// Not a space; perhaps a mailbox, which the documents address as root:MAILBOX.
		if name, _ := spaces.ChildName(move.Path); isMailboxName(name) {
			return e.enterMailbox(ctx, c, espw, name)
		}
	}
	if err != nil {
		return err
	}
	return e.enterAndSay(ctx, c, place{Space: move.Path}, espw)
}

func isMailboxName(name string) bool {
	_, _, ok := mailbox.ParseName(name)
	return ok
}

// mailboxNamespace returns the mailbox namespace name in the core space, or an error that
// says why it is not one.
func (e *env) mailboxNamespace(ctx context.Context, c *spaces.Client, espw, name string) (*corev1.Namespace, error) {
	if !isMailboxName(name) {
		return nil, fmt.Errorf("%q is not a mailbox name (<space ID>-mb-<SyncTarget UID>)", name)
	}
	if _, err := c.Get(ctx, espw); err != nil {
		return nil, fmt.Errorf("the core space: %w", err)
	}
	cl, err := clientFor(c, espw)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{}
	if err := cl.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("there is no space root:%s and no mailbox %s in %s (list the mailboxes with `kubectl kubestellar ws tree`)", name, name, espw)
		}
		return nil, fmt.Errorf("reading mailbox %s in %s: %w", name, espw, err)
	}
	if ns.Labels[mailbox.LabelMailbox] != "true" {
		return nil, fmt.Errorf("namespace %s in %s is not a mailbox", name, espw)
	}
	return ns, nil
}

func (e *env) enterMailbox(ctx context.Context, c *spaces.Client, espw, name string) error {
	if _, err := e.mailboxNamespace(ctx, c, espw, name); err != nil {
		return err
	}
	return e.enterAndSay(ctx, c, place{Space: espw, Namespace: name}, espw)
}

// enterAndSay makes the context point at a place and says where it now is.
func (e *env) enterAndSay(ctx context.Context, c *spaces.Client, to place, espw string) error {
	if err := e.enter(c, to); err != nil {
		return err
	}
	return e.sayWhere(ctx, c, to, espw)
}

// enterSpace makes the space at path current and says so, as kcp's ws does.
func (e *env) enterSpace(ctx context.Context, c *spaces.Client, path string) error {
	return e.enterAndSay(ctx, c, place{Space: path}, spaces.DefaultESPW)
}

// sayWhere prints where the context is, as kcp's ws does; in a mailbox it names the
// mailbox and its SyncTarget.
func (e *env) sayWhere(ctx context.Context, c *spaces.Client, at place, espw string) error {
	if at.Space != espw || !isMailboxName(at.Namespace) {
		e.say("Current workspace is %q.", at.Space)
		return nil
	}
	ns, err := e.mailboxNamespace(ctx, c, espw, at.Namespace)
	if err != nil {
		return err
	}
	e.say("Current workspace is %q, namespace %q (the mailbox of SyncTarget %q in %s).",
		at.Space, at.Namespace, ns.Annotations[mailbox.AnnotationSyncTargetName], ns.Annotations[mailbox.AnnotationSpacePath])
	return nil
}

// contextNamespace is the namespace of the current context ("" for none).
func (e *env) contextNamespace() string {
	kctx, err := e.currentContext()
	if err != nil {
		return ""
	}
	return kctx.context.Namespace
}

// kubeContext is the current context of the kubeconfig, with what it refers to.
type kubeContext struct {
	raw     clientcmdapi.Config
	name    string
	context *clientcmdapi.Context
	cluster *clientcmdapi.Cluster
}

func (e *env) currentContext() (*kubeContext, error) {
	raw, err := e.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, err
	}
	name := raw.CurrentContext
	if e.flags.Context != nil && *e.flags.Context != "" {
		name = *e.flags.Context
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		return nil, fmt.Errorf("context %q not found in the kubeconfig", name)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q refers to cluster %q, which is not in the kubeconfig", name, kctx.Cluster)
	}
	return &kubeContext{raw: raw, name: name, context: kctx, cluster: cluster}, nil
}

// previous returns where the context was before its last move.
func (e *env) previous() (place, error) {
	kctx, err := e.currentContext()
	if err != nil {
		return place{}, err
	}
	var prev place
	ext, ok := kctx.context.Extensions[previousExtension].(*runtime.Unknown)
	if !ok || json.Unmarshal(ext.Raw, &prev) != nil || prev.Space == "" {
		return place{}, fmt.Errorf("context %q has no previous space yet: `ws -` goes back to where the last `ws` came from", kctx.name)
	}
	return prev, nil
}

// enter points the current context at a place: its cluster's server at the space, and its
// namespace at the mailbox when the place is one. Leaving a mailbox clears the namespace;
// otherwise the namespace is left alone. Where the context was is remembered for `ws -`.
func (e *env) enter(c *spaces.Client, to place) error {
	kctx, err := e.currentContext()
	if err != nil {
		return err
	}
	_, from, err := spaces.SplitURL(kctx.cluster.Server)
	if err != nil {
		return err
	}
	was := place{Space: from, Namespace: kctx.context.Namespace}
	switch {
	case to.Namespace != "":
		kctx.context.Namespace = to.Namespace
	case isMailboxName(kctx.context.Namespace):
		kctx.context.Namespace = ""
	}
	if !isMailboxName(was.Namespace) {
		was.Namespace = ""
	}
	if from != "" && was != to {
		data, err := json.Marshal(was)
		if err != nil {
			return fmt.Errorf("encoding the previous space: %w", err)
		}
		if kctx.context.Extensions == nil {
			kctx.context.Extensions = map[string]runtime.Object{}
		}
		kctx.context.Extensions[previousExtension] = &runtime.Unknown{Raw: data, ContentType: runtime.ContentTypeJSON}
	}
	kctx.cluster.Server = spaces.URL(c.Base.Host, to.Space)
	return clientcmd.ModifyConfig(e.flags.ToRawKubeConfigLoader().ConfigAccess(), kctx.raw, false)
}

func newWSTree(e *env, espw *string) *cobra.Command {
	return &cobra.Command{
		Use:   "tree",
		Short: "Show the spaces below the current one, with the mailboxes under the core space",
		Long: `tree shows the current space and the spaces below it, as kcp's "kubectl ws tree" does: from
root, every space; under the core space, its mailboxes (namespaces named
<space ID>-mb-<SyncTarget UID>), where kcp had mailbox workspaces.`,
		Example: "  kubectl kubestellar ws root\n  kubectl kubestellar ws tree | grep -- -mb-",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			c, current, err := e.spaces()
			if err != nil {
				return err
			}
			if current == "" {
				current = spaces.RootPath
			}
			tree, err := spaceTree(cmd.Context(), c, current, *espw)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.streams.Out, tree.String())
			return err
		},
	}
}

// spaceTree returns the tree of the spaces from top down, with the mailboxes under espw.
func spaceTree(ctx context.Context, c *spaces.Client, top, espw string) (treeprint.Tree, error) {
	if _, err := c.Get(ctx, top); err != nil {
		return nil, err
	}
	tree := treeprint.New()
	branch := tree.AddBranch(top)
	if top == spaces.RootPath {
		paths, err := c.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range paths[1:] {
			name, _ := spaces.ChildName(p)
			child := branch.AddBranch(name)
			if p == espw {
				if err := addMailboxes(ctx, c, child, espw); err != nil {
					return nil, err
				}
			}
		}
		return tree, nil
	}
	if top == espw {
		if err := addMailboxes(ctx, c, branch, espw); err != nil {
			return nil, err
		}
	}
	return tree, nil
}

// addMailboxes adds the mailboxes in espw under branch, in name order.
func addMailboxes(ctx context.Context, c *spaces.Client, branch treeprint.Tree, espw string) error {
	cl, err := clientFor(c, espw)
	if err != nil {
		return err
	}
	list := &corev1.NamespaceList{}
	if err := cl.List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}); err != nil {
		return fmt.Errorf("listing the mailboxes in %s: %w", espw, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		branch.AddNode(name)
	}
	return nil
}

func newWSCreate(e *env) *cobra.Command {
	var enter, ignoreExisting bool
	timeout := 2 * time.Minute
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a space, root:NAME, and wait until it is Ready",
		Long: `create makes the space root:NAME (NAME may also be given as the path root:NAME) unless it
exists, and waits until it is Ready, reporting progress while it waits. With --enter it then
makes it the current space. The space is an empty Kubernetes API server; "kubectl kubestellar
ensure wmw" makes a space with the KubeStellar API instead.`,
		Example: "  kubectl kubestellar ws create ws1 --enter",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			ctx := cmd.Context()
			path, err := spaces.ResolvePath(args[0])
			if err != nil {
				return err
			}
			name, ok := spaces.ChildName(path)
			if !ok {
				return fmt.Errorf("the root space always exists; name a space under it, such as ws1")
			}
			c, _, err := e.spaces()
			if err != nil {
				return err
			}
			created, err := c.Create(ctx, path)
			if err != nil {
				return err
			}
			if created {
				e.say("Workspace %q created. Waiting for it to be ready...", name)
			} else {
				e.say("Workspace %q already exists.", name)
			}
			if err := c.WaitReady(ctx, path, timeout, e.progress); err != nil {
				return err
			}
			e.say("Workspace %q is ready to use.", name)
			if enter {
				return e.enterSpace(ctx, c, path)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&enter, "enter", false, "make the new space the current one")
	cmd.Flags().BoolVar(&ignoreExisting, "ignore-existing", true, "kept for compatibility with kcp; creating a space that exists is never an error")
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the space to be Ready")
	return cmd
}
