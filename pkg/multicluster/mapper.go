package multicluster

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// mapperMaxAge is how old a cluster's discovery data must be before a kind they do not know
// makes the mapper fetch them again; CRD changes drop them at once.
const mapperMaxAge = 30 * time.Second

// discoveryTimeout bounds one discovery request, so that a cluster that stops answering
// cannot hold a lookup (which takes no context) for ever.
const discoveryTimeout = 30 * time.Second

// discoveryMapper is a cluster's RESTMapper. It answers from the discovery data it last
// fetched, and fetches them again (lazily, at the next lookup) only when the cluster's CRDs
// change (Reset, called by the cluster's CRD watch) or when it is asked for a kind it does
// not know and its data are older than mapperMaxAge (a kind served by an aggregated API, or
// a CRD in a cluster whose CRDs cannot be watched). So looking up a kind in a reconcile
// costs no round trip, and a kind that is not served costs at most one per mapperMaxAge.
type discoveryMapper struct {
	deferred *restmapper.DeferredDiscoveryRESTMapper
	// onMiss is told whenever a kind is not found, so that the cluster starts watching its
	// CRDs. It is set before the mapper is used.
	onMiss func()

	mu      sync.Mutex
	dropped time.Time // when the data were last dropped
}

var _ meta.ResettableRESTMapper = &discoveryMapper{}

func newDiscoveryMapper(cfg *rest.Config, httpClient *http.Client) (*discoveryMapper, error) {
	bounded := *httpClient
	bounded.Timeout = discoveryTimeout
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, &bounded)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &discoveryMapper{
		deferred: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		dropped:  time.Now(),
	}, nil
}

// Reset drops the discovery data; the next lookup fetches them.
func (m *discoveryMapper) Reset() {
	m.mu.Lock()
	m.dropped = time.Now()
	m.mu.Unlock()
	m.deferred.Reset()
}

// again reports whether a lookup that failed with err should be tried once more, after
// dropping the discovery data.
func (m *discoveryMapper) again(err error) bool {
	if !meta.IsNoMatchError(err) {
		return false
	}
	if m.onMiss != nil {
		m.onMiss()
	}
	m.mu.Lock()
	stale := time.Since(m.dropped) >= mapperMaxAge
	if stale {
		m.dropped = time.Now()
	}
	m.mu.Unlock()
	if stale {
		m.deferred.Reset()
	}
	return stale
}

// KindFor implements meta.RESTMapper.
func (m *discoveryMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	out, err := m.deferred.KindFor(resource)
	if m.again(err) {
		out, err = m.deferred.KindFor(resource)
	}
	return out, err
}

// KindsFor implements meta.RESTMapper.
func (m *discoveryMapper) KindsFor(resource schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	out, err := m.deferred.KindsFor(resource)
	if m.again(err) {
		out, err = m.deferred.KindsFor(resource)
	}
	return out, err
}

// ResourceFor implements meta.RESTMapper.
func (m *discoveryMapper) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	out, err := m.deferred.ResourceFor(input)
	if m.again(err) {
		out, err = m.deferred.ResourceFor(input)
	}
	return out, err
}

// ResourcesFor implements meta.RESTMapper.
func (m *discoveryMapper) ResourcesFor(input schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	out, err := m.deferred.ResourcesFor(input)
	if m.again(err) {
		out, err = m.deferred.ResourcesFor(input)
	}
	return out, err
}

// RESTMapping implements meta.RESTMapper.
func (m *discoveryMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	out, err := m.deferred.RESTMapping(gk, versions...)
	if m.again(err) {
		out, err = m.deferred.RESTMapping(gk, versions...)
	}
	return out, err
}

// RESTMappings implements meta.RESTMapper.
func (m *discoveryMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	out, err := m.deferred.RESTMappings(gk, versions...)
	if m.again(err) {
		out, err = m.deferred.RESTMappings(gk, versions...)
	}
	return out, err
}

// ResourceSingularizer implements meta.RESTMapper.
func (m *discoveryMapper) ResourceSingularizer(resource string) (string, error) {
	return m.deferred.ResourceSingularizer(resource)
}
