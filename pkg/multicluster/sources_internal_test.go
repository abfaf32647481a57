package multicluster

import (
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

// memorySet is a ClusterSet that only remembers what it was given.
type memorySet struct {
	mu       sync.Mutex
	clusters map[string]string
}

func (s *memorySet) AddCluster(name, path string, _ *rest.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[name] = path
	return nil
}

func (s *memorySet) RemoveCluster(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clusters, name)
}

// The worker handles the first Spaces while the source is still counting them: run under
// the race detector, this shows that the two never touch the same memory unguarded, and the
// source still says it has synced only once every Space with an ID is in.
func TestSpaceSourceCountsWhileTheWorkerRuns(t *testing.T) {
	const spacesListed = 400
	for round := range 10 {
		store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
		queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
		for i := range spacesListed {
			space := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%03d", i)}}
			if i%2 == 0 {
				space.Status.Cluster = fmt.Sprintf("id%03d", i)
			}
			if err := store.Add(space); err != nil {
				t.Fatal(err)
			}
			// As the informer's handler does, before the source has counted anything.
			queue.Add(space.Name)
		}
		set := &memorySet{clusters: map[string]string{}}
		r := &spaceReconciler{base: &rest.Config{Host: "https://spaces.example"}, clusters: set, store: store, added: map[string]string{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for r.next(queue) {
			}
		}()
		src := &SpaceSource{}
		src.markSynced(t.Context(), func() bool { return true }, r, queue)
		queue.ShutDown()
		<-done
		if !src.HasSynced() {
			t.Fatalf("round %d: the source did not sync", round)
		}
		set.mu.Lock()
		added := len(set.clusters)
		set.mu.Unlock()
		if added != spacesListed/2 {
			t.Fatalf("round %d: %d spaces added, want %d", round, added, spacesListed/2)
		}
	}
}
