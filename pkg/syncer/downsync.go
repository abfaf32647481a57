package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// indexIdentity indexes wrappers by the identity (group/resource/namespace/name) of the
// object they carry, as the cluster knows it.
const indexIdentity = "kubestellar.identity"

// indexNamespace indexes downsync wrappers by the namespace of the object they carry (the
// namespace's own name for a Namespace), for the namespace retention rule (keepNamespace).
const indexNamespace = "kubestellar.namespace"

var namespacesGR = schema.GroupResource{Resource: "namespaces"}

// namespaceOf is the namespace a downsync wrapper's object is in, or is.
func namespaceOf(ref wrapper.ObjectRef) string {
	if ref.GroupResource == namespacesGR {
		return ref.Name
	}
	return ref.Namespace
}

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
	// A change to the wrapper of a namespaced object may decide whether its namespace stays.
	toIdentityAndNamespace := multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
		ref, ok := identity(o)
		if !ok {
			return nil
		}
		reqs := []multicluster.Request{requestFor(ref)}
		if ref.Namespace != "" && (!o.GetDeletionTimestamp().IsZero() || !s.hasWrapper(ref)) {
			// The wrapper is going (a delete event finds it gone from the cache already).
			reqs = append(reqs, requestFor(wrapper.ObjectRef{Space: Downstream, GroupResource: namespacesGR, Name: ref.Namespace}))
		}
		return reqs
	})
	indexByIdentity := multicluster.Index(indexIdentity, func(o client.Object) []string {
		if ref, ok := identity(o); ok {
			return []string{ref.String()}
		}
		return nil
	})
	indexByNamespace := multicluster.Index(indexNamespace, func(o client.Object) []string {
		if ref, ok := identity(o); ok && namespaceOf(ref) != "" {
			return []string{namespaceOf(ref)}
		}
		return nil
	})
	for _, err := range []error{
		// The syncer's own status writes change no generation and need no reconcile.
		s.down.Watch(&edgev2alpha1.WrappedObject{}, inUpstream, multicluster.Filter(isDownsync), multicluster.Predicates(predicate.GenerationChangedPredicate{}),
			indexByIdentity, indexByNamespace, toIdentityAndNamespace),
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
			ref := wrapper.ObjectRef{Space: Downstream, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()}
			reqs := []multicluster.Request{requestFor(ref)}
			if ref.Namespace != "" && o.GetLabels()[LabelDownsynced] == s.opts.Mailbox && !s.hasWrapper(ref) {
				// An object of the syncer's on its way out: its namespace may go after it.
				reqs = append(reqs, requestFor(wrapper.ObjectRef{Space: Downstream, GroupResource: namespacesGR, Name: ref.Namespace}))
			}
			return reqs
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
	// Wrappers of the same object from several spaces: the one that takes precedence (the
	// oldest placement's) is applied, always the same one.
	sort.Slice(wrappers, func(i, j int) bool { return wrapper.TakesPrecedence(wrappers[i], wrappers[j]) })

	gvk, err := down.GetRESTMapper().KindFor(ref.WithVersion(""))
	if err != nil {
		if meta.IsNoMatchError(err) && len(wrappers) > 0 {
			// The kind's CRD may be on its way in another wrapper.
			return reconcile.Result{}, fmt.Errorf("the cluster does not serve %s yet: %w", ref.GroupResource, err)
		}
		return reconcile.Result{}, client.IgnoreNotFound(ignoreNoMatch(err))
	}
	if err := s.canWatch(ctx, down, gvk); err != nil {
		if apierrors.IsForbidden(err) {
			return s.forbidden(ctx, up, wrappers, fmt.Sprintf("cannot list %s in the cluster", ref.GroupResource), err)
		}
		return reconcile.Result{}, fmt.Errorf("listing %s: %w", ref.GroupResource, err)
	}
	if err := s.watchDownstream(down, gvk, ref.GroupResource); err != nil {
		return reconcile.Result{}, err
	}
	current, err := currentObject(ctx, down, gvk, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return s.forbidden(ctx, up, wrappers, fmt.Sprintf("cannot read %s %s in the cluster", ref.GroupResource, objectName(ref)), err)
		}
		return reconcile.Result{}, err
	}
	ours := current != nil && current.GetLabels()[LabelDownsynced] == s.opts.Mailbox

	if len(wrappers) == 0 {
		if ours && current.GetDeletionTimestamp().IsZero() {
			return reconcile.Result{}, s.deleteDownsynced(ctx, up, down, current, ref)
		}
		return reconcile.Result{}, nil
	}

	w := wrappers[0]
	for _, other := range wrappers[1:] {
		cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: wrapper.ReasonConflict,
			Message: fmt.Sprintf("%s puts the same object into the cluster with other content, and takes precedence (the older placement); this content is not applied",
				wrapper.ClaimOf(w))}
		if wrapper.SameContent(w, other) {
			cond.Status, cond.Reason = metav1.ConditionTrue, "Applied"
			cond.Message = fmt.Sprintf("the object is in the cluster as wrapped, by %s, which takes precedence", wrapper.ClaimOf(w))
		}
		if err := s.setWrapperStatus(ctx, up, other, cond, nil); err != nil {
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

	hash, err := desiredHash(desired)
	if err != nil {
		return reconcile.Result{}, err
	}

	cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: "Applied", Message: "the object is in the cluster as wrapped"}
	var drift *edgev2alpha1.Drift // a change made in the cluster, found now
	switch {
	case current != nil && !ours && gvk.GroupKind() == (schema.GroupKind{Kind: "Namespace"}):
		// A namespace that was already there is shared, never taken over.
		cond.Reason, cond.Message = "Exists", "the namespace already existed in the cluster; it is used as it is"
	case current != nil && !ours:
		cond = failed(wrapper.ReasonNotOurs, fmt.Errorf("a %s named %s exists in the cluster and was not created by KubeStellar; it is left alone", gvk.Kind, objectName(ref)))
	case current != nil && annotations[AnnotationDownsyncOverwrite] == "false":
		cond.Reason, cond.Message = "CreateOnly", "created once; edge.kubestellar.io/downsync-overwrite is \"false\""
	case current != nil && upToDate(current, desired, hash):
		// Already as wrapped: no write.
	case current != nil && current.GetAnnotations()[AnnotationDesiredHash] == hash && annotations[wrapper.AnnotationDrift] == wrapper.DriftReport:
		// What the syncer last sent is what it would send now, yet the cluster has other
		// values: they were changed there, and the owner asks to be told, not to have them
		// put back.
		drift = &edgev2alpha1.Drift{Time: metav1.Now(), Fields: differingFields(current.Object, desired.Object, edgev2alpha1.MaxDriftFields)}
		if old := w.Status.Drift; old != nil && !old.Reverted && slices.Equal(old.Fields, drift.Fields) {
			drift = old // the same drift, reported already
		} else {
			down.GetEventRecorder(FieldManager).Eventf(current, nil, corev1.EventTypeWarning, wrapper.EventDriftReported, "Sync", "%s", wrapper.DriftNote(drift))
		}
		cond = metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: wrapper.EventDriftReported, Message: wrapper.DriftNote(drift)}
	default:
		// The same hash with other values means a change made in the cluster, unless the
		// server keeps a value in another form than it was sent: told apart after the apply.
		var drifted []string
		if current != nil && current.GetAnnotations()[AnnotationDesiredHash] == hash {
			drifted = differingFields(current.Object, desired.Object, edgev2alpha1.MaxDriftFields)
		}
		applied := desired.DeepCopy()
		annotations := applied.GetAnnotations()
		annotations[AnnotationDesiredHash] = hash
		applied.SetAnnotations(annotations)
		if err := down.GetClient().Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			if apierrors.IsForbidden(err) {
				return s.forbidden(ctx, up, []*edgev2alpha1.WrappedObject{w}, fmt.Sprintf("cannot apply %s %s in the cluster", ref.GroupResource, objectName(ref)), err)
			}
			if apierrors.IsNotFound(err) && ref.Namespace != "" {
				// Its namespace is on its way, in its own wrapper, whose apply brings this
				// object back; a namespace made some other way is seen at the next retry.
				s.awaitNamespace(ref)
				if err := s.setWrapperStatus(ctx, up, w, failed(wrapper.ReasonWaitingForNamespace, err), nil); err != nil {
					return reconcile.Result{}, err
				}
				return reconcile.Result{RequeueAfter: namespaceRetry}, nil
			}
			if serr := s.setWrapperStatus(ctx, up, w, failed("ApplyFailed", err), nil); serr != nil {
				klog.FromContext(ctx).V(2).Info("Cannot report on a wrapper", "wrapper", w.Name, "err", serr)
			}
			return reconcile.Result{}, fmt.Errorf("applying %s: %w", objectName(ref), err)
		}
		klog.FromContext(ctx).V(3).Info("Applied", "object", objectName(ref), "kind", gvk.Kind)
		if len(drifted) > 0 && contains(applied.Object, desired.Object) {
			drift = &edgev2alpha1.Drift{Time: metav1.Now(), Fields: drifted, Reverted: true}
			driftReverted.WithLabelValues(gvk.Kind).Inc()
			down.GetEventRecorder(FieldManager).Eventf(applied, nil, corev1.EventTypeWarning, wrapper.EventDriftReverted, "Sync", "%s", wrapper.DriftNote(drift))
			cond.Reason, cond.Message = wrapper.EventDriftReverted, "the object is in the cluster as wrapped; it was "+wrapper.DriftNote(drift)
		}
		current = applied
	}

	if ref.GroupResource == namespacesGR && current != nil && current.GetDeletionTimestamp().IsZero() {
		s.namespaceArrived(ref.Name)
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
	return reconcile.Result{}, s.writeWrapperStatus(ctx, up, w, cond, reported, drift)
}

