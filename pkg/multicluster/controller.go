package multicluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Request names an object in a cluster.
type Request struct {
	// Cluster is the name of the cluster (see Cluster.Name).
	Cluster string
	// GroupResource is the object's kind, for controllers whose requests name objects of
	// many kinds; it is empty where the kind goes without saying.
	schema.GroupResource
	types.NamespacedName
}

// String is cluster/namespace/name (cluster/name for cluster-scoped objects), with the
// resource before the name when the request has one: cluster/namespace/resource.group/name.
func (r Request) String() string {
	out := r.Cluster + "/"
	if r.Namespace != "" {
		out += r.Namespace + "/"
	}
	if r.Resource != "" {
		out += r.GroupResource.String() + "/"
	}
	return out + r.Name
}

// Reconciler brings the world in line with what a Request names. It is level-based: it looks
// at the current state, not at what happened.
type Reconciler interface {
	Reconcile(ctx context.Context, req Request) (reconcile.Result, error)
}

// ReconcilerFunc is a function that is a Reconciler.
type ReconcilerFunc func(ctx context.Context, req Request) (reconcile.Result, error)

// Reconcile implements Reconciler.
func (f ReconcilerFunc) Reconcile(ctx context.Context, req Request) (reconcile.Result, error) {
	return f(ctx, req)
}

// MapFunc turns an event on obj in cluster c into the Requests to reconcile.
type MapFunc func(ctx context.Context, c *Cluster, obj client.Object) []Request

// ControllerOptions configure a Controller.
type ControllerOptions struct {
	// Concurrency is the number of Requests reconciled at once; 1 when zero.
	Concurrency int
	// ReconcileTimeout bounds one Reconcile call; 1 minute when zero.
	ReconcileTimeout time.Duration
	// RateLimiter paces retries; DefaultRateLimiter when nil.
	RateLimiter workqueue.TypedRateLimiter[Request]
}

// Controller feeds Requests from watches in any number of clusters into one work queue.
type Controller struct {
	name string
	mgr  *Manager
	ctrl controller.TypedController[Request]

	mu      sync.Mutex
	watches []*watch
	// engaged holds, per cluster name, the controller's watches in that cluster.
	engaged map[string]*engagement
	queue   workqueue.TypedRateLimitingInterface[Request]
	started chan struct{}
	// warm is closed once the caches of the watches started with the initial clusters have
	// filled (or a bound has passed), so the first reconciles see whole pictures.
	warm     chan struct{}
	warmOnce sync.Once
}

// watch is what Watch or WatchKind was asked for. It is never changed once made, and is
// shared by every cluster it runs in; what is found in a cluster is kept by the engagement.
type watch struct {
	obj       client.Object
	inCluster func(*Cluster) bool
	mapFn     MapFunc
	filter    func(client.Object) bool
	preds     []predicate.TypedPredicate[client.Object]
	indexes   map[string]client.IndexerFunc
	// dynamic marks a watch started at run time in one cluster by WatchKind.
	dynamic bool
}

// engagement is the controller's watches in one cluster. Its maps are guarded by the
// controller's mu; starting serializes the starts of watches in the cluster, so that no
// controller-wide lock is held while talking to it.
type engagement struct {
	cl       *Cluster
	starting sync.Mutex
	running  map[*watch]*running
	// pending are the watches whose kind the cluster does not serve (yet), with that kind.
	pending map[*watch]schema.GroupVersionKind
	// crdHooked says CRD changes in the cluster retry the pending watches.
	crdHooked bool
	// tried is closed once every watch has been tried once in the cluster.
	tried     chan struct{}
	triedOnce sync.Once
}

// running is a watch started in one cluster: the informer it uses and its handler there.
type running struct {
	w        *watch
	gvk      schema.GroupVersionKind
	obj      client.Object
	informer cache.Informer
	reg      toolscache.ResourceEventHandlerRegistration
}

