package multicluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
)

// stopBound limits how long stopping waits for what runs for a cluster, or for the
// manager's controllers and sources, to finish: a cluster that does not answer must not
// keep a process from exiting, nor RemoveCluster from returning.
const stopBound = 3 * time.Second

// retryBackoff paces the retries of what a cluster has not answered yet.
var retryBackoff = wait.Backoff{Duration: time.Second, Factor: 2, Cap: 30 * time.Second, Steps: math.MaxInt32}

// Cluster is one API endpoint the manager watches.
//
// Its client reads typed and unstructured objects from its informer cache. Its RESTMapper
// (GetRESTMapper) answers from discovery data fetched once and fetched again when the
// cluster's CRDs change, so lookups in reconciles cost no round trip.
//
// Everything the manager and its controllers run for the cluster (the cache, the watches,
// their retries) runs on the cluster's own context, which RemoveCluster ends.
type Cluster struct {
	cluster.Cluster
	// Name identifies the cluster in Requests: a space's ID, or a kubeconfig context name.
	Name string
	// Path is how people address it: a space's path, or the context name.
	Path string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	logger logr.Logger
	mapper *discoveryMapper
	// served records, for the kinds the controllers watch, whether this cluster serves them.
	served sync.Map // schema.GroupKind → bool

	mu sync.Mutex
	// informers counts the controllers' watches that use each informer of the cache, so
	// that an informer is dropped only once no watch uses it.
	informers map[informerKey]*informerUse

	// crdOnce starts the watch of the cluster's CRDs; crdHandlers are told of each change.
	// They have their own lock because a RESTMapper lookup, made under mu, may start it.
	crdOnce     sync.Once
	crdMu       sync.Mutex
	crdHandlers []func(*apiextensionsv1.CustomResourceDefinition)
}

// informerKey names one informer of a cache, which keeps typed, unstructured and metadata
// informers of a kind apart.
type informerKey struct {
	gvk  schema.GroupVersionKind
	form string
}

type informerUse struct {
	watches int
	indexes map[string]bool
}

func keyFor(obj client.Object, gvk schema.GroupVersionKind) informerKey {
	form := "typed"
	switch obj.(type) {
	case runtime.Unstructured:
		form = "unstructured"
	case *metav1.PartialObjectMetadata:
		form = "metadata"
	}
	return informerKey{gvk: gvk, form: form}
}

// ErrNotKnownYet says that whether a cluster serves a kind is not known yet: the watches of
// that kind could not be started there so far (the cluster may be starting).
var ErrNotKnownYet = errors.New("not known yet whether the cluster serves the kind")

// Serves reports whether the cluster serves obj's kind, as found by the controllers' watches
// of that kind, or ErrNotKnownYet. Asking this before listing saves a discovery round trip
// for every list of a kind a space does not have; never read "not known" as "not served".
func (c *Cluster) Serves(obj runtime.Object) (bool, error) {
	gvk, err := apiutil.GVKForObject(obj, c.GetScheme())
	if err != nil {
		return false, err
	}
	served, ok := c.served.Load(gvk.GroupKind())
	if !ok {
		return false, fmt.Errorf("%s in %s: %w", gvk.Kind, c.Path, ErrNotKnownYet)
	}
	return served.(bool), nil
}

// ServesAll reports whether the cluster serves every one of the kinds, as Serves does: false
// as soon as one is not served, an error (such as ErrNotKnownYet) as soon as one is unknown.
func (c *Cluster) ServesAll(objs ...runtime.Object) (bool, error) {
	for _, obj := range objs {
		served, err := c.Serves(obj)
		if err != nil || !served {
			return false, err
		}
	}
	return true, nil
}

// useInformer returns the cache's informer for obj (of kind gvk), with the given field
// indexes, and counts one more watch using it. It does not wait for the informer to sync.
func (c *Cluster) useInformer(obj client.Object, gvk schema.GroupVersionKind, indexes map[string]client.IndexerFunc) (cache.Informer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	informer, err := c.GetCache().GetInformer(c.ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
	}
	key := keyFor(obj, gvk)
	use := c.informers[key]
	if use == nil {
		use = &informerUse{indexes: map[string]bool{}}
		c.informers[key] = use
	}
	for field, extract := range indexes {
		if use.indexes[field] {
			continue
		}
		if err := c.GetFieldIndexer().IndexField(c.ctx, obj, field, extract); err != nil {
			return nil, fmt.Errorf("indexing %s by %s: %w", gvk.Kind, field, err)
		}
		use.indexes[field] = true
	}
	use.watches++
	return informer, nil
}

// releaseInformer counts one watch less using obj's informer, and drops the informer once
// no watch uses it.
func (c *Cluster) releaseInformer(ctx context.Context, obj client.Object, gvk schema.GroupVersionKind) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := keyFor(obj, gvk)
	use := c.informers[key]
	if use == nil {
		return nil
	}
	if use.watches--; use.watches > 0 {
		return nil
	}
	delete(c.informers, key)
	return c.GetCache().RemoveInformer(ctx, obj)
}

