package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
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

// errNotEmptyYet says a namespace still holds downsynced objects; it is tried again.
var errNotEmptyYet = errors.New("the namespace still holds downsynced objects")

// deleteDownsynced deletes an object the syncer made. Deleting a namespace deletes all in
// it, so a namespace goes only as keepNamespace allows.
func (s *Syncer) deleteDownsynced(ctx context.Context, up, down *multicluster.Cluster, obj *unstructured.Unstructured, ref wrapper.ObjectRef) error {
	logger := klog.FromContext(ctx)
	if ref.GroupResource == namespacesGR {
		keep, err := s.keepNamespace(ctx, up, down, obj.GetName())
		if err != nil || keep {
			return err
		}
	}
	if err := down.GetClient().Delete(ctx, obj, client.Preconditions{UID: ptrUID(obj)}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", objectName(ref), err)
	}
	logger.V(2).Info("Deleted", "object", objectName(ref), "kind", obj.GetKind())
	return nil
}

// keepNamespace decides whether a namespace the syncer created, whose own wrapper is gone,
// stays. The rule reads the mailbox and the cluster only:
//
//   - it stays while any wrapper in the mailbox carries an object in it. The placement
//     translator sends a namespace in its own wrapper while any placed object is in it, but
//     the wrappers come and go one by one; an object still wrapped (perhaps waiting for its
//     kind, whose CRD is on its way) would otherwise find its namespace terminating;
//   - it stays, for good, while it holds an object that neither the syncer nor the cluster
//     made (the cluster's owner put it there);
//   - it stays, and is tried again (an error), while it still holds objects the syncer made:
//     they are being deleted, each because its own wrapper went;
//   - it stays, and is tried again, while its contents cannot be told exactly: a list that
//     fails, or a discovery that misses some API groups (an aggregated API that does not
//     answer), could hide an object of the cluster's owner.
//
// Once none of these holds, nothing that a wrapper names can land in the namespace any more,
// and it goes.
func (s *Syncer) keepNamespace(ctx context.Context, up, down *multicluster.Cluster, namespace string) (bool, error) {
	logger := klog.FromContext(ctx)
	wrapped := &edgev2alpha1.WrappedObjectList{}
	if err := up.GetClient().List(ctx, wrapped, client.InNamespace(s.opts.Mailbox), client.MatchingFields{indexNamespace: namespace}, client.UnsafeDisableDeepCopy); err != nil {
		return true, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	for i := range wrapped.Items {
		if wrapped.Items[i].DeletionTimestamp.IsZero() {
			logger.V(3).Info("Keeping a namespace that objects in the mailbox are wrapped for", "namespace", namespace, "wrapper", wrapped.Items[i].Name)
			return true, nil
		}
	}
	foreign, ours, err := s.contentsOf(ctx, down, namespace)
	if err != nil {
		return true, fmt.Errorf("namespace %s: cannot tell what it holds, so it is kept: %w", namespace, err)
	}
	if foreign != "" {
		logger.Info("Keeping a namespace that holds objects KubeStellar did not make", "namespace", namespace, "object", foreign)
		return true, nil
	}
	if ours != "" {
		return true, fmt.Errorf("namespace %s: %w (%s)", namespace, errNotEmptyYet, ours)
	}
	return false, nil
}

func ptrUID(obj *unstructured.Unstructured) *types.UID {
	uid := obj.GetUID()
	return &uid
}

// contentsOf names an object in the namespace that neither the syncer nor the cluster made
// (foreign), and one the syncer made (ours). Objects owned by others, such as the ReplicaSets
// of a Deployment, go with their owners and count as neither. Any error, a failed list or
// a discovery that missed some groups, is returned: what could not be seen is not empty.
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
	if err != nil {
		// A partial discovery (discovery.ErrGroupDiscoveryFailed) hides whole groups.
		return "", "", fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return "", "", fmt.Errorf("discovery named %q: %w", list.GroupVersion, err)
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if strings.Contains(r.Name, "/") || made[gr] || !listable.Match(list.GroupVersion, &r) {
				continue
			}
			objs, err := meta.Resource(gv.WithResource(r.Name)).Namespace(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return "", "", fmt.Errorf("listing %s: %w", gr, err)
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
// deleted. It tries again, with back-off, until it has looked at every resource: a kind
// missed would leave its objects behind for good.
func (s *Syncer) sweep(ctx context.Context) {
	logger := klog.FromContext(ctx)
	if err := s.mgr.WaitForSources(ctx); err != nil {
		return
	}
	delay := time.Second
	for {
		err := s.sweepOnce(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		logger.Info("Cannot yet look at every resource for objects made earlier; trying again", "err", err, "after", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(2*delay, 5*time.Minute)
	}
}

func (s *Syncer) sweepOnce(ctx context.Context) error {
	_, down, err := s.clusters()
	if err != nil {
		return err
	}
	cfg := down.GetConfig()
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// On a partial discovery, the groups found are looked at now and the rest later.
	lists, discErr := disc.ServerPreferredResources()
	if discErr != nil && !discovery.IsGroupDiscoveryFailedError(discErr) {
		return discErr
	}
	errs := []error{discErr}
	selector := LabelDownsynced + "=" + s.opts.Mailbox
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !listWatch.Match(list.GroupVersion, &r) {
				continue
			}
			found, err := meta.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
			if err != nil {
				errs = append(errs, fmt.Errorf("listing %s: %w", r.Name, err))
				continue
			}
			if len(found.Items) == 0 {
				continue
			}
			if err := s.watchDownstream(down, gv.WithKind(r.Kind), schema.GroupResource{Group: gv.Group, Resource: r.Name}); err != nil {
				errs = append(errs, fmt.Errorf("watching %s: %w", r.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
