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
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// kubeconfigFamily is a --<prefix>-kubeconfig/-context/-user/-cluster set.
type kubeconfigFamily struct {
	prefix                             string
	kubeconfig, context, user, cluster string
	// defaultContext is the context used unless --<prefix>-context is given; a kubeconfig
	// without it is used with its current context.
	defaultContext string
	fs             *pflag.FlagSet
}

func (f *kubeconfigFamily) add(fs *pflag.FlagSet, what string) {
	f.fs = fs
	fs.StringVar(&f.kubeconfig, f.prefix+"-kubeconfig", "", "path of the kubeconfig file for "+what+" (default: the usual kubeconfig, or the other --*-kubeconfig)")
	fs.StringVar(&f.context, f.prefix+"-context", f.defaultContext, "name of the kubeconfig context for "+what+"; when the kubeconfig lacks the default, its current context")
	fs.StringVar(&f.user, f.prefix+"-user", "", "name of the kubeconfig user for "+what)
	fs.StringVar(&f.cluster, f.prefix+"-cluster", "", "name of the kubeconfig cluster for "+what)
}

// config loads the family's client configuration from its kubeconfig, or else from
// otherKubeconfig, or else from the usual places.
func (f *kubeconfigFamily) config(otherKubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	if rules.ExplicitPath == "" {
		rules.ExplicitPath = otherKubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig of the --%s-* flags: %w", f.prefix, err)
	}
	name := f.context
	if _, ok := raw.Contexts[name]; !ok && !f.fs.Changed(f.prefix+"-context") {
		name = "" // the kubeconfig's current context
	}
	overrides := &clientcmd.ConfigOverrides{}
	overrides.Context.AuthInfo, overrides.Context.Cluster = f.user, f.cluster
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, overrides, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the --%s-* flags: %w", f.prefix, err)
	}
	return cfg, nil
}

// NewListSyncingObjectsCommand returns kubestellar-list-syncing-objects.
func NewListSyncingObjectsCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var group, apiVersion, kind, resource, espw string
	var asJSON, watching bool
	all := &kubeconfigFamily{prefix: "all", defaultContext: kubeconfig.BaseContext}
	parent := &kubeconfigFamily{prefix: "parent", defaultContext: kubeconfig.RootContext}
	cmd := &cobra.Command{
		Use:   "kubestellar-list-syncing-objects --api-kind KIND [flags]",
		Short: "List the workload objects of one kind in all mailboxes, unwrapped",
		Long: `kubestellar-list-syncing-objects lists, from every mailbox, the objects of one kind (and
resource) that are travelling through KubeStellar (to workload execution clusters, and up from
them), unwrapped: YAML documents by default, or one JSON object per line with --json. An object
on its way down carries, as its status, the status its workload execution cluster reported.
With --watch it keeps going and adds a field "Action" (add, update or delete) to each object.

It is given two client configurations of the space server. The --all-* flags (context "base"
by default) reach the server whose core space (--espw-path) holds the mailboxes, and the
objects are read there; the --parent-* flags (context "root" by default) reach the server on
which the mailboxes' parent, the core space, must exist. The kubeconfig "kubestellar start"
writes has both contexts. Each family reads its own --*-kubeconfig, else the other family's,
else the usual kubeconfig; a kubeconfig without the default context is used with its current
context.`,
		Example:       "  kubestellar-list-syncing-objects --api-group apps --api-kind ReplicaSet\n  kubestellar-list-syncing-objects --api-kind ConfigMap --json --watch",
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind == "" {
				return fmt.Errorf("--api-kind is required")
			}
			defaulted := resource == ""
			if defaulted {
				resource = strings.ToLower(kind) + "s"
			}
			cmd.SilenceUsage = true
			ctx := cmd.Context()
			parentCfg, err := parent.config(all.kubeconfig)
			if err != nil {
				return err
			}
			parentSpaces, _, err := spaces.NewClient(parentCfg)
			if err != nil {
				return err
			}
			if _, err := parentSpaces.Get(ctx, espw); err != nil {
				return fmt.Errorf("the core space, the mailboxes' parent, through the --parent-* flags: %w", err)
			}
			allCfg, err := all.config(parent.kubeconfig)
			if err != nil {
				return err
			}
			allSpaces, _, err := spaces.NewClient(allCfg)
			if err != nil {
				return err
			}
			c, err := client.NewWithWatch(allSpaces.Config(espw), client.Options{Scheme: apis.NewScheme()})
			if err != nil {
				return err
			}
			l := &lister{out: streams.Out, errOut: streams.ErrOut, json: asJSON, group: group, version: apiVersion, kind: kind, resource: resource, defaulted: defaulted}
			return l.run(ctx, c, watching)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&group, "api-group", "", "API group of the objects (\"\" for the core group)")
	fs.StringVar(&apiVersion, "api-version", "v1", "API version of the objects (just the version, no group)")
	fs.StringVar(&kind, "api-kind", "", "kind of the objects (required)")
	fs.StringVar(&resource, "api-resource", "", "API resource (lowercase plural) of the objects (default: lowercase kind + \"s\")")
	fs.BoolVar(&asJSON, "json", false, "one JSON object per line instead of YAML")
	fs.BoolVar(&watching, "watch", false, "keep watching; each object gets a field Action: add, update or delete")
	fs.StringVar(&espw, "espw-path", spaces.DefaultESPW, "path of the core space, which holds the mailboxes")
	all.add(fs, "the objects in all mailboxes")
	parent.add(fs, "the parent of the mailboxes")
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}

type lister struct {
	out, errOut                    io.Writer
	json                           bool
	group, version, kind, resource string
	// defaulted says the resource was not given; hinted, that the hint about it was printed.
	defaulted, hinted bool
}

// matches returns, for a wrapped object of the group, version, kind and resource asked for,
// the object as it travels: for one on its way down, with the status its cluster reported.
func (l *lister) matches(w *edgev2alpha1.WrappedObject) (*unstructured.Unstructured, bool) {
	obj, err := wrapper.Unwrap(w)
	if err != nil {
		return nil, false
	}
	gvk := obj.GroupVersionKind()
	if gvk.Group != l.group || gvk.Version != l.version || gvk.Kind != l.kind {
		return nil, false
	}
	if r, known := resourceOf(w); known && r != l.resource {
		if l.defaulted && !l.hinted {
			l.hinted = true
			fmt.Fprintf(l.errOut, "Objects of kind %s are of resource %q, not %q (lowercase kind + \"s\"); give --api-resource %s\n", l.kind, r, l.resource, r)
		}
		return nil, false
	}
	if w.Labels[syncer.LabelUpsync] != "true" && w.Status.ReportedState != nil && w.Status.ReportedState.Status != nil {
		status := map[string]any{}
		if err := json.Unmarshal(w.Status.ReportedState.Status.Raw, &status); err == nil && len(status) > 0 {
			obj.Object["status"] = status
		}
	}
	return obj, true
}

// resourceOf returns the resource of the object a wrapper carries, as its annotations name it.
func resourceOf(w *edgev2alpha1.WrappedObject) (string, bool) {
	if w.Labels[syncer.LabelUpsync] == "true" {
		// group/resource/namespace/name in the cluster
		parts := strings.Split(w.Annotations[syncer.AnnotationUpsyncSource], "/")
		if len(parts) == 4 && parts[1] != "" {
			return parts[1], true
		}
		return "", false
	}
	ref, err := wrapper.ParseObjectRef(w.Annotations[wrapper.AnnotationSource])
	if err != nil {
		return "", false
	}
	return ref.Resource, true
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
