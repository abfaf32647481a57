package placement

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/combinedstatus"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

const (
	// FieldManager owns what the translator writes by server-side apply.
	FieldManager = "kubestellar-placement-translator"
	// indexSource indexes wrappers by wrapper.AnnotationSource.
	indexSource = "kubestellar.source"
	// indexIdentity indexes wrappers by mailbox and the identity of the object they carry
	// (identityKey), whatever space it comes from.
	indexIdentity = "kubestellar.identity"
)

// Options configure the placement translator.
type Options struct {
	// ESPWPath is the path of the core space, where the mailboxes are.
	ESPWPath string
	// Concurrency is the number of objects (and placements, and mailboxes) handled at once.
	Concurrency int
}

// Translator holds the translator's controllers and what they share.
type Translator struct {
	mgr      *multicluster.Manager
	espwPath string

	objects    *multicluster.Controller // per workload object: wrappers and reported state
	placements *multicluster.Controller // per placement: what to watch, placement status
	configs    *multicluster.Controller // per mailbox: its SyncerConfig
	namespaces *multicluster.Controller // per workload namespace: what is in it, again
	status     *multicluster.Controller // per placement: the counts per destination

	mu sync.Mutex
	// kinds holds, per space ID, the workload resources being watched there; a space is in it
	// once its watches have been set up.
	kinds map[string]map[schema.GroupResource]kind
	// discovery caches each space's API discovery; a CRD event in the space invalidates it.
	discovery map[string]discovery.CachedDiscoveryInterface
	// syncing serializes syncWatches per space ID.
	syncing map[string]*sync.Mutex
	// problems holds, per object, per placement, what went wrong delivering it.
	problems map[wrapper.ObjectRef]map[string]problem
	// selected holds, per object, the placements that select it.
	selected map[wrapper.ObjectRef]map[string]bool
	// singletons holds the objects whose reported state a selecting placement wants back:
	// only for those does a change to a wrapper's status concern the object.
	singletons map[wrapper.ObjectRef]bool
	// drifts holds, per object, per mailbox, the time of the last drift its syncer reported.
	drifts map[wrapper.ObjectRef]map[string]metav1.Time
	// statusWrites holds, per placement request, when its counts were last written.
	statusWrites map[string]time.Time
	// collectors holds the compiled StatusCollectors.
	collectors *combinedstatus.Cache
}

// kind is a watched workload resource.
type kind struct {
	gvk        schema.GroupVersionKind
	namespaced bool
}

var namespacesGR = schema.GroupResource{Resource: "namespaces"}

