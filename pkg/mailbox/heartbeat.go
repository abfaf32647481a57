package mailbox

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

const (
	// ConditionReady says, on a SyncTarget, whether its syncer reports in.
	ConditionReady = "Ready"
	// ReasonStale says the syncer has been silent for StaleIntervals heartbeat intervals.
	ReasonStale = "Stale"
	// ReasonNoHeartbeat says the syncer has not reported in yet.
	ReasonNoHeartbeat = "NoHeartbeat"
	// ReasonHeartbeat says the syncer reports in.
	ReasonHeartbeat = "Heartbeat"

	// StaleIntervals is how many heartbeat intervals of silence make a syncer stale.
	StaleIntervals = 3
	// defaultHeartbeatInterval is the syncer's interval when it does not say.
	defaultHeartbeatInterval = 30 * time.Second
	// heartbeatCopyInterval bounds how often a SyncTarget's heartbeat time is refreshed
	// while it stays Ready: one write a minute says enough, for any number of clusters.
	heartbeatCopyInterval = time.Minute
	// statusFieldManager owns what the mailbox controller writes into SyncTarget status.
	statusFieldManager = "kubestellar-mailbox-controller"
)

// Silent reports whether the syncer whose SyncerConfig status this is has been silent for
// StaleIntervals heartbeat intervals at now, and when it will be if it is not yet. A syncer
// that never reported in is not silent: it has not started.
func Silent(status *edgev2alpha1.SyncerConfigStatus, now time.Time) (bool, time.Duration) {
	if status.LastSyncerHeartbeatTime == nil {
		return false, 0
	}
	interval := defaultHeartbeatInterval
	if status.HeartbeatIntervalSeconds > 0 {
		interval = time.Duration(status.HeartbeatIntervalSeconds) * time.Second
	}
	left := status.LastSyncerHeartbeatTime.Add(StaleIntervals * interval).Sub(now)
	return left < 0, left
}

// SyncerStatus reads the status of the SyncerConfig in a mailbox; nil when there is none.
func SyncerStatus(ctx context.Context, espw client.Reader, box string) (*edgev2alpha1.SyncerConfigStatus, error) {
	cfg := &edgev2alpha1.SyncerConfig{}
	if err := espw.Get(ctx, types.NamespacedName{Namespace: box, Name: wrapper.SyncerConfigName}, cfg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the SyncerConfig of mailbox %s: %w", box, err)
	}
	return &cfg.Status, nil
}

// SyncerStatuses reads the status of the SyncerConfig of every mailbox, by mailbox name.
func SyncerStatuses(ctx context.Context, espw client.Reader) (map[string]*edgev2alpha1.SyncerConfigStatus, error) {
	list := &edgev2alpha1.SyncerConfigList{}
	if err := espw.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing the SyncerConfigs of the mailboxes: %w", err)
	}
	out := make(map[string]*edgev2alpha1.SyncerConfigStatus, len(list.Items))
	for i := range list.Items {
		if list.Items[i].Name == wrapper.SyncerConfigName {
			out[list.Items[i].Namespace] = &list.Items[i].Status
		}
	}
	return out, nil
}

// heartbeats keeps each SyncTarget's Ready condition and heartbeat time in line with the
// heartbeats its syncer records in its mailbox.
type heartbeats struct {
	mgr      *multicluster.Manager
	espwPath string
}

// syncTargetOfConfig maps a SyncerConfig to the SyncTarget its mailbox serves.
func syncTargetOfConfig(ctx context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
	spaceID, _, ok := ParseName(o.GetNamespace())
	if !ok {
		return nil
	}
	ns := &corev1.Namespace{}
	if err := cl.GetClient().Get(ctx, types.NamespacedName{Name: o.GetNamespace()}, ns); err != nil {
		return nil
	}
	name := ns.Annotations[AnnotationSyncTargetName]
	if name == "" {
		return nil
	}
	return []multicluster.Request{{Cluster: spaceID, NamespacedName: types.NamespacedName{Name: name}}}
}

