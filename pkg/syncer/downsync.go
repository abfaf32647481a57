package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// indexIdentity indexes wrappers by the identity (group/resource/namespace/name) of the
// object they carry, as the cluster knows it.
const indexIdentity = "kubestellar.identity"

// identity is the cluster-side reference of the object a downsync wrapper carries.
func identity(w client.Object) (wrapper.ObjectRef, bool) {
	if w.GetLabels()[LabelUpsync] == "true" {
		ref, err := wrapper.ParseObjectRef(Downstream + "/" + w.GetAnnotations()[AnnotationUpsyncSource])
		return ref, err == nil
	}
	ref, err := wrapper.ParseObjectRef(w.GetAnnotations()[wrapper.AnnotationSource])
	if err != nil {
		return wrapper.ObjectRef{}, false
	}
	ref.Space = Downstream
	return ref, true
}

// watchUpstream makes both directions follow the mailbox.
func (s *Syncer) watchUpstream() error {
	inUpstream := multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Name == Upstream })
	isDownsync := func(o client.Object) bool {
		return o.GetLabels()[LabelUpsync] != "true" && o.GetAnnotations()[wrapper.AnnotationSource] != ""
	}
	toIdentity := multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
		if ref, ok := identity(o); ok {
			return []multicluster.Request{requestFor(ref)}
		}
		return nil
	})
	indexByIdentity := multicluster.Index(indexIdentity, func(o client.Object) []string {
		if ref, ok := identity(o); ok {
			return []string{ref.String()}
		}
		return nil
	})
	for _, err := range []error{
		s.down.Watch(&edgev2alpha1.WrappedObject{}, inUpstream, multicluster.Filter(isDownsync), indexByIdentity, toIdentity),
		s.up.Watch(&edgev2alpha1.WrappedObject{}, inUpstream,
			multicluster.Filter(func(o client.Object) bool { return o.GetLabels()[LabelUpsync] == "true" }), toIdentity),
		s.configs.Watch(&edgev2alpha1.SyncerConfig{}, inUpstream),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// watchDownstream watches a kind in the cluster for downsync, once.
func (s *Syncer) watchDownstream(down *multicluster.Cluster, gvk schema.GroupVersionKind, gr schema.GroupResource) error {
	s.mu.Lock()
	watched := s.downKinds[gvk]
	s.mu.Unlock()
	if watched {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	err := s.down.WatchKind(down, obj,
		// Only objects the syncer made, or has a wrapper for, concern it.
		multicluster.Filter(func(o client.Object) bool {
			return o.GetLabels()[LabelDownsynced] == s.opts.Mailbox || s.hasWrapper(wrapper.ObjectRef{Space: Downstream, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()})
		}),
		multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
			return []multicluster.Request{requestFor(wrapper.ObjectRef{Space: Downstream, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()})}
		}))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.downKinds[gvk] = true
	s.mu.Unlock()
	return nil
}

func (s *Syncer) hasWrapper(ref wrapper.ObjectRef) bool {
	up, ok := s.mgr.Cluster(Upstream)
	if !ok {
		return false
	}
	list := &edgev2alpha1.WrappedObjectList{}
	err := up.GetClient().List(context.Background(), list, client.InNamespace(s.opts.Mailbox),
		client.MatchingFields{indexIdentity: ref.String()}, client.UnsafeDisableDeepCopy)
	return err == nil && len(list.Items) > 0
}