// namespaceRetry is how long an object whose namespace is missing in the cluster waits before
// it is tried again, unless the syncer applies that namespace first.
const namespaceRetry = 10 * time.Second

// awaitNamespace has the object ref brought back when the syncer finds its namespace in the
// cluster.
func (s *Syncer) awaitNamespace(ref wrapper.ObjectRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting[ref.Namespace] == nil {
		s.waiting[ref.Namespace] = map[wrapper.ObjectRef]bool{}
	}
	s.waiting[ref.Namespace][ref] = true
}

// namespaceArrived brings back the objects that were waiting for the namespace.
func (s *Syncer) namespaceArrived(namespace string) {
	s.mu.Lock()
	waiting := s.waiting[namespace]
	delete(s.waiting, namespace)
	s.mu.Unlock()
	for ref := range waiting {
		s.down.Enqueue(requestFor(ref))
	}
}

// ReasonForbidden is the Synced reason when the syncer's identity in the cluster may not do
// what the wrapper needs.
const ReasonForbidden = "Forbidden"

// forbiddenRetry is how long the syncer waits before trying again what the cluster forbade:
// a permission comes from someone changing RBAC, not from waiting, so asking often only
// loads the cluster.
const forbiddenRetry = time.Minute

// canWatch asks the cluster, before the syncer first watches a kind there, whether it may
// list that kind: an informer that may not would only retry in the background while reads
// of its cache wait.
func (s *Syncer) canWatch(ctx context.Context, down *multicluster.Cluster, gvk schema.GroupVersionKind) error {
	s.mu.Lock()
	watched := s.downKinds[gvk]
	s.mu.Unlock()
	if watched {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	return down.GetAPIReader().List(ctx, list, client.Limit(1))
}

// forbidden reports, on each wrapper, what the cluster forbade and how to allow it, and has
// the object looked at again after forbiddenRetry.
func (s *Syncer) forbidden(ctx context.Context, up *multicluster.Cluster, wrappers []*edgev2alpha1.WrappedObject, what string, err error) (reconcile.Result, error) {
	cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: ReasonForbidden,
		Message: fmt.Sprintf("%s: the syncer's ClusterRole there does not allow it (%v); widen it (kubectl kubestellar prep-for-syncer --wec-rules FILE makes one with the rules in FILE) or stop placing this kind on this cluster; tried again every %s",
			what, err, forbiddenRetry)}
	for _, w := range wrappers {
		if serr := s.setWrapperStatus(ctx, up, w, cond, nil); serr != nil {
			return reconcile.Result{}, serr
		}
	}
	klog.FromContext(ctx).V(2).Info("Forbidden in the cluster", "what", what, "err", err)
	return reconcile.Result{RequeueAfter: forbiddenRetry}, nil
}