// Setup adds the placement translator's controllers to mgr.
func Setup(mgr *multicluster.Manager, opts Options) (*Translator, error) {
	t := &Translator{
		mgr: mgr, espwPath: opts.ESPWPath,
		kinds:      map[string]map[schema.GroupResource]kind{},
		discovery:  map[string]discovery.CachedDiscoveryInterface{},
		syncing:    map[string]*sync.Mutex{},
		problems:   map[wrapper.ObjectRef]map[string]problem{},
		selected:   map[wrapper.ObjectRef]map[string]bool{},
		singletons: map[wrapper.ObjectRef]bool{},
		drifts:     map[wrapper.ObjectRef]map[string]metav1.Time{},

		statusWrites: map[string]time.Time{},
		collectors:   combinedstatus.NewCache(),
	}
	var err error
	copts := multicluster.ControllerOptions{Concurrency: opts.Concurrency}
	if t.objects, err = multicluster.NewController("placement-translator", multicluster.ReconcilerFunc(t.reconcileObject), copts); err != nil {
		return nil, err
	}
	if t.placements, err = multicluster.NewController("placement-translator-placements", multicluster.ReconcilerFunc(t.reconcilePlacement), copts); err != nil {
		return nil, err
	}
	if t.configs, err = multicluster.NewController("placement-translator-syncerconfigs", multicluster.ReconcilerFunc(t.reconcileSyncerConfig), copts); err != nil {
		return nil, err
	}
	if t.namespaces, err = multicluster.NewController("placement-translator-namespaces", multicluster.ReconcilerFunc(t.reconcileNamespaceContents), copts); err != nil {
		return nil, err
	}
	if t.status, err = multicluster.NewController("placement-translator-status", multicluster.ReconcilerFunc(t.reconcileStatus), copts); err != nil {
		return nil, err
	}
	inESPW := multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Path == t.espwPath })
	notESPW := multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Path != t.espwPath })
	isWrapper := multicluster.Filter(func(o client.Object) bool { return o.GetAnnotations()[wrapper.AnnotationSource] != "" })
	isMailbox := multicluster.Filter(func(o client.Object) bool { return o.GetLabels()[mailbox.LabelMailbox] == "true" })

	// Objects: wrappers lead back to their source object; namespaces are always watched, as
	// they travel with what is in them; workload kinds are watched as placements need them.
	err = firstError(
		t.objects.Watch(&edgev2alpha1.WrappedObject{}, inESPW, isWrapper, multicluster.Predicates(t.wrapperConcernsObject()),
			multicluster.Index(indexSource, func(o client.Object) []string {
				if s := o.GetAnnotations()[wrapper.AnnotationSource]; s != "" {
					return []string{s}
				}
				return nil
			}),
			multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
				ref, err := wrapper.ParseObjectRef(o.GetAnnotations()[wrapper.AnnotationSource])
				if err != nil {
					return nil
				}
				return []multicluster.Request{requestFor(ref)}
			})),
		t.objects.Watch(&corev1.Namespace{}, notESPW, multicluster.MapTo(objectMapper(namespacesGR))),
		// What is in a namespace, when the namespace appears or its labels change.
		t.namespaces.Watch(&corev1.Namespace{}, notESPW, multicluster.Predicates(predicate.LabelChangedPredicate{})),

		// Placements: anything that changes what is selected or where it goes.
		t.placements.Watch(&edgev2alpha1.EdgePlacement{}),
		t.placements.Watch(&edgev2alpha1.SinglePlacementSlice{}),
		t.placements.Watch(&edgev2alpha1.Customizer{}, multicluster.MapTo(t.placementsOfSpace)),
		t.placements.Watch(&apiextensionsv1.CustomResourceDefinition{}, notESPW, multicluster.MapTo(t.crdChanged)),
		t.placements.Watch(&edgev2alpha1.Location{}, multicluster.MapTo(t.allPlacements)),

		// Status: the placement, its slice, and the wrappers of what it selects.
		t.status.Watch(&edgev2alpha1.EdgePlacement{}),
		t.status.Watch(&edgev2alpha1.SinglePlacementSlice{}),
		t.status.Watch(&edgev2alpha1.WrappedObject{}, inESPW, isWrapper, multicluster.Index(indexIdentity, identityKeys), multicluster.MapTo(t.placementsClaiming)),
		t.status.Watch(&edgev2alpha1.SyncerConfig{}, inESPW, multicluster.Predicates(syncerBack), multicluster.MapTo(t.placementsReaching)),
		// Combined status: the collectors placements name, and what was written from them.
		t.status.Watch(&edgev2alpha1.StatusCollector{}, notESPW, multicluster.MapTo(t.placementsNamingCollector)),
		t.status.Watch(&edgev2alpha1.CombinedStatus{}, notESPW, multicluster.MapTo(placementOfCombined)),

		// SyncerConfigs: a mailbox's wrappers, and the placements that reach it.
		t.configs.Watch(&corev1.Namespace{}, inESPW, isMailbox),
		t.configs.Watch(&edgev2alpha1.WrappedObject{}, inESPW, multicluster.Predicates(wrapperSpecChanged), multicluster.MapTo(func(_ context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
			return []multicluster.Request{{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
		})),
		t.configs.Watch(&edgev2alpha1.SyncerConfig{}, inESPW, multicluster.MapTo(func(_ context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
			return []multicluster.Request{{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
		})),
		t.configs.Watch(&edgev2alpha1.EdgePlacement{}, notESPW, multicluster.MapTo(t.allMailboxes)),
		t.configs.Watch(&edgev2alpha1.SinglePlacementSlice{}, notESPW, multicluster.MapTo(t.allMailboxes)),
	)
	if err != nil {
		return nil, err
	}
	mgr.AddController(t.objects)
	mgr.AddController(t.placements)
	mgr.AddController(t.configs)
	mgr.AddController(t.namespaces)
	mgr.AddController(t.status)
	return t, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// objectMapper maps an object of the resource to its own request.
func objectMapper(gr schema.GroupResource) multicluster.MapFunc {
	return func(_ context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
		return []multicluster.Request{requestFor(wrapper.ObjectRef{Space: cl.Name, GroupResource: gr, Namespace: o.GetNamespace(), Name: o.GetName()})}
	}
}

// placementsOfSpace maps an event in a space to every placement there.
func (t *Translator) placementsOfSpace(ctx context.Context, cl *multicluster.Cluster, _ client.Object) []multicluster.Request {
	return listPlacements(ctx, cl)
}

// crdChanged maps a CRD event in a space to every placement there, after invalidating the
// space's cached discovery: the resources it serves are what CRDs change.
func (t *Translator) crdChanged(ctx context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
	t.mu.Lock()
	d, ok := t.discovery[cl.Name]
	t.mu.Unlock()
	if ok {
		d.Invalidate()
	}
	return t.placementsOfSpace(ctx, cl, o)
}

// allPlacements maps an event to every placement in every space.
func (t *Translator) allPlacements(ctx context.Context, _ *multicluster.Cluster, _ client.Object) []multicluster.Request {
	var out []multicluster.Request
	for _, cl := range t.mgr.Clusters() {
		out = append(out, listPlacements(ctx, cl)...)
	}
	return out
}

func listPlacements(ctx context.Context, cl *multicluster.Cluster) []multicluster.Request {
	if served, err := cl.Serves(&edgev2alpha1.EdgePlacement{}); !served || err != nil {
		return nil
	}
	list := &edgev2alpha1.EdgePlacementList{}
	if err := cl.GetClient().List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]multicluster.Request, 0, len(list.Items))
	for _, ep := range list.Items {
		out = append(out, multicluster.Request{Cluster: cl.Name, NamespacedName: types.NamespacedName{Name: ep.Name}})
	}
	return out
}

// allMailboxes maps an event to every mailbox.
func (t *Translator) allMailboxes(ctx context.Context, _ *multicluster.Cluster, _ client.Object) []multicluster.Request {
	espw, ok := t.mgr.ClusterByPath(t.espwPath)
	if !ok {
		return nil
	}
	list := &corev1.NamespaceList{}
	if err := espw.GetClient().List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]multicluster.Request, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, multicluster.Request{Cluster: espw.Name, NamespacedName: types.NamespacedName{Name: ns.Name}})
	}
	return out
}

