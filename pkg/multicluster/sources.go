package multicluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// Source adds clusters to, and removes them from, a ClusterSet while it runs.
type Source interface {
	// Start runs the source until ctx ends.
	Start(ctx context.Context, clusters ClusterSet) error
	// HasSynced reports whether the initial clusters have been added.
	HasSynced() bool
}

// ClusterSet is what a Source changes; a Manager is one.
type ClusterSet interface {
	AddCluster(name, path string, cfg *rest.Config) error
	RemoveCluster(name string)
}

// StaticSource adds one cluster per context of a kubeconfig, named by the context.
type StaticSource struct {
	// Kubeconfig is the file; the usual loading rules (KUBECONFIG, ~/.kube/config) when empty.
	Kubeconfig string
	// Contexts are the contexts to add.
	Contexts []string

	synced atomic.Bool
}

// Start implements Source.
func (s *StaticSource) Start(ctx context.Context, clusters ClusterSet) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = s.Kubeconfig
	for _, name := range s.Contexts {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil {
			return fmt.Errorf("context %q: %w", name, err)
		}
		if err := clusters.AddCluster(name, name, cfg); err != nil {
			return err
		}
	}
	s.synced.Store(true)
	<-ctx.Done()
	return nil
}

// HasSynced implements Source.
func (s *StaticSource) HasSynced() bool { return s.synced.Load() }

// SpaceSource adds the root space and every space declared by a Space object in it, named by
// the space's ID (status.cluster) with its path, and removes a space when its Space is being
// deleted. A space is added as soon as it has an ID, Ready or not: a space that is restarting
// is still there. A space that cannot be added is tried again with back-off until it is: a
// space with an ID is never left out, for controllers would take it for gone.
type SpaceSource struct {
	// Base is the client configuration of the space server's base URL.
	Base *rest.Config

	synced atomic.Bool
}

// Back-off of a space that cannot be added.
const (
	spaceRetryFirst = 100 * time.Millisecond
	spaceRetryMax   = 30 * time.Second
)

// Start implements Source.
func (s *SpaceSource) Start(ctx context.Context, clusters ClusterSet) error {
	rootConfig := spaces.ConfigFor(s.Base, spaces.RootPath)
	if err := clusters.AddCluster(spaces.RootID, spaces.RootPath, rootConfig); err != nil {
		return err
	}
	c, err := cache.New(rootConfig, cache.Options{Scheme: newSpaceScheme()})
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	got, err := c.GetInformer(ctx, &spacev1alpha1.Space{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	// The source reads the Spaces the informer holds, whether it has synced or not.
	informer, ok := got.(toolscache.SharedIndexInformer)
	if !ok {
		return fmt.Errorf("watching spaces: informer %T has no store", got)
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](spaceRetryFirst, spaceRetryMax),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "space-source"})
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if space, ok := obj.(*spacev1alpha1.Space); ok {
			queue.Add(space.Name)
		}
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	r := &spaceReconciler{base: s.Base, clusters: clusters, store: informer.GetStore(), added: map[string]string{}}
	go s.markSynced(ctx, reg.HasSynced, r, queue)
	go func() {
		for r.next(queue) {
		}
	}()
	return c.Start(ctx)
}

// markSynced marks the source synced once every Space listed at first has been added (or
// found not to be added).
func (s *SpaceSource) markSynced(ctx context.Context, listed func() bool, r *spaceReconciler, queue workqueue.TypedRateLimitingInterface[string]) {
	if !toolscache.WaitForCacheSync(ctx.Done(), listed) {
		return
	}
	names := r.store.ListKeys()
	initial := make(map[string]bool, len(names))
	for _, name := range names {
		initial[name] = true
	}
	// From here on the map is the worker's, read and written only under r.mu.
	r.mu.Lock()
	r.initial = initial
	r.mu.Unlock()
	// Those handled before they were counted are handled again, which changes nothing.
	for _, name := range names {
		queue.Add(name)
	}
	_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.initial) == 0, nil
	})
	if ctx.Err() == nil {
		s.synced.Store(true)
	}
}

// spaceReconciler adds and removes the space of one Space object at a time.
type spaceReconciler struct {
	base     *rest.Config
	clusters ClusterSet
	store    toolscache.Store

	mu sync.Mutex
	// added maps a Space's name to the ID it was added with.
	added map[string]string
	// initial holds the Spaces listed at first that are not handled yet; nil before the
	// first list.
	initial map[string]bool
}

// next handles one Space name from the queue; it reports false once the queue shuts down.
func (r *spaceReconciler) next(queue workqueue.TypedRateLimitingInterface[string]) bool {
	name, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(name)
	if err := r.reconcile(name); err != nil {
		queue.AddRateLimited(name)
		return true
	}
	queue.Forget(name)
	r.mu.Lock()
	delete(r.initial, name)
	r.mu.Unlock()
	return true
}

func (r *spaceReconciler) reconcile(name string) error {
	id, want := "", false
	if obj, exists, err := r.store.GetByKey(name); err == nil && exists {
		if space, ok := obj.(*spacev1alpha1.Space); ok {
			gone := !space.DeletionTimestamp.IsZero() || space.Status.Phase == spacev1alpha1.SpacePhaseTerminating
			id, want = space.Status.Cluster, !gone && space.Status.Cluster != ""
		}
	}
	r.mu.Lock()
	old, had := r.added[name]
	r.mu.Unlock()
	if had && (!want || old != id) {
		r.clusters.RemoveCluster(old)
		r.mu.Lock()
		delete(r.added, name)
		r.mu.Unlock()
	}
	if !want || (had && old == id) {
		return nil
	}
	path := spaces.ChildPath(name)
	if err := r.clusters.AddCluster(id, path, spaces.ConfigFor(r.base, path)); err != nil {
		return fmt.Errorf("adding space %s: %w", path, err)
	}
	r.mu.Lock()
	r.added[name] = id
	r.mu.Unlock()
	return nil
}

// HasSynced implements Source: it is true once every Space with an ID that was there at
// first has been added.
func (s *SpaceSource) HasSynced() bool { return s.synced.Load() }

// ConfigSource adds clusters given directly by client configuration, named as given.
type ConfigSource struct {
	// Clusters are the clusters to add.
	Clusters []ConfigCluster

	synced atomic.Bool
}

// ConfigCluster is one cluster of a ConfigSource.
type ConfigCluster struct {
	Name   string
	Config *rest.Config
}

// Start implements Source.
func (s *ConfigSource) Start(ctx context.Context, clusters ClusterSet) error {
	for _, c := range s.Clusters {
		if err := clusters.AddCluster(c.Name, c.Name, c.Config); err != nil {
			return err
		}
	}
	s.synced.Store(true)
	<-ctx.Done()
	return nil
}

// HasSynced implements Source.
func (s *ConfigSource) HasSynced() bool { return s.synced.Load() }
