package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// copyState is what one cluster holds of one ConfigMap, and since when.
type copyState struct {
	present bool
	value   string // data[dataKey]
	at      time.Time
}

// copies follows, by watching each cluster, the ConfigMaps of the watched namespaces in every
// cluster, so that a benchmark learns when each copy arrived, changed or went without listing.
type copies struct {
	clusters   int
	namespaces map[string]bool

	mu     sync.Mutex
	state  map[string][]copyState // namespace/name → one entry per cluster
	notify chan struct{}          // closed and replaced on every change
}

// dataKey is the ConfigMap data key whose value the benchmark writes and awaits.
const dataKey = "v"

// watchCopies starts one informer per cluster on the ConfigMaps of the given namespaces,
// each with its own client, and waits until every one has listed.
func watchCopies(b *testing.B, clusters []*rest.Config, namespaces ...string) *copies {
	b.Helper()
	c := &copies{clusters: len(clusters), namespaces: map[string]bool{}, state: map[string][]copyState{}, notify: make(chan struct{})}
	for _, ns := range namespaces {
		c.namespaces[ns] = true
	}
	var synced []cache.InformerSynced
	for i, cfg := range clusters {
		cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
		require.NoError(b, err)
		informer := cache.NewSharedIndexInformer(
			cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", metav1.NamespaceAll, nilSelector()),
			&corev1.ConfigMap{}, 0, cache.Indexers{})
		_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.observe(i, obj, true) },
			UpdateFunc: func(_, obj any) { c.observe(i, obj, true) },
			DeleteFunc: func(obj any) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				c.observe(i, obj, false)
			},
		})
		require.NoError(b, err)
		go informer.Run(b.Context().Done())
		synced = append(synced, informer.HasSynced)
	}
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	require.True(b, cache.WaitForCacheSync(ctx.Done(), synced...), "the clusters' ConfigMap watches list")
	return c
}

func (c *copies) observe(cluster int, obj any, present bool) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || !c.namespaces[cm.Namespace] {
		return
	}
	now := time.Now()
	key := cm.Namespace + "/" + cm.Name
	value := ""
	if present {
		value = cm.Data[dataKey]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state[key]
	if st == nil {
		st = make([]copyState, c.clusters)
		c.state[key] = st
	}
	// Only a change of what the benchmark awaits moves the time: a later write of other fields
	// (labels, annotations) is not an arrival.
	if st[cluster].present != present || st[cluster].value != value {
		st[cluster] = copyState{present: present, value: value, at: now}
	}
	close(c.notify)
	c.notify = make(chan struct{})
}

// await waits until every cluster holds every key with data value value (or, when present is
// false, holds none of them) and returns when the last copy became so.
func (c *copies) await(ctx context.Context, keys []string, present bool, value string) (time.Time, error) {
	for {
		c.mu.Lock()
		done, last := true, time.Time{}
	check:
		for _, k := range keys {
			st := c.state[k]
			for i := range c.clusters {
				var s copyState
				if st != nil {
					s = st[i]
				}
				if s.present != present || (present && s.value != value) {
					done = false
					break check
				}
				if s.at.After(last) {
					last = s.at
				}
			}
		}
		ch := c.notify
		c.mu.Unlock()
		if done {
			return last, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("awaiting %d objects in %d clusters: %w", len(keys), c.clusters, ctx.Err())
		}
	}
}
