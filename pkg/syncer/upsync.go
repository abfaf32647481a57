package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// EventUpsyncTooLarge is the reason of the Warning Event, on an object in the cluster, that
// says the object is too large to be copied up into the mailbox.
const EventUpsyncTooLarge = "UpsyncTooLarge"

// upsyncWrapperName is the name of the wrapper of an upsynced object.
func upsyncWrapperName(ref wrapper.ObjectRef, kind string) string {
	sum := sha256.Sum256([]byte(ref.String()))
	return "up-" + strings.ToLower(kind) + "-" + hex.EncodeToString(sum[:])[:16]
}

// reconcileConfig follows the SyncerConfig: it watches, in the cluster, the kinds to upsync.
func (s *Syncer) reconcileConfig(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	up, down, err := s.clusters()
	if err != nil {
		return reconcile.Result{}, err
	}
	// Every SyncerConfig of the mailbox counts, whichever one changed.
	cfg, _, err := MailboxSyncerConfig(ctx, up.GetClient(), s.opts.Mailbox)
	if err != nil {
		return reconcile.Result{}, err
	}
	var lists []*metav1.APIResourceList
	var discErr error
	// Without upsync sets no resource is to be watched: the cluster's discovery is not read
	// (two requests to the cluster per SyncerConfig change, and the translator changes it as
	// wrappers come and go).
	if len(cfg.Upsync) > 0 {
		disc, err := discovery.NewDiscoveryClientForConfig(down.GetConfig())
		if err != nil {
			return reconcile.Result{}, err
		}
		// On a partial discovery, the groups found are watched now and the rest on a retry.
		lists, discErr = disc.ServerPreferredResources()
		if discErr != nil && !discovery.IsGroupDiscoveryFailedError(discErr) {
			return reconcile.Result{}, discErr
		}
	}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if strings.Contains(r.Name, "/") || !watchable.Match(list.GroupVersion, &r) || !slices.ContainsFunc(cfg.Upsync, func(u edgev2alpha1.UpsyncSet) bool { return setCovers(u, gr) }) {
				continue
			}
			if err := s.watchUpsync(down, gv.WithKind(r.Kind), gr); err != nil {
				return reconcile.Result{}, err
			}
		}
	}
	// Everything watched for upsync, and everything already upsynced, is looked at again.
	s.mu.Lock()
	kinds := make(map[schema.GroupVersionKind]schema.GroupResource, len(s.upKinds))
	for gvk, gr := range s.upKinds {
		kinds[gvk] = gr
	}
	s.mu.Unlock()
	for gvk, gr := range kinds {
		objs := &unstructured.UnstructuredList{}
		objs.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := down.GetClient().List(ctx, objs, client.UnsafeDisableDeepCopy); err != nil {
			return reconcile.Result{}, err
		}
		for i := range objs.Items {
			s.up.Enqueue(requestFor(wrapper.ObjectRef{Space: Downstream, GroupResource: gr, Namespace: objs.Items[i].GetNamespace(), Name: objs.Items[i].GetName()}))
		}
	}
	wrappers := &edgev2alpha1.WrappedObjectList{}
	if err := up.GetClient().List(ctx, wrappers, client.InNamespace(s.opts.Mailbox), client.MatchingLabels{LabelUpsync: "true"}); err != nil {
		return reconcile.Result{}, err
	}
	for i := range wrappers.Items {
		if ref, ok := identity(&wrappers.Items[i]); ok {
			s.up.Enqueue(requestFor(ref))
		}
	}
	if discErr != nil {
		return reconcile.Result{}, fmt.Errorf("discovering the resources to upsync: %w", discErr)
	}
	return reconcile.Result{}, nil
}

func (s *Syncer) watchUpsync(down *multicluster.Cluster, gvk schema.GroupVersionKind, gr schema.GroupResource) error {
	s.mu.Lock()
	_, watched := s.upKinds[gvk]
	s.mu.Unlock()
	if watched {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	err := s.up.WatchKind(down, obj, multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
		return []multicluster.Request{requestFor(wrapper.ObjectRef{Space: Downstream, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()})}
	}))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.upKinds[gvk] = gr
	s.mu.Unlock()
	return nil
}

// setCovers reports whether an upsync set names the resource.
func setCovers(u edgev2alpha1.UpsyncSet, gr schema.GroupResource) bool {
	return (u.APIGroup == gr.Group || u.APIGroup == "*") && (slices.Contains(u.Resources, gr.Resource) || slices.Contains(u.Resources, "*"))
}

// setSelects reports whether an upsync set selects the object.
func setSelects(u edgev2alpha1.UpsyncSet, gr schema.GroupResource, namespace, name string) bool {
	if !setCovers(u, gr) {
		return false
	}
	if len(u.Namespaces) > 0 && !slices.Contains(u.Namespaces, namespace) && !slices.Contains(u.Namespaces, "*") {
		return false
	}
	return slices.Contains(u.Names, name) || slices.Contains(u.Names, "*")
}

