package combinedstatus

import (
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// Cache holds compiled collectors, compiling each collector generation once. It is safe for
// concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

// cacheKey names a collector generation; space keeps collectors of different workspaces
// apart.
type cacheKey struct {
	space, name string
	generation  int64
}

type cacheEntry struct {
	collector *Collector
	errs      field.ErrorList
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{entries: map[cacheKey]cacheEntry{}}
}

// Get returns the compiled form of the collector, compiling it when this generation was not
// seen before; entries of older generations of the same collector are dropped.
func (c *Cache) Get(space string, sc *edgev2alpha1.StatusCollector) (*Collector, field.ErrorList) {
	key := cacheKey{space: space, name: sc.Name, generation: sc.Generation}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return e.collector, e.errs
	}
	col, errs := Compile(&sc.Spec)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.space == space && k.name == sc.Name && k.generation != sc.Generation {
			delete(c.entries, k)
		}
	}
	c.entries[key] = cacheEntry{collector: col, errs: errs}
	return col, errs
}

// Forget drops every entry of the named collector, for a collector that was deleted.
func (c *Cache) Forget(space, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.space == space && k.name == name {
			delete(c.entries, k)
		}
	}
}