// watchesReady reports whether the space's workload watches have been set up.
func (t *Translator) watchesReady(space string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.kinds[space]
	return ok
}

// watchedKind returns the watched kind of a resource in a space.
func (t *Translator) watchedKind(space string, gr schema.GroupResource) (kind, bool) {
	if gr == namespacesGR {
		return kind{gvk: corev1.SchemeGroupVersion.WithKind("Namespace")}, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.kinds[space][gr]
	return k, ok
}

// watchedKinds returns the watched workload kinds of a space, namespaces included.
func (t *Translator) watchedKinds(space string) map[schema.GroupResource]kind {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[schema.GroupResource]kind{namespacesGR: {gvk: corev1.SchemeGroupVersion.WithKind("Namespace")}}
	for gr, k := range t.kinds[space] {
		out[gr] = k
	}
	return out
}

func (t *Translator) discoveryFor(cl *multicluster.Cluster) (discovery.CachedDiscoveryInterface, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.discovery[cl.Name]; ok {
		return d, nil
	}
	d, err := discovery.NewDiscoveryClientForConfig(cl.GetConfig())
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(d)
	t.discovery[cl.Name] = cached
	return cached, nil
}

// forgetSpace drops the watched kinds and the discovery kept for a space that has gone (its
// objects, replayed as deleted, take what was kept per object along).
func (t *Translator) forgetSpace(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.kinds, id)
	delete(t.discovery, id)
}