// reconcileDownsync makes the cluster's object match its wrapper: applied when there is one,
// deleted (if the syncer made it) when there is none.
func (s *Syncer) reconcileDownsync(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	ref, ok := refOf(req)
	if !ok {
		return reconcile.Result{}, nil
	}
	up, down, err := s.clusters()
	if err != nil {
		return reconcile.Result{}, err
	}
	list := &edgev2alpha1.WrappedObjectList{}
	if err := up.GetClient().List(ctx, list, client.InNamespace(s.opts.Mailbox), client.MatchingFields{indexIdentity: ref.String()}); err != nil {
		return reconcile.Result{}, err
	}
	var wrappers []*edgev2alpha1.WrappedObject
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			wrappers = append(wrappers, &list.Items[i])
		}
	}
	sort.Slice(wrappers, func(i, j int) bool { return wrappers[i].Name < wrappers[j].Name })

	gvk, err := down.GetRESTMapper().KindFor(ref.WithVersion(""))
	if err != nil {
		if meta.IsNoMatchError(err) && len(wrappers) > 0 {
			// The kind's CRD may be on its way in another wrapper.
			return reconcile.Result{}, fmt.Errorf("the cluster does not serve %s yet: %w", ref.GroupResource, err)
		}
		return reconcile.Result{}, client.IgnoreNotFound(ignoreNoMatch(err))
	}
	if err := s.watchDownstream(down, gvk, ref.GroupResource); err != nil {
		return reconcile.Result{}, err
	}
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(gvk)
	if err := down.GetClient().Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, current); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		current = nil
	}
	ours := current != nil && current.GetLabels()[LabelDownsynced] == s.opts.Mailbox

	if len(wrappers) == 0 {
		if ours && current.GetDeletionTimestamp().IsZero() {
			return reconcile.Result{}, s.deleteDownsynced(ctx, down, current, ref)
		}
		return reconcile.Result{}, nil
	}

	w := wrappers[0]
	for _, other := range wrappers[1:] {
		if err := s.setWrapperStatus(ctx, up, other, metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: "Conflict",
			Message: fmt.Sprintf("wrapper %s carries the same object and takes precedence", w.Name)}, nil); err != nil {
			return reconcile.Result{}, err
		}
	}
	desired, err := wrapper.Unwrap(w)
	if err != nil {
		return reconcile.Result{}, s.setWrapperStatus(ctx, up, w, failed("InvalidObject", err), nil)
	}
	labels := desired.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelDownsynced] = s.opts.Mailbox
	desired.SetLabels(labels)
	annotations := desired.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationDownsyncedFrom] = s.opts.Mailbox + "/" + w.Name
	desired.SetAnnotations(annotations)

	cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: "Applied", Message: "the object is in the cluster as wrapped"}
	switch {
	case current != nil && !ours && gvk.GroupKind() == (schema.GroupKind{Kind: "Namespace"}):
		// A namespace that was already there is shared, never taken over.
		cond.Reason, cond.Message = "Exists", "the namespace already existed in the cluster; it is used as it is"
	case current != nil && !ours:
		cond = failed("NotOurs", fmt.Errorf("a %s named %s exists in the cluster and was not created by KubeStellar; it is left alone", gvk.Kind, objectName(ref)))
	case current != nil && annotations[AnnotationDownsyncOverwrite] == "false":
		cond.Reason, cond.Message = "CreateOnly", "created once; edge.kubestellar.io/downsync-overwrite is \"false\""
	case current != nil && contains(current.Object, desired.Object):
		// Already as wrapped: no write.
	default:
		applied := desired.DeepCopy()
		if err := down.GetClient().Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			if apierrors.IsNotFound(err) && ref.Namespace != "" {
				// Its namespace is on its way, in its own wrapper.
				_ = s.setWrapperStatus(ctx, up, w, failed("WaitingForNamespace", err), nil)
				return reconcile.Result{RequeueAfter: time.Second}, nil
			}
			_ = s.setWrapperStatus(ctx, up, w, failed("ApplyFailed", err), nil)
			return reconcile.Result{}, fmt.Errorf("applying %s: %w", objectName(ref), err)
		}
		klog.FromContext(ctx).V(3).Info("Applied", "object", objectName(ref), "kind", gvk.Kind)
		current = applied
	}

	var reported *edgev2alpha1.ReportedState
	if current != nil && (ours || current.GetLabels()[LabelDownsynced] == s.opts.Mailbox) {
		if status, ok := current.Object["status"]; ok {
			raw, err := json.Marshal(status)
			if err != nil {
				return reconcile.Result{}, err
			}
			reported = &edgev2alpha1.ReportedState{Status: &runtime.RawExtension{Raw: raw}, ObservedGeneration: current.GetGeneration()}
		}
	}
	return reconcile.Result{}, s.setWrapperStatus(ctx, up, w, cond, reported)
}

func failed(reason string, err error) metav1.Condition {
	return metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: reason, Message: err.Error()}
}

func ignoreNoMatch(err error) error {
	if meta.IsNoMatchError(err) {
		return nil
	}
	return err
}

// setWrapperStatus writes the Synced condition and the reported state when they changed.
func (s *Syncer) setWrapperStatus(ctx context.Context, up *multicluster.Cluster, w *edgev2alpha1.WrappedObject, cond metav1.Condition, reported *edgev2alpha1.ReportedState) error {
	status := w.Status.DeepCopy()
	cond.ObservedGeneration = w.Generation
	meta.SetStatusCondition(&status.Conditions, cond)
	if reported != nil || cond.Reason != "Conflict" {
		status.ReportedState = reported
	}
	if sameStatus(status, &w.Status) {
		return nil
	}
	updated := w.DeepCopy()
	updated.Status = *status
	if err := up.GetClient().Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("reporting on wrapper %s: %w", w.Name, err)
	}
	return nil
}

func sameStatus(a, b *edgev2alpha1.WrappedObjectStatus) bool {
	if !equality.Semantic.DeepEqual(a.Conditions, b.Conditions) {
		return false
	}
	if (a.ReportedState == nil) != (b.ReportedState == nil) {
		return false
	}
	if a.ReportedState == nil {
		return true
	}
	if a.ReportedState.ObservedGeneration != b.ReportedState.ObservedGeneration {
		return false
	}
	var x, y any
	if a.ReportedState.Status != nil {
		_ = json.Unmarshal(a.ReportedState.Status.Raw, &x)
	}
	if b.ReportedState.Status != nil {
		_ = json.Unmarshal(b.ReportedState.Status.Raw, &y)
	}
	return equality.Semantic.DeepEqual(x, y)
}

// contains reports whether every value in want is in have: maps by key, lists element by
// element (a server adds defaults inside list elements), anything else by equality.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !contains(h[k], v) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return equality.Semantic.DeepEqual(normalizeNumber(have), normalizeNumber(want))
	}
}

// normalizeNumber makes JSON numbers decoded as int64 or float64 comparable.
func normalizeNumber(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case int32:
		return float64(n)
	}
	return v
}

func objectName(ref wrapper.ObjectRef) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}