func newWatch(obj client.Object, opts []WatchOption) *watch {
	w := &watch{obj: obj}
	for _, o := range opts {
		o(w)
	}
	if w.mapFn == nil {
		w.mapFn = func(_ context.Context, cl *Cluster, o client.Object) []Request {
			return []Request{{Cluster: cl.Name, NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}}
		}
	}
	if w.filter != nil {
		w.preds = append(w.preds, predicate.NewPredicateFuncs(w.filter))
	}
	return w
}

// WatchOption changes a watch.
type WatchOption func(*watch)

// InClusters restricts a watch to the clusters for which pred is true.
func InClusters(pred func(*Cluster) bool) WatchOption {
	return func(w *watch) { w.inCluster = pred }
}

// MapTo turns each event into Requests with fn, instead of the object's own name.
func MapTo(fn MapFunc) WatchOption {
	return func(w *watch) { w.mapFn = fn }
}

// Filter drops events on objects for which keep is false.
func Filter(keep func(client.Object) bool) WatchOption {
	return func(w *watch) { w.filter = keep }
}

// Predicates drops events that any of preds rejects (for example
// predicate.GenerationChangedPredicate{} to ignore status-only updates).
func Predicates(preds ...predicate.Predicate) WatchOption {
	return func(w *watch) { w.preds = append(w.preds, preds...) }
}

// Index adds a field index to the cache of every cluster the watch runs in, so that
// reconcilers can List with client.MatchingFields{field: value} instead of scanning.
func Index(field string, extract client.IndexerFunc) WatchOption {
	return func(w *watch) {
		if w.indexes == nil {
			w.indexes = map[string]client.IndexerFunc{}
		}
		w.indexes[field] = extract
	}
}

// Retry pacing of DefaultRateLimiter.
const (
	retryFirst = 5 * time.Millisecond
	// RetryMax bounds the wait before a failed request is tried again. A space or cluster
	// that was away for a minute must see its requests again within seconds of coming back,
	// and no event may come to hurry them: controller-runtime's default bound of 1000s
	// would leave them waiting for minutes.
	RetryMax = 10 * time.Second
	// retryQPS and retryBurst bound the retries of all requests together; an outage fails
	// every request that comes, and their retries must not queue behind each other for
	// minutes when it ends.
	retryQPS   = 100
	retryBurst = 1000
)

// DefaultRateLimiter paces the retries of failed requests: per request, doubling from 5ms up
// to RetryMax; in all, retryQPS with bursts of retryBurst.
func DefaultRateLimiter() workqueue.TypedRateLimiter[Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[Request](retryFirst, RetryMax),
		&workqueue.TypedBucketRateLimiter[Request]{Limiter: rate.NewLimiter(rate.Limit(retryQPS), retryBurst)},
	)
}

// NewController makes a controller named name (unique in the process's metrics) whose
// Requests r reconciles; add it to a Manager to run it.
func NewController(name string, r Reconciler, opts ControllerOptions) (*Controller, error) {
	c := &Controller{
		name:    name,
		engaged: map[string]*engagement{},
		started: make(chan struct{}),
		warm:    make(chan struct{}),
	}
	limiter := opts.RateLimiter
	if limiter == nil {
		limiter = DefaultRateLimiter()
	}
	timeout := opts.ReconcileTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctrl, err := controller.NewTypedUnmanaged(name, controller.TypedOptions[Request]{
		MaxConcurrentReconciles: max(opts.Concurrency, 1),
		RateLimiter:             limiter,
		ReconciliationTimeout:   timeout,
		// A process may run the same controller again after stopping it (tests do).
		SkipNameValidation: ptr.To(true),
		LogConstructor:     c.logFor,
		Reconciler: reconcile.TypedFunc[Request](func(ctx context.Context, req Request) (reconcile.Result, error) {
			if err := c.waitWarm(ctx); err != nil {
				return reconcile.Result{}, err
			}
			return r.Reconcile(ctx, req)
		}),
	})
	if err != nil {
		return nil, err
	}
	c.ctrl = ctrl
	// This source gives the controller its own handle on the queue, and says when it started.
	// The watches in clusters feed the queue directly, each on its cluster's context.
	err = ctrl.Watch(source.TypedFunc[Request](func(_ context.Context, q workqueue.TypedRateLimitingInterface[Request]) error {
		c.mu.Lock()
		c.queue = q
		c.mu.Unlock()
		close(c.started)
		return nil
	}))
	return c, err
}