// onCRDChange calls fn whenever one of the cluster's CRDs is added, changed or deleted,
// after the cluster's RESTMapper has dropped what it knew.
func (c *Cluster) onCRDChange(fn func(*apiextensionsv1.CustomResourceDefinition)) {
	c.crdMu.Lock()
	c.crdHandlers = append(c.crdHandlers, fn)
	c.crdMu.Unlock()
	c.watchCRDs()
}

// watchCRDs starts, once, the watch of the cluster's CRDs that keeps its RESTMapper fresh.
// It is started only once a kind is missing, because some identities may not read CRDs
// (a syncer reads only its own mailbox upstream), and then they need not.
func (c *Cluster) watchCRDs() { c.crdOnce.Do(c.startCRDWatch) }

func (c *Cluster) startCRDWatch() {
	changed := func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
		if !ok {
			return
		}
		c.mapper.Reset()
		c.crdMu.Lock()
		handlers := append([]func(*apiextensionsv1.CustomResourceDefinition){}, c.crdHandlers...)
		c.crdMu.Unlock()
		for _, fn := range handlers {
			fn(crd)
		}
	}
	handlers := toolscache.ResourceEventHandlerFuncs{
		AddFunc: changed,
		UpdateFunc: func(old, obj any) {
			// Resyncs change nothing.
			if o, ok := old.(client.Object); ok {
				if n, ok := obj.(client.Object); ok && o.GetResourceVersion() == n.GetResourceVersion() {
					return
				}
			}
			changed(obj)
		},
		DeleteFunc: changed,
	}
	go func() {
		_ = retryBackoff.DelayFunc().Until(c.ctx, true, false, func(ctx context.Context) (bool, error) {
			informer, err := c.GetCache().GetInformer(ctx, &apiextensionsv1.CustomResourceDefinition{}, cache.BlockUntilSynced(false))
			if err == nil {
				_, err = informer.AddEventHandler(handlers)
			}
			if err != nil {
				c.logger.V(2).Info("Cannot watch CRDs yet; trying again", "err", err)
				return false, nil
			}
			return true, nil
		})
	}()
}

// Options configure a Manager.
type Options struct {
	// Scheme knows every type the controllers use.
	Scheme *runtime.Scheme
	// Logger is the manager's logger.
	Logger logr.Logger
	// Cache, when set, returns the cache options for a cluster (for example to restrict
	// what is cached); nil means the defaults.
	Cache func(name, path string) cache.Options
}

// Manager holds the clusters and runs the controllers and sources.
type Manager struct {
	opts Options

	mu          sync.Mutex
	ctx         context.Context // set once started; ends when Start returns
	clusters    map[string]*Cluster
	controllers []*Controller
	sources     []Source
	// synced is closed once every source has added its initial clusters; reconcilers wait
	// for it, so that no cluster looks gone merely because it has not been added yet.
	synced chan struct{}
}

// NewManager returns a manager; call Start to run it.
func NewManager(opts Options) (*Manager, error) {
	if opts.Scheme == nil {
		return nil, errors.New("multicluster: Options.Scheme is required")
	}
	// Clusters watch CRDs to learn when a pending kind becomes available.
	if err := apiextensionsv1.AddToScheme(opts.Scheme); err != nil {
		return nil, err
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	return &Manager{opts: opts, clusters: map[string]*Cluster{}, synced: make(chan struct{})}, nil
}

// Logger is the manager's logger.
func (m *Manager) Logger() logr.Logger { return m.opts.Logger }

// Scheme is the manager's scheme.
func (m *Manager) Scheme() *runtime.Scheme { return m.opts.Scheme }

// AddSource makes src add and remove clusters once the manager starts.
func (m *Manager) AddSource(src Source) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sources = append(m.sources, src)
}

// AddController makes the manager run c, in every cluster it has now or gets later.
func (m *Manager) AddController(c *Controller) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.mgr = m
	m.controllers = append(m.controllers, c)
}

// Cluster returns the cluster of the given name.
func (m *Manager) Cluster(name string) (*Cluster, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clusters[name]
	return c, ok
}

// ClusterByPath returns the cluster with the given path.
func (m *Manager) ClusterByPath(path string) (*Cluster, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.clusters {
		if c.Path == path {
			return c, true
		}
	}
	return nil, false
}

