package multicluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

// flakySet fails the first adds of one cluster.
type flakySet struct {
	multicluster.ClusterSet
	name  string
	fails int

	mu       sync.Mutex
	attempts int
}

func (s *flakySet) AddCluster(name, path string, cfg *rest.Config) error {
	if name == s.name {
		s.mu.Lock()
		s.attempts++
		failing := s.attempts <= s.fails
		s.mu.Unlock()
		if failing {
			return errors.New("cannot add the cluster now")
		}
	}
	return s.ClusterSet.AddCluster(name, path, cfg)
}

func (s *flakySet) tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// flakySource runs a source on a flakySet.
type flakySource struct {
	multicluster.Source
	set *flakySet
}

func (s *flakySource) Start(ctx context.Context, clusters multicluster.ClusterSet) error {
	s.set.ClusterSet = clusters
	return s.Source.Start(ctx, s.set)
}

// A space that cannot be added at first is added on a later try, and the source says it has
// synced only once it has been.
func TestSpaceSourceRetriesAddCluster(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	// A space is added once it has an ID, which it gets before its server starts.
	root := srv.Client(spaces.RootPath)
	space := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "flaky"}}
	if err := root.Create(t.Context(), space); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, "the space has an ID", func() bool {
		return root.Get(t.Context(), client.ObjectKeyFromObject(space), space) == nil && space.Status.Cluster != ""
	})
	id := space.Status.Cluster

	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	set := &flakySet{name: id, fails: 3}
	base := srv.Config(spaces.RootPath)
	base.Host = srv.BaseURL()
	mgr.AddSource(&flakySource{Source: &multicluster.SpaceSource{Base: base}, set: set})
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "the sources synced", mgr.SourcesSynced)
	if _, ok := mgr.Cluster(id); !ok {
		t.Fatalf("the sources synced without the space %s (tried %d times)", id, set.tries())
	}
	if set.tries() != set.fails+1 {
		t.Errorf("the space was tried %d times, want %d", set.tries(), set.fails+1)
	}
	if cl, ok := mgr.Cluster(spaces.RootID); !ok || cl.Path != spaces.RootPath {
		t.Errorf("the root space is missing")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
