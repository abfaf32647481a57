package server

import (
	"context"
	"fmt"
	"os"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// Finalizer holds a Space until its API server is stopped and its data deleted.
const Finalizer = "space.kubestellar.io/cleanup"

// conditionReady is the Space condition that says whether the space answers requests.
const conditionReady = "Ready"

// spaceReconciler turns Space objects into running spaces.
type spaceReconciler struct {
	client  client.Client
	set     *spaceSet
	storage *storage
	baseURL string
	// webhook serves the admission webhooks that workload management spaces call; nil
	// where none runs.
	webhook *webhookServer
	// replicas says which Spaces this server serves.
	replicas *replicas
}

// setupSpaceController registers the reconciler with mgr; events on changes of the runners'
// states come through the returned function.
func setupSpaceController(mgr ctrl.Manager, r *spaceReconciler) (func(path string), error) {
	events := &spaceEvents{pending: map[string]bool{}}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("space").
		For(&spacev1alpha1.Space{}).
		WatchesRawSource(source.Func(events.start)).
		// One process may run a server more than once (a restart in tests), each with a
		// controller of this name.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4, SkipNameValidation: ptr.To(true)}).
		Complete(r)
	return events.notify, err
}

// spaceEvents puts the Spaces whose runners changed state into the controller's queue. It
// never blocks a runner and holds nothing but one entry per Space: a change before the
// controller has started waits for it, and one after it has stopped is dropped.
type spaceEvents struct {
	mu      sync.Mutex
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	pending map[string]bool
}

// start is the controller's source: it receives the controller's queue.
func (e *spaceEvents) start(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = q
	for name := range e.pending {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
	}
	e.pending = nil
	return nil
}

// notify says that the state of the space at path changed.
func (e *spaceEvents) notify(path string) {
	name, ok := spaces.ChildName(path)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.queue == nil {
		e.pending[name] = true
		return
	}
	// The queue coalesces repeated requests, and drops them once shut down.
	e.queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
}

// Reconcile implements reconcile.Reconciler.
func (r *spaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	path := spaces.ChildPath(req.Name)
	space := &spacev1alpha1.Space{}
	if err := r.client.Get(ctx, req.NamespacedName, space); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone without our finalizer having run (someone removed it): stop serving it.
			if id, ok := r.set.remove(path); ok {
				return ctrl.Result{}, r.deleteData(ctx, id)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	if !r.replicas.owns(space) {
		// Another replica serves it. Should it have been moved from this one, it stops here
		// (its data stays, for the other replica).
		r.set.remove(path)
		return ctrl.Result{}, r.reportUnknownReplica(ctx, space)
	}
	if !space.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, space, path)
	}
	if controllerutil.AddFinalizer(space, Finalizer) {
		return ctrl.Result{}, r.client.Update(ctx, space)
	}
	if space.Status.Cluster == "" {
		// The ID is recorded before anything is started, so it never changes.
		id, err := spaces.NewID()
		if err != nil {
			return ctrl.Result{}, err
		}
		space.Status.Cluster = id
		space.Status.Phase = spacev1alpha1.SpacePhaseInitializing
		space.Status.URL = spaces.URL(r.baseURL, path)
		meta.SetStatusCondition(&space.Status.Conditions, metav1.Condition{
			Type: conditionReady, Status: metav1.ConditionFalse, Reason: "Starting", Message: "starting the space's API server",
			ObservedGeneration: space.Generation,
		})
		if err := r.client.Status().Update(ctx, space); err != nil {
			return ctrl.Result{}, err
		}
		// From now on the path answers "not ready" rather than "not found".
		r.set.ensure(path, id, space.Labels[spacev1alpha1.LabelRole])
		return ctrl.Result{}, nil
	}

	state := r.set.ensure(path, space.Status.Cluster, space.Labels[spacev1alpha1.LabelRole])
	// A space is reported Ready only once the component identities may work in it.
	if err := ensureSpaceRBAC(ctx, r.set.env.pki, path, space.Labels[spacev1alpha1.LabelRole], state); err != nil {
		return ctrl.Result{}, err
	}
	status := space.Status.DeepCopy()
	status.URL = spaces.URL(r.baseURL, path)
	cond := metav1.Condition{Type: conditionReady, ObservedGeneration: space.Generation}
	if state.Ready {
		if err := r.ensureSpaceWebhooks(ctx, space, state); err != nil {
			return ctrl.Result{}, err
		}
		status.Phase = spacev1alpha1.SpacePhaseReady
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "Serving", "the space answers requests"
	} else {
		status.Phase = spacev1alpha1.SpacePhaseInitializing
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "Starting", state.Message
	}
	meta.SetStatusCondition(&status.Conditions, cond)
	if equality.Semantic.DeepEqual(status, &space.Status) {
		return ctrl.Result{}, nil
	}
	space.Status = *status
	return ctrl.Result{}, r.client.Status().Update(ctx, space)
}

// finalize stops a deleted space, deletes its data and lets the Space go.
func (r *spaceReconciler) finalize(ctx context.Context, space *spacev1alpha1.Space, path string) error {
	if !controllerutil.ContainsFinalizer(space, Finalizer) {
		return nil
	}
	if space.Status.Phase != spacev1alpha1.SpacePhaseTerminating {
		space.Status.Phase = spacev1alpha1.SpacePhaseTerminating
		meta.SetStatusCondition(&space.Status.Conditions, metav1.Condition{
			Type: conditionReady, Status: metav1.ConditionFalse, Reason: "Terminating",
			Message: "stopping the space and deleting its data", ObservedGeneration: space.Generation,
		})
		if err := r.client.Status().Update(ctx, space); err != nil {
			return err
		}
	}
	r.set.remove(path)
	if id := space.Status.Cluster; id != "" {
		if err := r.deleteData(ctx, id); err != nil {
			return err
		}
	}
	controllerutil.RemoveFinalizer(space, Finalizer)
	return r.client.Update(ctx, space)
}

func (r *spaceReconciler) deleteData(ctx context.Context, id string) error {
	if err := r.storage.deleteSpaceData(ctx, id); err != nil {
		return err
	}
	if err := os.RemoveAll(r.set.env.spaceDir(id)); err != nil {
		return fmt.Errorf("deleting the files of space %s: %w", id, err)
	}
	return nil
}

// reportUnknownReplica has the replica that serves the root space say, in the Space's
// status, that the Space names a replica none of them knows, so that it is not left
// waiting without a word.
func (r *spaceReconciler) reportUnknownReplica(ctx context.Context, space *spacev1alpha1.Space) error {
	owner := r.replicas.owner(space)
	if !r.replicas.servesRoot() || r.replicas.known(owner) || !space.DeletionTimestamp.IsZero() {
		return nil
	}
	status := space.Status.DeepCopy()
	if status.Phase == "" {
		status.Phase = spacev1alpha1.SpacePhaseInitializing
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: conditionReady, Status: metav1.ConditionFalse, Reason: "UnknownReplica", ObservedGeneration: space.Generation,
		Message: fmt.Sprintf("label %s=%s names no space server replica (this one is %q): give the name of a replica, or remove the label for the replica that serves the root space",
			spacev1alpha1.LabelReplica, owner, r.replicas.self),
	})
	if equality.Semantic.DeepEqual(status, &space.Status) {
		return nil
	}
	space.Status = *status
	return r.client.Status().Update(ctx, space)
}