// currentObject reads the cluster's object, nil when there is none. It reads from the cache
// of the kind, which watchDownstream has started, so an object in step costs no request. A
// cache that has no such object may be behind: that is confirmed with a read from the server,
// for an object someone else created meanwhile must be found and left alone, never taken
// over by an apply.
func currentObject(ctx context.Context, down *multicluster.Cluster, gvk schema.GroupVersionKind, key types.NamespacedName) (*unstructured.Unstructured, error) {
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(gvk)
	err := down.GetCache().Get(ctx, key, current)
	if apierrors.IsNotFound(err) {
		current = &unstructured.Unstructured{}
		current.SetGroupVersionKind(gvk)
		err = down.GetAPIReader().Get(ctx, key, current)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	return current, nil
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

// setWrapperStatus writes the Synced condition and the reported state when they changed. It
// applies them to the status subresource (server-side apply, as FieldManager), so a write
// needs no resourceVersion: the translator's updates of the spec and other writers of the
// status never make it fail with a conflict, and conditions of other types are left to
// their owners.
func (s *Syncer) setWrapperStatus(ctx context.Context, up *multicluster.Cluster, w *edgev2alpha1.WrappedObject, cond metav1.Condition, reported *edgev2alpha1.ReportedState) error {
	return s.writeWrapperStatus(ctx, up, w, cond, reported, nil)
}

// writeWrapperStatus is setWrapperStatus with a drift found now; nil keeps the last one.
// A reported state that would take the wrapper past wrapper.MaxSize, or that the server
// refuses as too large, is left out, and the condition says why: the object is in the
// cluster all the same, and a write that cannot succeed is not retried.
func (s *Syncer) writeWrapperStatus(ctx context.Context, up *multicluster.Cluster, w *edgev2alpha1.WrappedObject, cond metav1.Condition, reported *edgev2alpha1.ReportedState, drift *edgev2alpha1.Drift) error {
	status := nextStatus(w, cond, reported, drift)
	// Only a status that changes is measured: the syncer looks at every wrapper again on
	// every event of its object, and most of those looks change nothing.
	if status.ReportedState != nil && !sameStatus(status, &w.Status) {
		next := *w
		next.Status = *status
		if err := wrapper.CheckSize(&next, "the wrapper with its status", wrapper.MaxSize); err != nil {
			if !wrapper.IsTooLarge(err) {
				return err
			}
			status = nextStatus(w, withoutReportedState(cond, err), nil, drift)
			status.ReportedState = nil
		}
	}
	err := s.applyStatus(ctx, up, w, status)
	if wrapper.IsTooLarge(err) && status.ReportedState != nil {
		klog.FromContext(ctx).V(2).Info("The server refused a wrapper's status as too large; reporting without the object's status", "wrapper", w.Name, "err", err)
		status = nextStatus(w, withoutReportedState(cond, fmt.Errorf("the API server refused the wrapper with its status as too large (%w)", err)), nil, drift)
		status.ReportedState = nil
		err = s.applyStatus(ctx, up, w, status)
	}
	return err
}

// nextStatus is w's status with the syncer's condition, reported state and drift (nil keeps
// the last one).
func nextStatus(w *edgev2alpha1.WrappedObject, cond metav1.Condition, reported *edgev2alpha1.ReportedState, drift *edgev2alpha1.Drift) *edgev2alpha1.WrappedObjectStatus {
	status := w.Status.DeepCopy()
	if drift != nil {
		status.Drift = drift
	}
	cond.ObservedGeneration = w.Generation
	meta.SetStatusCondition(&status.Conditions, cond)
	if reported != nil || cond.Reason != wrapper.ReasonConflict {
		status.ReportedState = reported
	}
	return status
}

// withoutReportedState is cond for a wrapper whose reported state is left out, err saying
// why: an object in the cluster as wrapped is still Synced, with a reason that says its
// status is missing; a condition that is not True keeps its reason.
func withoutReportedState(cond metav1.Condition, err error) metav1.Condition {
	if cond.Status == metav1.ConditionTrue {
		cond.Reason = wrapper.ReasonReportedStateTooLarge
	}
	cond.Message += fmt.Sprintf("; its status is not reported: %v; the object's status in the cluster must be smaller to be reported", err)
	return cond
}

// applyStatus applies the syncer's part of status to w, unless w has it already.
func (s *Syncer) applyStatus(ctx context.Context, up *multicluster.Cluster, w *edgev2alpha1.WrappedObject, status *edgev2alpha1.WrappedObjectStatus) error {
	if sameStatus(status, &w.Status) {
		return nil
	}
	own := edgev2alpha1.WrappedObjectStatus{ReportedState: status.ReportedState, Drift: status.Drift}
	if c := meta.FindStatusCondition(status.Conditions, ConditionSynced); c != nil {
		own.Conditions = []metav1.Condition{*c}
	}
	raw, err := json.Marshal(own)
	if err != nil {
		return err
	}
	written, err := writtenKey(w, own)
	if err != nil {
		return err
	}
	if s.statusWritten(w, written) {
		// This very status was applied over the version of the wrapper in hand, and the cache
		// has not caught up with that write yet: applying it again would change nothing.
		return nil
	}
	content := map[string]any{}
	if err := json.Unmarshal(raw, &content); err != nil {
		return err
	}
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": edgev2alpha1.SchemeGroupVersion.String(), "kind": "WrappedObject",
		"metadata": map[string]any{"namespace": w.Namespace, "name": w.Name},
		"status":   content,
	}}
	err = up.GetClient().Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reporting on wrapper %s: %w", w.Name, err)
	}
	if err == nil {
		s.rememberStatus(w, written)
	}
	return nil
}

