// Package mailbox keeps one mailbox, a namespace in the KubeStellar core space, for every
// SyncTarget in every space: it creates missing ones, deletes unwanted ones (the SyncTarget is
// gone or being deleted, or its space is), and re-creates one that someone deleted. It also
// annotates each SyncTarget with its space's ID (kcp.io/cluster), and changes nothing else
// in it.
package mailbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

const (
	// LabelMailbox marks mailbox namespaces, so they can be listed with
	// `kubectl get namespaces -l edge.kubestellar.io/mailbox=true`.
	LabelMailbox = "edge.kubestellar.io/mailbox"
	// AnnotationSyncTargetName names the SyncTarget a mailbox serves.
	AnnotationSyncTargetName = "edge.kubestellar.io/sync-target-name"
	// AnnotationSpacePath is the path of the space holding that SyncTarget, for people.
	AnnotationSpacePath = "edge.kubestellar.io/space-path"
	// AnnotationSpaceID holds, on a SyncTarget, the ID of the space that holds it, under the
	// name kcp gives an object's logical cluster, so that the mailbox name can be read off
	// the SyncTarget alone: {.metadata.annotations['kcp\.io/cluster']}-mb-{.metadata.uid}.
	AnnotationSpaceID = "kcp.io/cluster"

	separator = "-mb-"

	// indexSyncTarget indexes mailboxes by "<space ID>/<SyncTarget name>".
	indexSyncTarget = "kubestellar.syncTarget"
)

// syncTargetKey is the index value of a mailbox, or of the SyncTarget a request names.
func syncTargetKey(spaceID, name string) string { return spaceID + "/" + name }

// Name is the mailbox of the SyncTarget with the given UID in the space with the given ID.
func Name(spaceID string, syncTargetUID types.UID) string {
	return spaceID + separator + string(syncTargetUID)
}

// ParseName returns the space ID and SyncTarget UID a mailbox name is made of.
func ParseName(name string) (spaceID string, syncTargetUID types.UID, ok bool) {
	id, uid, ok := strings.Cut(name, separator)
	return id, types.UID(uid), ok && id != "" && uid != ""
}

// AnnotateSyncTarget makes sure the SyncTarget st, held in the space with ID spaceID, carries
// AnnotationSpaceID with that ID. It changes nothing else: a merge patch of that one
// annotation. It reports whether it patched; a SyncTarget that is gone is not an error.
func AnnotateSyncTarget(ctx context.Context, c client.Writer, st *edgev2alpha1.SyncTarget, spaceID string) (bool, error) {
	if st.Annotations[AnnotationSpaceID] == spaceID {
		return false, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationSpaceID: spaceID}}})
	if err != nil {
		return false, fmt.Errorf("encoding the %s annotation: %w", AnnotationSpaceID, err)
	}
	// Patch a copy: the caller's object may be a cache's.
	target := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: st.Name, Namespace: st.Namespace}}
	if err := c.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("annotating SyncTarget %s with %s: %w", st.Name, AnnotationSpaceID, err)
	}
	return true, nil
}

// Options configure the mailbox controller.
type Options struct {
	// ESPWPath is the path of the core space, where mailboxes live.
	ESPWPath string
	// Concurrency is the number of SyncTargets handled at once.
	Concurrency int
}

// Setup adds the mailbox controller to mgr.
func Setup(mgr *multicluster.Manager, opts Options) (*multicluster.Controller, error) {
	r := &reconciler{mgr: mgr, espwPath: opts.ESPWPath}
	c, err := multicluster.NewController("mailbox", r, multicluster.ControllerOptions{Concurrency: opts.Concurrency})
	if err != nil {
		return nil, err
	}
	if err := c.Watch(&edgev2alpha1.SyncTarget{}); err != nil {
		return nil, err
	}
	// A change to a mailbox is a change to the SyncTarget it serves.
	err = c.Watch(&corev1.Namespace{},
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Path == opts.ESPWPath }),
		multicluster.Filter(func(o client.Object) bool { return o.GetLabels()[LabelMailbox] == "true" }),
		multicluster.Index(indexSyncTarget, func(o client.Object) []string {
			spaceID, _, ok := ParseName(o.GetName())
			name := o.GetAnnotations()[AnnotationSyncTargetName]
			if !ok || name == "" || o.GetLabels()[LabelMailbox] != "true" {
				return nil
			}
			return []string{syncTargetKey(spaceID, name)}
		}),
		multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
			spaceID, _, ok := ParseName(o.GetName())
			name := o.GetAnnotations()[AnnotationSyncTargetName]
			if !ok || name == "" {
				return nil
			}
			return []multicluster.Request{{Cluster: spaceID, NamespacedName: types.NamespacedName{Name: name}}}
		}))
	if err != nil {
		return nil, err
	}
	mgr.AddController(c)

	// SyncTarget status: Ready from the heartbeats in the mailbox.
	hb, err := multicluster.NewController("mailbox-heartbeats", &heartbeats{mgr: mgr, espwPath: opts.ESPWPath}, multicluster.ControllerOptions{Concurrency: opts.Concurrency})
	if err != nil {
		return nil, err
	}
	if err := hb.Watch(&edgev2alpha1.SyncTarget{}); err != nil {
		return nil, err
	}
	err = hb.Watch(&edgev2alpha1.SyncerConfig{},
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Path == opts.ESPWPath }),
		multicluster.MapTo(syncTargetOfConfig))
	if err != nil {
		return nil, err
	}
	mgr.AddController(hb)
	return c, nil
}