// Clusters returns every cluster, sorted by name.
func (m *Manager) Clusters() []*Cluster {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Cluster, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AddCluster adds a cluster and starts every controller's watches in it. Adding a cluster
// that is already there does nothing. It does not wait for the cluster to answer.
func (m *Manager) AddCluster(name, path string, cfg *rest.Config) error {
	m.mu.Lock()
	_, there := m.clusters[name]
	ctx := m.ctx
	m.mu.Unlock()
	switch {
	case there:
		return nil
	case ctx == nil || ctx.Err() != nil:
		return errors.New("multicluster: clusters can be added only while the manager runs")
	}

	logger := m.opts.Logger.WithValues("cluster", path)
	var mapper *discoveryMapper
	cl, err := cluster.New(cfg, func(o *cluster.Options) {
		o.Scheme = m.opts.Scheme
		o.Logger = logger
		if m.opts.Cache != nil {
			o.Cache = m.opts.Cache(name, path)
		}
		// No reconciler reads managedFields, and they are often the larger part of an object:
		// the caches keep objects without them unless a cluster's options say otherwise.
		if o.Cache.DefaultTransform == nil {
			o.Cache.DefaultTransform = cache.TransformStripManagedFields()
		}
		// Reads of unstructured objects, like typed ones, come from the informer cache.
		o.Client = client.Options{Cache: &client.CacheOptions{Unstructured: true}}
		o.MapperProvider = func(cfg *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
			var err error
			mapper, err = newDiscoveryMapper(cfg, httpClient)
			return mapper, err
		}
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", path, err)
	}
	clusterCtx, cancel := context.WithCancel(ctx)
	c := &Cluster{
		Cluster: cl, Name: name, Path: path,
		ctx: clusterCtx, cancel: cancel, done: make(chan struct{}), logger: logger, mapper: mapper,
		informers: map[informerKey]*informerUse{},
	}
	mapper.onMiss = c.watchCRDs

	m.mu.Lock()
	if _, ok := m.clusters[name]; ok {
		m.mu.Unlock()
		cancel()
		return nil
	}
	m.clusters[name] = c
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()

	go func() {
		defer close(c.done)
		if err := cl.Start(clusterCtx); err != nil {
			logger.Error(err, "Cluster stopped")
		}
	}()
	m.opts.Logger.V(2).Info("Added cluster", "name", name, "path", path)
	for _, ctrl := range controllers {
		ctrl.engage(c)
	}
	return nil
}

// RemoveCluster stops watching a cluster. The cluster is first taken out of the manager,
// then every object the controllers watched there is replayed to them as deleted: so a
// reconciler that asks for the cluster finds it gone, and cleans up what it made for it.
// It does not wait long for a cluster that does not answer.
func (m *Manager) RemoveCluster(name string) {
	m.mu.Lock()
	c, ok := m.clusters[name]
	delete(m.clusters, name)
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()
	if !ok {
		return
	}
	for _, ctrl := range controllers {
		ctrl.disengage(c)
	}
	c.stop(m.opts.Logger)
	m.opts.Logger.V(2).Info("Removed cluster", "name", name, "path", c.Path)
}

// stop ends what runs for the cluster and waits, at most stopBound, for it to finish.
func (c *Cluster) stop(logger logr.Logger) {
	c.cancel()
	timer := time.NewTimer(stopBound)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		logger.Info("Cluster has not stopped yet; leaving it to finish", "path", c.Path, "waited", stopBound)
	}
}

// Start runs the sources and controllers until ctx ends, or until one of them fails, and
// returns that failure. Reconcilers are called only once every source has added its initial
// clusters. Whichever way it returns, it first stops everything it started, waiting at most
// a few seconds for it (so it returns promptly even when no cluster answers).
func (m *Manager) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("multicluster: the manager is already started")
	}
	m.ctx = ctx
	sources := append([]Source(nil), m.sources...)
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()

	var running sync.WaitGroup
	errs := make(chan error, len(sources)+len(controllers))
	for _, c := range controllers {
		running.Go(func() {
			if err := c.ctrl.Start(ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", c.name, err)
			}
		})
	}
	for _, src := range sources {
		running.Go(func() {
			if err := src.Start(ctx, m); err != nil {
				errs <- fmt.Errorf("cluster source: %w", err)
			}
		})
	}
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		select {
		case err := <-errs:
			return false, err
		default:
		}
		for _, src := range sources {
			if !src.HasSynced() {
				return false, nil
			}
		}
		return true, nil
	})
	if err == nil {
		close(m.synced)
		m.opts.Logger.V(2).Info("Cluster sources synced", "clusters", len(m.Clusters()))
		select {
		case <-ctx.Done():
		case err = <-errs:
		}
	}
	if ctx.Err() != nil {
		// Asked to stop: not a failure.
		err = nil
	}
	cancel()
	m.stopAll(&running)
	return err
}

// stopAll waits, at most stopBound, for the controllers, the sources and the clusters to
// stop once the manager's context has ended.
func (m *Manager) stopAll(running *sync.WaitGroup) {
	finished := make(chan struct{})
	go func() {
		running.Wait()
		for _, c := range m.Clusters() {
			<-c.done
		}
		close(finished)
	}()
	timer := time.NewTimer(stopBound)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
		m.opts.Logger.Info("Not everything has stopped yet; leaving it to finish", "waited", stopBound)
	}
}

// SourcesSynced reports whether every source has added its initial clusters.
func (m *Manager) SourcesSynced() bool {
	select {
	case <-m.synced:
		return true
	default:
		return false
	}
}

// WaitForSources blocks until every source has added its initial clusters, or ctx ends.
func (m *Manager) WaitForSources(ctx context.Context) error {
	select {
	case <-m.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// context is the manager's context once started (ends when Start returns), or a context
// that has ended.
func (m *Manager) context() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return m.ctx
}
