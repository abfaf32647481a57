package multicluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
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
	// RateLimiter paces retries; controller-runtime's default when nil.
	RateLimiter workqueue.TypedRateLimiter[Request]
}

// Controller feeds Requests from watches in any number of clusters into one work queue.
type Controller struct {
	name string
	mgr  *Manager
	ctrl controller.TypedController[Request]

	mu      sync.Mutex
	watches []*watch
	// engaged records, per cluster, the watches started there; pending those waiting for
	// their kind to be served.
	engaged map[string]map[*watch]bool
	pending map[string]map[*watch]bool
	// crdWatched records the clusters whose CRDs are watched to retry pending watches.
	crdWatched map[string]bool
	// sources are the started watches, per cluster, for waiting on their first deliveries.
	sources map[string][]source.TypedSyncingSource[Request]
	// engaging serializes engagement per cluster; inflight counts engagements under way.
	engaging map[string]*sync.Mutex
	inflight sync.WaitGroup
	queue    workqueue.TypedRateLimitingInterface[Request]
	started  chan struct{}
	// warm is closed once the caches of the watches started with the initial clusters have
	// filled (or a bound has passed), so the first reconciles see whole pictures.
	warm     chan struct{}
	warmOnce sync.Once
}

type watch struct {
	obj       client.Object
	gvk       schema.GroupVersionKind
	inCluster func(*Cluster) bool
	mapFn     MapFunc
	filter    func(client.Object) bool
	preds     []predicate.TypedPredicate[client.Object]
	indexes   map[string]client.IndexerFunc
	// dynamic marks a watch started at run time in one cluster by WatchKind.
	dynamic bool
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

// NewController makes a controller named name (unique in the process's metrics) whose
// Requests r reconciles; add it to a Manager to run it.
func NewController(name string, r Reconciler, opts ControllerOptions) (*Controller, error) {
	c := &Controller{
		name:       name,
		engaged:    map[string]map[*watch]bool{},
		pending:    map[string]map[*watch]bool{},
		crdWatched: map[string]bool{},
		sources:    map[string][]source.TypedSyncingSource[Request]{},
		engaging:   map[string]*sync.Mutex{},
		started:    make(chan struct{}),
		warm:       make(chan struct{}),
	}
	timeout := opts.ReconcileTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctrl, err := controller.NewTypedUnmanaged(name, controller.TypedOptions[Request]{
		MaxConcurrentReconciles: max(opts.Concurrency, 1),
		RateLimiter:             opts.RateLimiter,
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
	c.warmOnce.Do(func() { go c.warmUp() })
	select {
	case <-c.warm:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Controller) warmUp() {
	defer close(c.warm)
	// First let the watches of the initial clusters start; a cluster that does not answer
	// within engageBound is left to catch up later.
	engaged := make(chan struct{})
	go func() {
		c.inflight.Wait()
		close(engaged)
	}()
	select {
	case <-engaged:
	case <-time.After(engageBound):
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmUpBound)
	defer cancel()
	c.mu.Lock()
	var sources []source.TypedSyncingSource[Request]
	for _, list := range c.sources {
		sources = append(sources, list...)
	}
	c.mu.Unlock()
	// A source has synced when its informer has listed everything and has handed every
	// object to the handler, so the queue holds the whole initial picture.
	for _, src := range sources {
		if err := src.WaitForSync(ctx); err != nil && ctx.Err() != nil {
			c.logFor(nil).Info("Starting before every cache has filled", "waited", warmUpBound)
			return
		}
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
// own watches.
func (c *Controller) engage(ctx context.Context, cl *Cluster) {
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		c.engageWithBackoff(ctx, cl, time.Second)
	}()
}

func (c *Controller) engageWithBackoff(ctx context.Context, cl *Cluster, delay time.Duration) {
	select {
	case <-c.started:
	case <-ctx.Done():
		return
	}
	c.mu.Lock()
	if c.engaged[cl.Name] == nil {
		c.engaged[cl.Name] = map[*watch]bool{}
		c.pending[cl.Name] = map[*watch]bool{}
		c.engaging[cl.Name] = &sync.Mutex{}
	}
	lock := c.engaging[cl.Name]
	c.mu.Unlock()

	// One engagement at a time per cluster; no controller-wide lock while talking to it.
	lock.Lock()
	defer lock.Unlock()
	retry := false
	for _, w := range c.watches {
		if w.inCluster != nil && !w.inCluster(cl) {
			continue
		}
		c.mu.Lock()
		done := c.engaged[cl.Name] == nil || c.engaged[cl.Name][w]
		c.mu.Unlock()
		if done || ctx.Err() != nil {
			continue
		}
		src, err := c.startWatch(cl, w)
		c.mu.Lock()
		switch {
		case c.engaged[cl.Name] == nil:
			// The cluster was removed meanwhile.
		case err == nil:
			delete(c.pending[cl.Name], w)
			c.engaged[cl.Name][w] = true
			c.sources[cl.Name] = append(c.sources[cl.Name], src)
		case meta.IsNoMatchError(err):
			c.pending[cl.Name][w] = true
			c.watchCRDsLocked(ctx, cl)
		default:
			c.logFor(nil).V(2).Info("Cannot watch yet; trying again", "cluster", cl.Path, "kind", w.gvk.Kind, "err", err, "after", delay)
			retry = true
		}
		c.mu.Unlock()
	}
	if retry && ctx.Err() == nil {
		c.inflight.Add(1)
		time.AfterFunc(delay, func() {
			defer c.inflight.Done()
			c.engageWithBackoff(ctx, cl, min(2*delay, 30*time.Second))
		})
	}
}

// startWatch starts watching w's kind in cl.
func (c *Controller) startWatch(cl *Cluster, w *watch) (source.TypedSyncingSource[Request], error) {
	gvk, err := apiutil.GVKForObject(w.obj, cl.GetScheme())
	if err != nil {
		return nil, err
	}
	w.gvk = gvk
	if _, err := cl.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if meta.IsNoMatchError(err) {
			cl.served.Store(gvk.GroupKind(), false)
		}
		return nil, err
	}
	cl.served.Store(gvk.GroupKind(), true)
	for field, extract := range w.indexes {
		if err := cl.GetFieldIndexer().IndexField(context.Background(), w.obj, field, extract); err != nil {
			return nil, fmt.Errorf("indexing %s by %s: %w", gvk.Kind, field, err)
		}
	}
	preds := append([]predicate.TypedPredicate[client.Object]{}, w.preds...)
	if w.filter != nil {
		preds = append(preds, predicate.NewPredicateFuncs(w.filter))
	}
	h := handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []Request {
		return w.mapFn(ctx, cl, obj)
	})
	src := source.TypedKind(cl.GetCache(), w.obj.DeepCopyObject().(client.Object), h, preds...)
	if err := c.ctrl.Watch(src); err != nil {
		return nil, err
	}
	return src, nil
}

// watchCRDsLocked retries cl's pending watches whenever one of its CRDs is established.
func (c *Controller) watchCRDsLocked(ctx context.Context, cl *Cluster) {
	if c.crdWatched[cl.Name] {
		return
	}
	c.crdWatched[cl.Name] = true
	go func() {
		informer, err := cl.GetCache().GetInformer(ctx, &apiextensionsv1.CustomResourceDefinition{})
		if err != nil {
			c.logFor(nil).Error(err, "Cannot watch CRDs; kinds missing now will not be picked up", "cluster", cl.Path)
			return
		}
		retry := func(obj any) {
			crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
			if !ok || !crdEstablished(crd) {
				return
			}
			c.mu.Lock()
			waiting := false
			for w := range c.pending[cl.Name] {
				waiting = waiting || w.gvk.Group == crd.Spec.Group
			}
			c.mu.Unlock()
			if waiting {
				c.engage(ctx, cl)
			}
		}
		_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: retry, UpdateFunc: func(_, obj any) { retry(obj) }})
		if err != nil {
			c.logFor(nil).Error(err, "Cannot watch CRDs", "cluster", cl.Path)
		}
	}()
}

// WatchKind starts, now, a watch of obj's kind in cluster cl alone (a kind chosen at run
// time, such as a workload's); obj may be an *unstructured.Unstructured with its GVK set.
// Watching a kind that is already watched there does nothing.
func (c *Controller) WatchKind(cl *Cluster, obj client.Object, opts ...WatchOption) error {
	<-c.started
	gvk, err := apiutil.GVKForObject(obj, cl.GetScheme())
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.engaged[cl.Name] == nil {
		c.mu.Unlock()
		return fmt.Errorf("cluster %s is not engaged", cl.Path)
	}
	for w := range c.engaged[cl.Name] {
		if w.gvk == gvk && w.dynamic {
			c.mu.Unlock()
			return nil
		}
	}
	c.mu.Unlock()
	w := newWatch(obj, opts)
	w.dynamic = true
	src, err := c.startWatch(cl, w)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.engaged[cl.Name] != nil {
		c.engaged[cl.Name][w] = true
		c.sources[cl.Name] = append(c.sources[cl.Name], src)
	}
	return nil
}

// UnwatchKind stops a watch started by WatchKind and drops its informer.
func (c *Controller) UnwatchKind(ctx context.Context, cl *Cluster, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, cl.GetScheme())
	if err != nil {
		return err
	}
	c.mu.Lock()
	for w := range c.engaged[cl.Name] {
		if w.gvk == gvk && w.dynamic {
			delete(c.engaged[cl.Name], w)
		}
	}
	c.mu.Unlock()
	return cl.GetCache().RemoveInformer(ctx, obj)
}

// disengage replays every object watched in cl as deleted, then forgets cl.
func (c *Controller) disengage(cl *Cluster) {
	c.mu.Lock()
	engaged := c.engaged[cl.Name]
	delete(c.engaged, cl.Name)
	delete(c.pending, cl.Name)
	delete(c.crdWatched, cl.Name)
	delete(c.sources, cl.Name)
	delete(c.engaging, cl.Name)
	queue := c.queue
	c.mu.Unlock()
	if queue == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for w := range engaged {
		list, err := listFor(cl, w.gvk)
		if err != nil {
			c.logFor(nil).Error(err, "Cannot list objects of a removed cluster", "cluster", cl.Path, "kind", w.gvk.Kind)
			continue
		}
		if err := cl.GetCache().List(ctx, list); err != nil {
			c.logFor(nil).Error(err, "Cannot list objects of a removed cluster", "cluster", cl.Path, "kind", w.gvk.Kind)
			continue
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			obj, ok := o.(client.Object)
			if !ok || (w.filter != nil && !w.filter(obj)) {
				return nil
			}
			for _, req := range w.mapFn(ctx, cl, obj) {
				queue.Add(req)
			}
			return nil
		})
	}
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
