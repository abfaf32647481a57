package multicluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
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
// is still there.
type SpaceSource struct {
	// Base is the client configuration of the space server's base URL.
	Base *rest.Config

	synced atomic.Bool
}

// Start implements Source.
func (s *SpaceSource) Start(ctx context.Context, clusters ClusterSet) error {
	rootConfig := spaces.ConfigFor(s.Base, spaces.RootPath)
	if err := clusters.AddCluster(spaces.RootID, spaces.RootPath, rootConfig); err != nil {
		return err
	}
	scheme := newSpaceScheme()
	c, err := cache.New(rootConfig, cache.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	informer, err := c.GetInformer(ctx, &spacev1alpha1.Space{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	var mu sync.Mutex
	added := map[string]string{} // Space name → ID
	apply := func(obj any) {
		space, ok := obj.(*spacev1alpha1.Space)
		if !ok {
			if tomb, isTomb := obj.(toolscache.DeletedFinalStateUnknown); isTomb {
				space, ok = tomb.Obj.(*spacev1alpha1.Space)
			}
			if !ok {
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		id := space.Status.Cluster
		gone := !space.DeletionTimestamp.IsZero() || space.Status.Phase == spacev1alpha1.SpacePhaseTerminating
		if old, ok := added[space.Name]; ok && (gone || old != id) {
			clusters.RemoveCluster(old)
			delete(added, space.Name)
		}
		if gone || id == "" || added[space.Name] == id {
			return
		}
		path := spaces.ChildPath(space.Name)
		if err := clusters.AddCluster(id, path, spaces.ConfigFor(s.Base, path)); err != nil {
			return
		}
		added[space.Name] = id
	}
	remove := func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		space, ok := obj.(*spacev1alpha1.Space)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if id, ok := added[space.Name]; ok {
			clusters.RemoveCluster(id)
			delete(added, space.Name)
		}
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
		DeleteFunc: remove,
	})
	if err != nil {
		return fmt.Errorf("watching spaces: %w", err)
	}
	go func() {
		if toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
			s.synced.Store(true)
		}
	}()
	return c.Start(ctx)
}

// HasSynced implements Source.
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
