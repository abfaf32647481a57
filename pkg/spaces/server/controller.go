package server

import (
	"context"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
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
}

// setupSpaceController registers the reconciler with mgr; events on changes of the runners'
// states come through the returned function.
func setupSpaceController(mgr ctrl.Manager, r *spaceReconciler) (func(path string), error) {
	events := make(chan event.GenericEvent)
	notify := func(path string) {
		name, ok := spaces.ChildName(path)
		if !ok {
			return
		}
		// Never block a runner on the controller.
		go func() {
			events <- event.GenericEvent{Object: &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: name}}}
		}()
	}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("space").
		For(&spacev1alpha1.Space{}).
		WatchesRawSource(source.Channel(events, &handler.EnqueueRequestForObject{})).
		// One process may run a server more than once (a restart in tests), each with a
		// controller of this name.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4, SkipNameValidation: ptr.To(true)}).
		Complete(r)
	return notify, err
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
		r.set.ensure(path, id)
		return ctrl.Result{}, nil
	}

	state := r.set.ensure(path, space.Status.Cluster)
	status := space.Status.DeepCopy()
	status.URL = spaces.URL(r.baseURL, path)
	cond := metav1.Condition{Type: conditionReady, ObservedGeneration: space.Generation}
	if state.Ready {
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