// warmUpBound limits how long the first reconciles wait for initial caches: a space that
// does not answer must not hold up the others.
const warmUpBound = time.Minute

// engageBound limits how long the first reconciles wait for the initial watches to start.
const engageBound = 5 * time.Second

// waitWarm waits until every source has added its initial clusters and the caches of the
// watches started in them have filled, or warmUpBound has passed.
func (c *Controller) waitWarm(ctx context.Context) error {
	if err := c.mgr.WaitForSources(ctx); err != nil {
		return err
	}
	c.warmOnce.Do(func() { go c.warmUp(c.mgr.context()) })
	select {
	case <-c.warm:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Controller) warmUp(ctx context.Context) {
	defer close(c.warm)
	c.mu.Lock()
	engagements := make([]*engagement, 0, len(c.engaged))
	for _, e := range c.engaged {
		engagements = append(engagements, e)
	}
	c.mu.Unlock()
	// First let the watches of the initial clusters start; a cluster that does not answer
	// within engageBound is left to catch up later.
	engageCtx, cancel := context.WithTimeout(ctx, engageBound)
	defer cancel()
	for _, e := range engagements {
		select {
		case <-e.tried:
		case <-engageCtx.Done():
		}
	}
	c.mu.Lock()
	var synced []func() bool
	for _, e := range engagements {
		for _, run := range e.running {
			synced = append(synced, run.reg.HasSynced)
		}
	}
	c.mu.Unlock()
	// A handler has synced when its informer has listed everything and has handed every
	// object to it, so the queue holds the whole initial picture.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, warmUpBound, true, func(context.Context) (bool, error) {
		for _, s := range synced {
			if !s() {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && ctx.Err() == nil {
		c.logFor(nil).Info("Starting before every cache has filled", "waited", warmUpBound)
	}
}

// logFor is the logger of the controller, or of one request.
func (c *Controller) logFor(req *Request) logr.Logger {
	if c.mgr == nil {
		return logr.Discard()
	}
	logger := c.mgr.opts.Logger.WithValues("controller", c.name)
	if req == nil {
		return logger
	}
	if cl, ok := c.mgr.Cluster(req.Cluster); ok {
		logger = logger.WithValues("cluster", cl.Path)
	} else {
		logger = logger.WithValues("cluster", req.Cluster)
	}
	if req.Namespace != "" {
		logger = logger.WithValues("namespace", req.Namespace)
	}
	return logger.WithValues("name", req.Name)
}

// Watch makes the controller watch objects of obj's kind in every cluster (or those allowed
// by InClusters). Call it before adding the controller to a Manager.
func (c *Controller) Watch(obj client.Object, opts ...WatchOption) error {
	w := newWatch(obj, opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mgr != nil {
		return fmt.Errorf("controller %s: add watches before adding the controller to a manager", c.name)
	}
	c.watches = append(c.watches, w)
	return nil
}

// Enqueue adds a Request to the queue directly.
func (c *Controller) Enqueue(req Request) {
	<-c.started
	c.queue.Add(req)
}

// engage starts the controller's watches in cluster cl, in the background. A watch whose kind
// cl does not serve waits for a CRD to bring it; one that fails otherwise (the space is still
// starting) is tried again with back-off. A cluster that does not answer holds up only its
// own watches; they all stop when the cluster is removed.
func (c *Controller) engage(cl *Cluster) {
	e := &engagement{
		cl:      cl,
		running: map[*watch]*running{},
		pending: map[*watch]schema.GroupVersionKind{},
		tried:   make(chan struct{}),
	}
	c.mu.Lock()
	c.engaged[cl.Name] = e
	c.mu.Unlock()
	go c.engageWithBackoff(e, time.Second, 0)
}

// crdRetries is how many times, with back-off, a watch whose CRD has just been established
// is tried again when the cluster's discovery does not show the kind yet.
const crdRetries = 4

// current reports whether e is still the controller's engagement in its cluster. Call it
// with c.mu held.
func (c *Controller) current(e *engagement) bool { return c.engaged[e.cl.Name] == e }

// engageWithBackoff tries to start the watches not started yet in e's cluster. Those that
// fail are tried again after delay (doubling up to 30s), except those whose kind is not
// served: a CRD event tries them again, and then up to crdRetries more times.
func (c *Controller) engageWithBackoff(e *engagement, delay time.Duration, crdRetries int) {
	defer e.triedOnce.Do(func() { close(e.tried) })
	ctx := e.cl.ctx
	select {
	case <-c.started:
	case <-ctx.Done():
		return
	}

	e.starting.Lock()
	defer e.starting.Unlock()
	c.mu.Lock()
	watches := append([]*watch(nil), c.watches...)
	c.mu.Unlock()
	retry, missing, hook := false, false, false
	for _, w := range watches {
		if w.inCluster != nil && !w.inCluster(e.cl) {
			continue
		}
		c.mu.Lock()
		done := !c.current(e) || e.running[w] != nil
		c.mu.Unlock()
		if done || ctx.Err() != nil {
			continue
		}
		run, gvk, err := c.startWatch(e.cl, w)
		c.mu.Lock()
		switch {
		case !c.current(e):
			// The cluster was removed meanwhile.
			if run != nil {
				defer c.stopWatch(ctx, e.cl, run)
			}
		case err == nil:
			delete(e.pending, w)
			e.running[w] = run
		case meta.IsNoMatchError(err):
			e.pending[w] = gvk
			hook = hook || !e.crdHooked
			e.crdHooked = true
			missing = true
		default:
			c.logFor(nil).V(2).Info("Cannot watch yet; trying again", "cluster", e.cl.Path, "kind", gvk.Kind, "err", err, "after", delay)
			retry = true
		}
		c.mu.Unlock()
	}
	if hook {
		e.cl.onCRDChange(func(crd *apiextensionsv1.CustomResourceDefinition) { c.crdChanged(e, crd) })
	}
	next := min(2*delay, 30*time.Second)
	switch {
	case ctx.Err() != nil:
	case missing && crdRetries > 0:
		// The CRD may be established a moment before discovery shows its kind.
		time.AfterFunc(delay, func() {
			e.cl.mapper.Reset()
			c.engageWithBackoff(e, next, crdRetries-1)
		})
	case retry:
		time.AfterFunc(delay, func() { c.engageWithBackoff(e, next, crdRetries) })
	}
}

// crdChanged retries the watches pending in e's cluster when a CRD of their group is
// established there.
func (c *Controller) crdChanged(e *engagement, crd *apiextensionsv1.CustomResourceDefinition) {
	if !crdEstablished(crd) {
		return
	}
	c.mu.Lock()
	waiting := false
	if c.current(e) {
		for _, gvk := range e.pending {
			waiting = waiting || gvk.Group == crd.Spec.Group
		}
	}
	c.mu.Unlock()
	if waiting {
		go c.engageWithBackoff(e, time.Second, crdRetries)
	}
}

// startWatch starts watching w's kind in cl, with a handler of this controller's on the
// cluster's shared informer of that kind. It returns the kind even when it fails.
func (c *Controller) startWatch(cl *Cluster, w *watch) (*running, schema.GroupVersionKind, error) {
	gvk, err := apiutil.GVKForObject(w.obj, cl.GetScheme())
	if err != nil {
		return nil, gvk, err
	}
	if _, err := cl.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if meta.IsNoMatchError(err) {
			cl.served.Store(gvk.GroupKind(), false)
		}
		return nil, gvk, err
	}
	cl.served.Store(gvk.GroupKind(), true)
	obj := w.obj.DeepCopyObject().(client.Object)
	informer, err := cl.useInformer(obj, gvk, w.indexes)
	if err != nil {
		return nil, gvk, err
	}
	reg, err := informer.AddEventHandler(c.handlerFor(cl, w))
	if err != nil {
		_ = cl.releaseInformer(cl.ctx, obj, gvk)
		return nil, gvk, fmt.Errorf("watching %s: %w", gvk.Kind, err)
	}
	return &running{w: w, gvk: gvk, obj: obj, informer: informer, reg: reg}, gvk, nil
}

// stopWatch removes the controller's handler of a watch, and the informer if no other
// watch uses it.
func (c *Controller) stopWatch(ctx context.Context, cl *Cluster, run *running) {
	if err := run.informer.RemoveEventHandler(run.reg); err != nil {
		c.logFor(nil).V(2).Info("Cannot remove an event handler", "cluster", cl.Path, "kind", run.gvk.Kind, "err", err)
	}
	if err := cl.releaseInformer(ctx, run.obj, run.gvk); err != nil {
		c.logFor(nil).Error(err, "Cannot drop an informer", "cluster", cl.Path, "kind", run.gvk.Kind)
	}
}

// handlerFor turns w's events in cl into Requests in the queue.
func (c *Controller) handlerFor(cl *Cluster, w *watch) toolscache.ResourceEventHandler {
	enqueue := func(objs ...client.Object) {
		for _, o := range objs {
			for _, req := range w.mapFn(cl.ctx, cl, o) {
				c.queue.Add(req)
			}
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			o, ok := obj.(client.Object)
			if !ok {
				return
			}
			ev := event.TypedCreateEvent[client.Object]{Object: o}
			for _, p := range w.preds {
				if !p.Create(ev) {
					return
				}
			}
			enqueue(o)
		},
		UpdateFunc: func(oldObj, obj any) {
			old, ok := oldObj.(client.Object)
			o, ok2 := obj.(client.Object)
			if !ok || !ok2 {
				return
			}
			ev := event.TypedUpdateEvent[client.Object]{ObjectOld: old, ObjectNew: o}
			for _, p := range w.preds {
				if !p.Update(ev) {
					return
				}
			}
			enqueue(old, o)
		},
		DeleteFunc: func(obj any) {
			tomb, unknown := obj.(toolscache.DeletedFinalStateUnknown)
			if unknown {
				obj = tomb.Obj
			}
			o, ok := obj.(client.Object)
			if !ok {
				return
			}
			ev := event.TypedDeleteEvent[client.Object]{Object: o, DeleteStateUnknown: unknown}
			for _, p := range w.preds {
				if !p.Delete(ev) {
					return
				}
			}
			enqueue(o)
		},
	}
}

// WatchKind starts, now, a watch of obj's kind in cluster cl alone (a kind chosen at run
// time, such as a workload's); obj may be an *unstructured.Unstructured with its GVK set.
// Watching a kind that is already watched there does nothing.
func (c *Controller) WatchKind(cl *Cluster, obj client.Object, opts ...WatchOption) error {
	select {
	case <-c.started:
	case <-cl.ctx.Done():
		return fmt.Errorf("cluster %s is removed", cl.Path)
	}
	gvk, err := apiutil.GVKForObject(obj, cl.GetScheme())
	if err != nil {
		return err
	}
	c.mu.Lock()
	e := c.engaged[cl.Name]
	c.mu.Unlock()
	if e == nil || e.cl != cl {
		return fmt.Errorf("cluster %s is not engaged", cl.Path)
	}
	e.starting.Lock()
	defer e.starting.Unlock()
	c.mu.Lock()
	for _, run := range e.running {
		if run.w.dynamic && run.gvk == gvk {
			c.mu.Unlock()
			return nil
		}
	}
	c.mu.Unlock()
	w := newWatch(obj, opts)
	w.dynamic = true
	run, _, err := c.startWatch(cl, w)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.current(e) {
		go c.stopWatch(cl.ctx, cl, run)
		return fmt.Errorf("cluster %s is removed", cl.Path)
	}
	e.running[w] = run
	return nil
}

// UnwatchKind stops a watch started by WatchKind. The cluster's informer of that kind is
// dropped only when no other watch (of any controller) uses it.
func (c *Controller) UnwatchKind(ctx context.Context, cl *Cluster, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, cl.GetScheme())
	if err != nil {
		return err
	}
	c.mu.Lock()
	var gone []*running
	if e := c.engaged[cl.Name]; e != nil && e.cl == cl {
		for w, run := range e.running {
			if w.dynamic && run.gvk == gvk {
				delete(e.running, w)
				gone = append(gone, run)
			}
		}
	}
	c.mu.Unlock()
	for _, run := range gone {
		c.stopWatch(ctx, cl, run)
	}
	return nil
}

// disengage stops the controller's watches in cl and replays every object they saw there
// as deleted. The manager has taken cl out of its clusters by then.
func (c *Controller) disengage(cl *Cluster) {
	c.mu.Lock()
	e := c.engaged[cl.Name]
	if e == nil || e.cl != cl {
		c.mu.Unlock()
		return
	}
	delete(c.engaged, cl.Name)
	runs := make([]*running, 0, len(e.running))
	for _, run := range e.running {
		runs = append(runs, run)
	}
	queue := c.queue
	c.mu.Unlock()
	for _, run := range runs {
		// The informers stop with the cluster; only this controller's handlers go now, so
		// that the objects of the other controllers stay readable for their replays.
		if err := run.informer.RemoveEventHandler(run.reg); err != nil {
			c.logFor(nil).V(2).Info("Cannot remove an event handler", "cluster", cl.Path, "kind", run.gvk.Kind, "err", err)
		}
		if queue == nil {
			continue
		}
		for _, obj := range c.cached(cl, run) {
			if run.w.filter != nil && !run.w.filter(obj) {
				continue
			}
			for _, req := range run.w.mapFn(cl.ctx, cl, obj) {
				queue.Add(req)
			}
		}
	}
}

// cached returns the objects in a watch's informer, without waiting for a cluster that does
// not answer: what an informer that has not synced holds is what its handlers were given.
func (c *Controller) cached(cl *Cluster, run *running) []client.Object {
	var items []any
	if s, ok := run.informer.(interface{ GetStore() toolscache.Store }); ok {
		items = s.GetStore().List()
	} else if run.informer.HasSynced() {
		list, err := listFor(cl, run.gvk)
		if err == nil {
			ctx, cancel := context.WithTimeout(cl.ctx, stopBound)
			err = cl.GetCache().List(ctx, list)
			cancel()
		}
		if err != nil {
			c.logFor(nil).Error(err, "Cannot list objects of a removed cluster", "cluster", cl.Path, "kind", run.gvk.Kind)
			return nil
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			items = append(items, o)
			return nil
		})
	}
	out := make([]client.Object, 0, len(items))
	for _, item := range items {
		if obj, ok := item.(client.Object); ok {
			out = append(out, obj)
		}
	}
	return out
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// listFor returns an empty list object for the kind.
func listFor(cl *Cluster, gvk schema.GroupVersionKind) (client.ObjectList, error) {
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	if !cl.GetScheme().Recognizes(listGVK) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(listGVK)
		return list, nil
	}
	obj, err := cl.GetScheme().New(listGVK)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", gvk.Kind+"List")
	}
	return list, nil
}
