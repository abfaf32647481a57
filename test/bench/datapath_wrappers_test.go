package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// wrappers follows, through a watch on the core space, when the wrapper of each workload
// object first appeared in each mailbox, so that a step's time can be split there: the
// translator's part before, the syncers' after.
type wrappers struct {
	mu    sync.Mutex
	first map[string]map[string]time.Time // namespace/name of the workload object → mailbox → first seen
}

// watchWrappers starts the watch, with a client of its own, and waits until it has listed. It
// watches metadata only: the annotations say what each wrapper carries.
func watchWrappers(b *testing.B, cfg *rest.Config) *wrappers {
	b.Helper()
	w := &wrappers{first: map[string]map[string]time.Time{}}
	mc, err := metadata.NewForConfig(rest.CopyConfig(cfg))
	require.NoError(b, err)
	f := metadatainformer.NewSharedInformerFactory(mc, 0)
	inf := f.ForResource(schema.GroupVersionResource{Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "wrappedobjects"}).Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.observe(obj) },
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	})
	require.NoError(b, err)
	go inf.Run(b.Context().Done())
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	require.True(b, cache.WaitForCacheSync(ctx.Done(), inf.HasSynced), "the core space's wrapper watch lists")
	return w
}

func (w *wrappers) observe(obj any) {
	u, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	ref, err := wrapper.ParseObjectRef(u.GetAnnotations()[wrapper.AnnotationSource])
	if err != nil {
		return
	}
	key := ref.Namespace + "/" + ref.Name
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first[key] == nil {
		w.first[key] = map[string]time.Time{}
	}
	if _, seen := w.first[key][u.GetNamespace()]; !seen {
		w.first[key][u.GetNamespace()] = now
	}
}

// lastArrival is when the wrapper of key had appeared in all of n mailboxes; false until then.
func (w *wrappers) lastArrival(key string, n int) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.first[key]
	if len(m) < n {
		return time.Time{}, false
	}
	var last time.Time
	for _, t := range m {
		if t.After(last) {
			last = t
		}
	}
	return last, true
}

// allBy is, once at least n wrappers have appeared (over all objects and mailboxes), when the
// last of them did; false until then.
func (w *wrappers) allBy(n int) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	count, last := 0, time.Time{}
	for _, boxes := range w.first {
		for _, t := range boxes {
			count++
			if t.After(last) {
				last = t
			}
		}
	}
	return last, count >= n
}