// statusWrite is a status the syncer applied to a wrapper, and the version of the wrapper
// it was working from.
type statusWrite struct {
	uid             types.UID
	resourceVersion string
	status          string
}

// writtenKey is what identifies a status write: the syncer's part of the status, without
// the times of its conditions (a condition made again carries a new time, nothing else).
func writtenKey(w *edgev2alpha1.WrappedObject, own edgev2alpha1.WrappedObjectStatus) (string, error) {
	conds := make([]metav1.Condition, len(own.Conditions))
	for i, c := range own.Conditions {
		c.LastTransitionTime = metav1.Time{}
		conds[i] = c
	}
	own.Conditions = conds
	raw, err := json.Marshal(own)
	if err != nil {
		return "", fmt.Errorf("encoding the status of wrapper %s: %w", w.Name, err)
	}
	return string(raw), nil
}

// statusWritten reports whether status was applied over w as it is now (same UID, same
// resourceVersion): the wrapper in the cache is then older than that write, whose result
// the server holds already.
func (s *Syncer) statusWritten(w *edgev2alpha1.WrappedObject, status string) bool {
	v, ok := s.written.Get(types.NamespacedName{Namespace: w.Namespace, Name: w.Name})
	if !ok {
		return false
	}
	last := v.(statusWrite)
	return last.uid == w.UID && last.resourceVersion == w.ResourceVersion && last.status == status
}