// Reconcile handles the SyncTarget req.Name in the space req.Cluster.
func (h *heartbeats) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	espw, ok := h.mgr.ClusterByPath(h.espwPath)
	if !ok {
		return reconcile.Result{}, fmt.Errorf("the core space %s does not exist yet", h.espwPath)
	}
	space, ok := h.mgr.Cluster(req.Cluster)
	if !ok {
		return reconcile.Result{}, nil
	}
	if served, err := space.Serves(&edgev2alpha1.SyncTarget{}); err != nil || !served {
		return reconcile.Result{}, err
	}
	st := &edgev2alpha1.SyncTarget{}
	if err := space.GetClient().Get(ctx, req.NamespacedName, st); err != nil || !st.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	status, err := SyncerStatus(ctx, espw.GetClient(), Name(req.Cluster, st.UID))
	if err != nil {
		return reconcile.Result{}, err
	}
	if status == nil {
		status = &edgev2alpha1.SyncerConfigStatus{}
	}
	now := time.Now()
	silent, left := Silent(status, now)
	cond := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonHeartbeat, Message: "the syncer reports in", ObservedGeneration: st.Generation}
	switch {
	case status.LastSyncerHeartbeatTime == nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonNoHeartbeat, "the syncer has not reported in yet"
	case silent:
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonStale
		cond.Message = fmt.Sprintf("the syncer has not reported in since %s, %d heartbeat intervals ago or more; what it last reported may be out of date",
			status.LastSyncerHeartbeatTime.UTC().Format(time.RFC3339), StaleIntervals)
	}
	old := meta.FindStatusCondition(st.Status.Conditions, ConditionReady)
	changed := old == nil || old.Status != cond.Status || old.Reason != cond.Reason || old.Message != cond.Message
	heartbeat := st.Status.LastSyncerHeartbeatTime
	if hb := status.LastSyncerHeartbeatTime; hb != nil && (heartbeat == nil || changed || hb.Sub(heartbeat.Time) >= heartbeatCopyInterval) {
		heartbeat = hb
	}
	result := reconcile.Result{}
	if cond.Status == metav1.ConditionTrue {
		// Look again when it would become stale; a heartbeat before then looks again anyway.
		result.RequeueAfter = left + time.Second
	}
	if !changed && equalTime(heartbeat, st.Status.LastSyncerHeartbeatTime) {
		return result, nil
	}
	if old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	} else {
		cond.LastTransitionTime = metav1.NewTime(now)
	}
	if err := applySyncTargetStatus(ctx, space.GetClient(), st.Name, cond, heartbeat); err != nil {
		return reconcile.Result{}, err
	}
	switch {
	case cond.Reason == ReasonStale && (old == nil || old.Reason != ReasonStale):
		space.GetEventRecorder(statusFieldManager).Eventf(st, nil, corev1.EventTypeWarning, ReasonStale, "Heartbeat", "%s", cond.Message)
	case cond.Status == metav1.ConditionTrue && old != nil && old.Reason == ReasonStale:
		space.GetEventRecorder(statusFieldManager).Eventf(st, nil, corev1.EventTypeNormal, ConditionReady, "Heartbeat", "the syncer reports in again")
	}
	return result, nil
}

func equalTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// applySyncTargetStatus writes the Ready condition and the heartbeat time by server-side
// apply, so that a write needs no resourceVersion and other status fields stay their owners'.
func applySyncTargetStatus(ctx context.Context, c client.Client, name string, cond metav1.Condition, heartbeat *metav1.Time) error {
	status := edgev2alpha1.SyncTargetStatus{LastSyncerHeartbeatTime: heartbeat, Conditions: []metav1.Condition{cond}}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return fmt.Errorf("encoding the status of SyncTarget %s: %w", name, err)
	}
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": edgev2alpha1.SchemeGroupVersion.String(), "kind": "SyncTarget",
		"metadata": map[string]any{"name": name}, "status": content,
	}}
	err = c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(statusFieldManager), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the status of SyncTarget %s: %w", name, err)
	}
	return nil
}