// syncLock is the lock that serializes syncWatches in one space.
func (t *Translator) syncLock(space string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.syncing[space]
	if !ok {
		l = &sync.Mutex{}
		t.syncing[space] = l
	}
	return l
}

// setProblems records what went wrong delivering an object, per placement, and reports
// whether that changed.
func (t *Translator) setProblems(ref wrapper.ObjectRef, problems map[string]problem) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if equality.Semantic.DeepEqual(t.problems[ref], problems) || (len(problems) == 0 && len(t.problems[ref]) == 0) {
		return false
	}
	keep(t.problems, ref, problems)
	return true
}

// keep stores v under k in m, or removes k when v is empty: what is remembered per object
// holds no entries for objects with nothing to remember.
func keep[K, E comparable, V any](m map[K]map[E]V, k K, v map[E]V) {
	if len(v) == 0 {
		delete(m, k)
	} else {
		m[k] = v
	}
}

// problem is what went wrong delivering an object for a placement.
type problem struct {
	// Reason is the Delivered reason it makes.
	Reason string
	// Message names the object, the destination and what happened, for Shown destinations.
	Message string
	// Shown is how many destinations Message names; More is how many others there are.
	Shown, More int
}

// text is the problem as the Delivered condition says it.
func (p problem) text() string {
	if p.More == 0 {
		return p.Message
	}
	return fmt.Sprintf("%s; and at %d more destinations", p.Message, p.More)
}

// problemsOf returns the problems recorded for a placement, sorted by message.
func (t *Translator) problemsOf(space, placement string) []problem {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []problem
	for ref, byPlacement := range t.problems {
		if p, ok := byPlacement[placement]; ok && ref.Space == space {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}

// executingCount formats the executing-count annotation.
func executingCount(n int) string { return strconv.Itoa(n) }

// wrapperConcernsObject passes the wrapper events that concern the object it carries: all
// but the changes to its status alone (the syncer's reports), unless they report drift or
// the object's reported state is wanted back. Reports come at the rate the destinations
// send them, and each would have every wrapper of the object compared with what it should be.
func (t *Translator) wrapperConcernsObject() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, cur, ok := updatedWrappers(e)
		if !ok || specChanged(old, cur) || !equality.Semantic.DeepEqual(old.Status.Drift, cur.Status.Drift) {
			return true
		}
		ref, err := wrapper.ParseObjectRef(cur.Annotations[wrapper.AnnotationSource])
		if err != nil {
			return false
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.singletons[ref]
	}}
}

// wrapperSpecChanged passes the wrapper events but the changes to its status alone: a
// mailbox's SyncerConfig follows what its wrappers carry, not what the syncer reports.
var wrapperSpecChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	old, cur, ok := updatedWrappers(e)
	return !ok || specChanged(old, cur)
}}

func updatedWrappers(e event.UpdateEvent) (old, cur *edgev2alpha1.WrappedObject, ok bool) {
	old, okOld := e.ObjectOld.(*edgev2alpha1.WrappedObject)
	cur, okNew := e.ObjectNew.(*edgev2alpha1.WrappedObject)
	return old, cur, okOld && okNew
}

// specChanged reports whether more of a wrapper changed than its status: what it carries,
// for whom, or that it is going.
func specChanged(old, cur *edgev2alpha1.WrappedObject) bool {
	return old.Generation != cur.Generation || !cur.DeletionTimestamp.IsZero() ||
		!maps.Equal(old.Labels, cur.Labels) || !maps.Equal(old.Annotations, cur.Annotations)
}

// setSingleton records whether the object's reported state is wanted back.
func (t *Translator) setSingleton(ref wrapper.ObjectRef, singleton bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if singleton {
		t.singletons[ref] = true
	} else {
		delete(t.singletons, ref)
	}
}