type reconciler struct {
	mgr      *multicluster.Manager
	espwPath string
}

// Reconcile handles the SyncTarget req.Name in the space req.Cluster.
func (r *reconciler) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	logger := klog.FromContext(ctx)
	espw, ok := r.mgr.ClusterByPath(r.espwPath)
	if !ok {
		return reconcile.Result{}, fmt.Errorf("the core space %s does not exist yet", r.espwPath)
	}

	var wanted string
	spacePath := ""
	space, ok := r.mgr.Cluster(req.Cluster)
	if ok {
		// A space that cannot be read yet must not look empty: its mailboxes would go. Nor
		// must one that does not serve SyncTargets now (its CRD may be coming back, its
		// SyncTargets still stored): a mailbox goes only when its SyncTarget is seen gone, or
		// its space is.
		served, err := space.Serves(&edgev2alpha1.SyncTarget{})
		if err != nil {
			return reconcile.Result{}, err
		}
		if !served {
			return reconcile.Result{}, nil
		}
	}
	if ok {
		spacePath = space.Path
		st := &edgev2alpha1.SyncTarget{}
		err := space.GetClient().Get(ctx, types.NamespacedName{Name: req.Name}, st)
		switch {
		case err == nil && st.DeletionTimestamp.IsZero():
			wanted = Name(req.Cluster, st.UID)
			// SyncTargets made with kubectl lack the space ID that the documented recipe
			// reads the mailbox name from.
			patched, err := AnnotateSyncTarget(ctx, space.GetClient(), st, req.Cluster)
			if err != nil {
				return reconcile.Result{}, err
			}
			if patched {
				logger.V(2).Info("Annotated SyncTarget with its space ID", "spaceID", req.Cluster)
			}
		case err == nil, apierrors.IsNotFound(err):
			// Being deleted, or gone.
		default:
			return reconcile.Result{}, err
		}
	}
	// Otherwise the space is gone.

	list := &corev1.NamespaceList{}
	if err := espw.GetClient().List(ctx, list, client.MatchingFields{indexSyncTarget: syncTargetKey(req.Cluster, req.Name)}); err != nil {
		return reconcile.Result{}, err
	}
	var current *corev1.Namespace
	for i := range list.Items {
		ns := &list.Items[i]
		if ns.Name == wanted {
			current = ns
			continue
		}
		if !ns.DeletionTimestamp.IsZero() {
			continue
		}
		err := espw.GetClient().Delete(ctx, ns, client.Preconditions{UID: &ns.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return reconcile.Result{}, fmt.Errorf("deleting mailbox %s: %w", ns.Name, err)
		}
		logger.V(2).Info("Deleted mailbox", "mailbox", ns.Name)
	}

	switch {
	case wanted == "":
		return reconcile.Result{}, nil
	case current != nil && current.DeletionTimestamp.IsZero():
		return reconcile.Result{}, nil
	case current != nil:
		// Someone deleted it; make it again once it is gone.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        wanted,
		Labels:      map[string]string{LabelMailbox: "true"},
		Annotations: map[string]string{AnnotationSyncTargetName: req.Name, AnnotationSpacePath: spacePath},
	}}
	if err := espw.GetClient().Create(ctx, ns); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// The cache had not seen it yet; look again once it has.
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		return reconcile.Result{}, fmt.Errorf("creating mailbox %s: %w", wanted, err)
	}
	logger.V(2).Info("Created mailbox", "mailbox", wanted)
	return reconcile.Result{}, nil
}
