// Package listsyncing is the kubestellar-list-syncing-objects command: the workload objects
// in every mailbox, as one list or as a watch.
package listsyncing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// kubeconfigFamily is a --<prefix>-kubeconfig/-context/-user/-cluster set.
type kubeconfigFamily struct {
	prefix                             string
	kubeconfig, context, user, cluster string
}

func (f *kubeconfigFamily) add(fs *pflag.FlagSet, what string) {
	fs.StringVar(&f.kubeconfig, f.prefix+"-kubeconfig", "", "kubeconfig for "+what)
	fs.StringVar(&f.context, f.prefix+"-context", "", "context for "+what)
	fs.StringVar(&f.user, f.prefix+"-user", "", "kubeconfig user for "+what)
	fs.StringVar(&f.cluster, f.prefix+"-cluster", "", "kubeconfig cluster for "+what)
}

func (f *kubeconfigFamily) set() bool {
	return f.kubeconfig != "" || f.context != "" || f.user != "" || f.cluster != ""
}

func (f *kubeconfigFamily) config() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.AuthInfo, overrides.Context.Cluster = f.user, f.cluster
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
}

// NewListSyncingObjectsCommand returns kubestellar-list-syncing-objects.
func NewListSyncingObjectsCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var group, apiVersion, kind, resource, espw string
	var asJSON, watching bool
	all := &kubeconfigFamily{prefix: "all"}
	parent := &kubeconfigFamily{prefix: "parent"}
	cmd := &cobra.Command{
		Use:   "kubestellar-list-syncing-objects --api-kind KIND [flags]",
		Short: "List the workload objects of one kind in all mailboxes, unwrapped",
		Long: `kubestellar-list-syncing-objects lists, from every mailbox, the objects of one kind that are
travelling through KubeStellar (to workload execution clusters, and up from them), unwrapped:
YAML documents by default, or one JSON object per line with --json. With --watch it keeps
going and adds a field "Action" (add, update or delete) to each object.

The mailboxes are read through the --all-* kubeconfig flags when given, which must reach the
core space; otherwise through the --parent-* flags (default: the usual kubeconfig), whose
server the core space (--espw-path) is found on.`,
		Example:       "  kubestellar-list-syncing-objects --api-group apps --api-kind Deployment",
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind == "" {
				return fmt.Errorf("--api-kind is required")
			}
			if resource == "" {
				resource = strings.ToLower(kind) + "s"
			}
			cmd.SilenceUsage = true
			var cfg *rest.Config
			var err error
			if all.set() {
				cfg, err = all.config()
			} else {
				cfg, err = parent.config()
				if err == nil {
					var c *spaces.Client
					if c, _, err = spaces.NewClient(cfg); err == nil {
						cfg = c.Config(espw)
					}
				}
			}
			if err != nil {
				return err
			}
			c, err := client.NewWithWatch(cfg, client.Options{Scheme: apis.NewScheme()})
			if err != nil {
				return err
			}
			l := &lister{out: streams.Out, json: asJSON, group: group, version: apiVersion, kind: kind, resource: resource}
			return l.run(cmd.Context(), c, watching)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&group, "api-group", "", "API group of the objects (\"\" for the core group)")
	fs.StringVar(&apiVersion, "api-version", "v1", "API version of the objects")
	fs.StringVar(&kind, "api-kind", "", "kind of the objects (required)")
	fs.StringVar(&resource, "api-resource", "", "resource of the objects (default: lowercase kind + \"s\")")
	fs.BoolVar(&asJSON, "json", false, "one JSON object per line instead of YAML")
	fs.BoolVar(&watching, "watch", false, "keep watching; each object gets a field Action: add, update or delete")
	fs.StringVar(&espw, "espw-path", spaces.DefaultESPW, "path of the core space (with the --parent-* flags)")
	all.add(fs, "the core space's mailboxes")
	parent.add(fs, "the space server")
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}

type lister struct {
	out                            io.Writer
	json                           bool
	group, version, kind, resource string
}

// matches reports whether a wrapped object is of the kind asked for.
func (l *lister) matches(w *edgev2alpha1.WrappedObject) (*unstructured.Unstructured, bool) {
	obj, err := wrapper.Unwrap(w)
	if err != nil {
		return nil, false
	}
	gvk := obj.GroupVersionKind()
	return obj, gvk.Group == l.group && gvk.Version == l.version && gvk.Kind == l.kind
}

func (l *lister) print(obj *unstructured.Unstructured, action string) error {
	out := obj.Object
	if action != "" {
		out = map[string]any{}
		for k, v := range obj.Object {
			out[k] = v
		}
		out["Action"] = action
	}
	if l.json {
		data, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(l.out, string(data))
		return err
	}
	data, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(l.out, "---\n%s", data)
	return err
}

func (l *lister) run(ctx context.Context, c client.WithWatch, watching bool) error {
	list := &edgev2alpha1.WrappedObjectList{}
	if err := c.List(ctx, list); err != nil {
		return fmt.Errorf("listing the mailboxes: %w", err)
	}
	for i := range list.Items {
		if obj, ok := l.matches(&list.Items[i]); ok {
			action := ""
			if watching {
				action = "add"
			}
			if err := l.print(obj, action); err != nil {
				return err
			}
		}
	}
	if !watching {
		return nil
	}
	// A RetryWatcher resumes from the last event when the server ends a watch.
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &toolscache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return c.Watch(ctx, &edgev2alpha1.WrappedObjectList{}, &client.ListOptions{Raw: &opts})
		},
	})
	if err != nil {
		return fmt.Errorf("watching the mailboxes: %w", err)
	}
	defer w.Stop()
	actions := map[watch.EventType]string{watch.Added: "add", watch.Modified: "update", watch.Deleted: "delete"}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the watch of the mailboxes ended")
			}
			wo, isWrapper := ev.Object.(*edgev2alpha1.WrappedObject)
			action, known := actions[ev.Type]
			if !isWrapper || !known {
				continue
			}
			if obj, ok := l.matches(wo); ok {
				if err := l.print(obj, action); err != nil {
					return err
				}
			}
		}
	}
}