// reconcileUpsync keeps the upsync wrapper of one object of the cluster: present and current
// while the object exists and the SyncerConfig selects it, gone otherwise.
func (s *Syncer) reconcileUpsync(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	ref, ok := refOf(req)
	if !ok {
		return reconcile.Result{}, nil
	}
	up, down, err := s.clusters()
	if err != nil {
		return reconcile.Result{}, err
	}
	cfg, found, err := MailboxSyncerConfig(ctx, up.GetClient(), s.opts.Mailbox)
	if err != nil || !found {
		// Without a SyncerConfig, what is selected is not known: nothing is removed.
		return reconcile.Result{}, err
	}
	var obj *unstructured.Unstructured
	s.mu.Lock()
	var gvk schema.GroupVersionKind
	for k, gr := range s.upKinds {
		if gr == ref.GroupResource {
			gvk = k
		}
	}
	s.mu.Unlock()
	selected := slices.ContainsFunc(cfg.Upsync, func(u edgev2alpha1.UpsyncSet) bool { return setSelects(u, ref.GroupResource, ref.Namespace, ref.Name) })
	if selected && gvk.Empty() {
		// The kind is not watched yet (discovery has not found it so far): its object's
		// presence is not known, so its wrapper is neither made nor removed.
		return reconcile.Result{}, fmt.Errorf("%s is not watched in the cluster yet", ref.GroupResource)
	}
	if selected {
		obj = &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		if err := down.GetClient().Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
			if !apierrors.IsNotFound(err) {
				return reconcile.Result{}, err
			}
			obj = nil
		}
		if obj != nil && obj.GetLabels()[LabelDownsynced] != "" {
			obj = nil // what came down does not go back up
		}
	}

	existing := &edgev2alpha1.WrappedObjectList{}
	if err := up.GetClient().List(ctx, existing, client.InNamespace(s.opts.Mailbox), client.MatchingLabels{LabelUpsync: "true"}); err != nil {
		return reconcile.Result{}, err
	}
	var current *edgev2alpha1.WrappedObject
	source := strings.TrimPrefix(ref.String(), Downstream+"/")
	for i := range existing.Items {
		if existing.Items[i].Annotations[AnnotationUpsyncSource] == source {
			current = &existing.Items[i]
		}
	}
	c := up.GetClient()
	if obj == nil {
		if current != nil {
			return reconcile.Result{}, client.IgnoreNotFound(c.Delete(ctx, current))
		}
		return reconcile.Result{}, nil
	}
	copied := wrapper.Strip(obj)
	if status, ok := obj.Object["status"]; ok {
		copied.Object["status"] = status
	}
	raw, err := json.Marshal(copied.Object)
	if err != nil {
		return reconcile.Result{}, err
	}
	if current == nil {
		w := &edgev2alpha1.WrappedObject{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: s.opts.Mailbox, Name: upsyncWrapperName(ref, obj.GetKind()),
				Labels:      map[string]string{LabelUpsync: "true"},
				Annotations: map[string]string{AnnotationUpsyncSource: source},
			},
			Spec: edgev2alpha1.WrappedObjectSpec{Object: runtime.RawExtension{Raw: raw}},
		}
		if err := wrapper.CheckSize(w, "its upsync wrapper", wrapper.MaxSize); err != nil {
			return reconcile.Result{}, s.upsyncRefused(ctx, down, obj, ref, err)
		}
		if err := c.Create(ctx, w); err != nil && !apierrors.IsAlreadyExists(err) {
			if wrapper.IsTooLarge(err) {
				return reconcile.Result{}, s.upsyncRefused(ctx, down, obj, ref, err)
			}
			return reconcile.Result{}, fmt.Errorf("upsyncing %s: %w", objectName(ref), err)
		}
		return reconcile.Result{}, nil
	}
	old, err := wrapper.Unwrap(current)
	if err == nil && equality.Semantic.DeepEqual(old.Object, copied.Object) {
		return reconcile.Result{}, nil
	}
	updated := current.DeepCopy()
	updated.Spec.Object = runtime.RawExtension{Raw: raw}
	if err := wrapper.CheckSize(updated, "its upsync wrapper", wrapper.MaxSize); err != nil {
		return reconcile.Result{}, s.upsyncRefused(ctx, down, obj, ref, err)
	}
	if err := c.Update(ctx, updated); err != nil {
		if wrapper.IsTooLarge(err) {
			return reconcile.Result{}, s.upsyncRefused(ctx, down, obj, ref, err)
		}
		return reconcile.Result{}, fmt.Errorf("upsyncing %s: %w", objectName(ref), err)
	}
	return reconcile.Result{}, nil
}

// upsyncRefused reports an object too large to copy into the mailbox, by a Warning Event on
// it in the cluster, and ends its reconcile without a retry: the same content would be
// refused again, and a change to the object reconciles it anew. A copy made earlier stays in
// the mailbox, older, rather than being removed. Errors other than its size are returned.
func (s *Syncer) upsyncRefused(ctx context.Context, down *multicluster.Cluster, obj *unstructured.Unstructured, ref wrapper.ObjectRef, err error) error {
	if !wrapper.IsTooLarge(err) {
		return fmt.Errorf("upsyncing %s: %w", objectName(ref), err)
	}
	note := fmt.Sprintf("not copied up into mailbox %s: %v; make the object smaller, or leave it out of the upsync sets", s.opts.Mailbox, err)
	var tooLarge *wrapper.TooLargeError
	if !errors.As(err, &tooLarge) {
		note = fmt.Sprintf("not copied up into mailbox %s: the API server refused its upsync wrapper as too large (%v); make the object smaller, or leave it out of the upsync sets", s.opts.Mailbox, err)
	}
	klog.FromContext(ctx).Info("Object too large to upsync", "object", objectName(ref), "kind", obj.GetKind(), "reason", note)
	down.GetEventRecorder(FieldManager).Eventf(obj, nil, corev1.EventTypeWarning, EventUpsyncTooLarge, "Upsync", "%s", note)
	return nil
}
