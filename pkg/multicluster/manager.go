package multicluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
)

// Cluster is one API endpoint the manager watches.
type Cluster struct {
	cluster.Cluster
	// Name identifies the cluster in Requests: a space's ID, or a kubeconfig context name.
	Name string
	// Path is how people address it: a space's path, or the context name.
	Path string

	cancel context.CancelFunc
	done   chan struct{}
	// served records, for the kinds the controllers watch, whether this cluster serves them.
	served sync.Map // schema.GroupKind → bool
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
	ctx         context.Context // set once started
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
// that is already there does nothing.
func (m *Manager) AddCluster(name, path string, cfg *rest.Config) error {
	m.mu.Lock()
	if _, ok := m.clusters[name]; ok {
		m.mu.Unlock()
		return nil
	}
	ctx := m.ctx
	m.mu.Unlock()
	if ctx == nil {
		return errors.New("multicluster: clusters can be added only while the manager runs")
	}

	opts := []cluster.Option{func(o *cluster.Options) {
		o.Scheme = m.opts.Scheme
		o.Logger = m.opts.Logger.WithValues("cluster", path)
		if m.opts.Cache != nil {
			o.Cache = m.opts.Cache(name, path)
		}
	}}
	cl, err := cluster.New(cfg, opts...)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", path, err)
	}
	clusterCtx, cancel := context.WithCancel(ctx)
	c := &Cluster{Cluster: cl, Name: name, Path: path, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if err := cl.Start(clusterCtx); err != nil {
			m.opts.Logger.Error(err, "Cluster stopped", "cluster", path)
		}
	}()

	m.mu.Lock()
	if _, ok := m.clusters[name]; ok {
		m.mu.Unlock()
		cancel()
		return nil
	}
	m.clusters[name] = c
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()

	m.opts.Logger.V(2).Info("Added cluster", "name", name, "path", path)
	for _, ctrl := range controllers {
		ctrl.engage(clusterCtx, c)
	}
	return nil
}

// RemoveCluster stops watching a cluster. Every object the controllers watched there is first
// replayed to them as deleted.
func (m *Manager) RemoveCluster(name string) {
	m.mu.Lock()
	c, ok := m.clusters[name]
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()
	if !ok {
		return
	}
	for _, ctrl := range controllers {
		ctrl.disengage(c)
	}
	m.mu.Lock()
	delete(m.clusters, name)
	m.mu.Unlock()
	c.cancel()
	<-c.done
	m.opts.Logger.V(2).Info("Removed cluster", "name", name, "path", c.Path)
}

// Start runs the sources and controllers until ctx ends. Reconcilers are called only once
// every source has added its initial clusters.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("multicluster: the manager is already started")
	}
	m.ctx = ctx
	sources := append([]Source(nil), m.sources...)
	controllers := append([]*Controller(nil), m.controllers...)
	m.mu.Unlock()

	errs := make(chan error, len(sources)+len(controllers))
	for _, c := range controllers {
		go func() {
			if err := c.ctrl.Start(ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", c.name, err)
			}
		}()
	}
	for _, src := range sources {
		go func() {
			if err := src.Start(ctx, m); err != nil {
				errs <- fmt.Errorf("cluster source: %w", err)
			}
		}()
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
	for _, c := range m.Clusters() {
		c.cancel()
		<-c.done
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
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