func (s *Syncer) rememberStatus(w *edgev2alpha1.WrappedObject, status string) {
	s.written.Add(types.NamespacedName{Namespace: w.Namespace, Name: w.Name}, statusWrite{uid: w.UID, resourceVersion: w.ResourceVersion, status: status})
}

func sameStatus(a, b *edgev2alpha1.WrappedObjectStatus) bool {
	if !equality.Semantic.DeepEqual(a.Conditions, b.Conditions) || !equality.Semantic.DeepEqual(a.Drift, b.Drift) {
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

// desiredHash is the sha256, in hex, of the canonical JSON (keys sorted, as encoding/json
// writes maps) of the object the syncer applies, its own labels and annotations included.
func desiredHash(desired *unstructured.Unstructured) (string, error) {
	raw, err := json.Marshal(desired.Object)
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", desired.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// upToDate reports whether applying desired again would change nothing the syncer owns in
// current, so that the write can be skipped. Two things must both hold:
//
//   - current carries, in AnnotationDesiredHash, the hash of desired: the syncer's last apply
//     sent exactly what it would send now. This alone makes removals exact: a field, label
//     or list element the syncer stops sending changes the hash, so the object is applied
//     again and server-side apply removes what the syncer no longer sends.
//   - every value desired sets is in current (contains): nobody changed or removed, at the
//     edge, a field the syncer sends. A subset test is right here, and only here, because
//     current also holds server defaults and fields of other managers, which the syncer
//     leaves alone; an edit of a field the syncer sends makes it fail, and the apply with
//     ForceOwnership puts the syncer's value back.
//
// Both are computed from the object as read, with no request. A value the server keeps in
// another form than it was sent (a quantity "1000m" read back as "1") makes the second test
// fail every time, which costs an apply that changes nothing, never a wrong skip.
func upToDate(current, desired *unstructured.Unstructured, hash string) bool {
	return current.GetAnnotations()[AnnotationDesiredHash] == hash && contains(current.Object, desired.Object)
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
