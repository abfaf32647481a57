package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// made are resources whose objects every cluster makes for itself: they never keep a
// namespace alive.
var made = map[schema.GroupResource]bool{
	{Resource: "events"}: true, {Group: "events.k8s.io", Resource: "events"}: true,
	{Resource: "endpoints"}: true, {Group: "discovery.k8s.io", Resource: "endpointslices"}: true,
	{Group: "coordination.k8s.io", Resource: "leases"}: true,
}

// errNotEmptyYet says a namespace still holds objects the syncer made; it is tried again.
var errNotEmptyYet = errors.New("the namespace still holds downsynced objects")

// deleteDownsynced deletes an object the syncer made. Deleting a namespace deletes all in
// it, so a namespace goes only once the syncer's own objects in it are gone, and never while
// it holds something someone else put there.
func (s *Syncer) deleteDownsynced(ctx context.Context, down *multicluster.Cluster, obj *unstructured.Unstructured, ref wrapper.ObjectRef) error {
	logger := klog.FromContext(ctx)
	if ref.GroupResource == (schema.GroupResource{Resource: "namespaces"}) {
		foreign, ours, err := s.contentsOf(ctx, down, obj.GetName())
		if err != nil {
			return err
		}
		if foreign != "" {
			logger.Info("Keeping a namespace that holds objects KubeStellar did not make", "namespace", obj.GetName(), "object", foreign)
			return nil
		}
		if ours != "" {
			return fmt.Errorf("namespace %s: %w (%s)", obj.GetName(), errNotEmptyYet, ours)
		}
	}
	if err := down.GetClient().Delete(ctx, obj, client.Preconditions{UID: ptrUID(obj)}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", objectName(ref), err)
	}
	logger.V(2).Info("Deleted", "object", objectName(ref), "kind", obj.GetKind())
	return nil
}

func ptrUID(obj *unstructured.Unstructured) *types.UID {
	uid := obj.GetUID()
	return &uid
}

// contentsOf names an object in the namespace that neither the syncer nor the cluster made
// (foreign), and one the syncer made (ours). Objects owned by others, such as the ReplicaSets
// of a Deployment, go with their owners and count as neither.
func (s *Syncer) contentsOf(ctx context.Context, down *multicluster.Cluster, namespace string) (foreign, ours string, err error) {
	cfg := down.GetConfig()
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", "", err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return "", "", err
	}
	lists, err := disc.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return "", "", err
	}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if strings.Contains(r.Name, "/") || made[gr] || !listable.Match(list.GroupVersion, &r) {
				continue
			}
			objs, err := meta.Resource(gv.WithResource(r.Name)).Namespace(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, o := range objs.Items {
				switch {
				case len(o.OwnerReferences) > 0 || clusterMade(gr, &o):
				case o.Labels[LabelDownsynced] != "":
					ours = r.Kind + " " + o.Name
				default:
					return r.Kind + " " + o.Name, ours, nil
				}
			}
		}
	}
	return "", ours, nil
}

// clusterMade reports objects every namespace gets from the cluster itself.
func clusterMade(gr schema.GroupResource, o *metav1.PartialObjectMetadata) bool {
	switch gr {
	case schema.GroupResource{Resource: "serviceaccounts"}:
		return o.Name == "default"
	case schema.GroupResource{Resource: "configmaps"}:
		return o.Name == "kube-root-ca.crt"
	case schema.GroupResource{Resource: "secrets"}:
		return o.Annotations["kubernetes.io/service-account.name"] != ""
	}
	return false
}

// Resources by the verbs the syncer needs of them.
var (
	listable  = discovery.SupportsAllVerbs{Verbs: []string{"list"}}
	watchable = discovery.SupportsAllVerbs{Verbs: []string{"watch"}}
	listWatch = discovery.SupportsAllVerbs{Verbs: []string{"list", "watch"}}
)

// sweep finds, once connected, the kinds of the objects this syncer made before (in an
// earlier run) and watches them, so that objects whose wrappers went away meanwhile are
// deleted.
func (s *Syncer) sweep(ctx context.Context) {
	logger := klog.FromContext(ctx)
	if err := s.mgr.WaitForSources(ctx); err != nil {
		return
	}
	_, down, err := s.clusters()
	if err != nil {
		return
	}
	cfg := down.GetConfig()
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		logger.Error(err, "Cannot look for objects made earlier")
		return
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		logger.Error(err, "Cannot look for objects made earlier")
		return
	}
	lists, err := disc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		logger.Error(err, "Cannot look for objects made earlier")
		return
	}
	selector := LabelDownsynced + "=" + s.opts.Mailbox
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !listWatch.Match(list.GroupVersion, &r) {
				continue
			}
			found, err := meta.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
			if err != nil || len(found.Items) == 0 {
				continue
			}
			if err := s.watchDownstream(down, gv.WithKind(r.Kind), schema.GroupResource{Group: gv.Group, Resource: r.Name}); err != nil {
				logger.Error(err, "Cannot watch objects made earlier", "resource", r.Name)
			}
		}
	}
}
