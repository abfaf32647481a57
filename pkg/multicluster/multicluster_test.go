package multicluster_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/test/framework"
)

// seen is one call of a reconciler: the request, and whether the manager had the cluster
// at that time.
type seen struct {
	req     multicluster.Request
	present bool
}

// recorder is a reconciler that records what it is called with.
type recorder struct {
	mgr *multicluster.Manager
	// also, when set, is called in every reconcile.
	also func(ctx context.Context, req multicluster.Request)

	mu  sync.Mutex
	log []seen
}

func (r *recorder) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	_, present := r.mgr.Cluster(req.Cluster)
	if r.also != nil {
		r.also(ctx, req)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, seen{req: req, present: present})
	return reconcile.Result{}, nil
}

// mark is a position in the log.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// since returns the calls from mark on.
func (r *recorder) since(mark int) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.log[mark:]...)
}

// sawAll reports whether, from mark on, every one of names in cluster was reconciled with
// the cluster present (or absent, as present says).
func (r *recorder) sawAll(mark int, cluster, namespace string, names []string, present bool) bool {
	got := map[string]bool{}
	for _, s := range r.since(mark) {
		if s.req.Cluster == cluster && s.req.Namespace == namespace && s.present == present {
			got[s.req.Name] = true
		}
	}
	for _, n := range names {
		if !got[n] {
			return false
		}
	}
	return true
}

func newScheme(t *testing.T) *k8sruntime.Scheme {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// newManager returns a manager with one controller reconciling the ConfigMaps of namespace
// in every cluster, and the controller's recorder.
func newManager(t *testing.T, name, namespace string, opts ...multicluster.WatchOption) (*multicluster.Manager, *multicluster.Controller, *recorder) {
	t.Helper()
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{mgr: mgr}
	c, err := multicluster.NewController(name, rec, multicluster.ControllerOptions{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, multicluster.Filter(func(o client.Object) bool { return o.GetNamespace() == namespace }))
	if err := c.Watch(&corev1.ConfigMap{}, opts...); err != nil {
		t.Fatal(err)
	}
	mgr.AddController(c)
	return mgr, c, rec
}

// run starts mgr and returns a function that stops it and returns what Start returned; the
// test fails if Start does not return within a bound after its context ends.
func run(t *testing.T, mgr *multicluster.Manager) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				result = errors.New("Manager.Start did not return within 20s of its context ending")
				t.Error(result)
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func kubeClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// makeNamespace creates namespace ns holding n ConfigMaps, and returns their names.
func makeNamespace(t *testing.T, c client.Client, ns string, n int) []string {
	t.Helper()
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range n {
		name := "cm-" + strconv.Itoa(i)
		createConfigMap(t, c, ns, name)
		names = append(names, name)
	}
	return names
}

func createConfigMap(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"v": "0"}}
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
}

// The package's tests share two API servers; each test uses namespaces of its own.
func TestMulticluster(t *testing.T) {
	ctrllog.SetLogger(logr.Discard())
	a := framework.StartAPIServer(t)
	b := framework.StartAPIServer(t)
	t.Run("RemoveClusterReplaysObjectsAsGone", func(t *testing.T) { testRemoveClusterReplays(t, a, b) })
	t.Run("UnreachableClusters", func(t *testing.T) { testUnreachable(t, a) })
	t.Run("UnwatchKindKeepsOtherControllersWatch", func(t *testing.T) { testUnwatchKind(t, a) })
	t.Run("RestartSeesWholePicture", func(t *testing.T) { testRestart(t, a, b) })
	t.Run("StartStopsWhatItStartedOnError", func(t *testing.T) { testStartError(t, a) })
	t.Run("ReadsFromCaches", func(t *testing.T) { testReadsFromCaches(t, b) })
}

// Clusters come and go while objects change: when a cluster is removed, every object of it
// is reconciled once more, and then the manager says the cluster is gone.
func testRemoveClusterReplays(t *testing.T, a, b *framework.APIServer) {
	const ns = "replay"
	ca, cb := kubeClient(t, a.Config), kubeClient(t, b.Config)
	namesA := makeNamespace(t, ca, ns, 60)
	namesB := makeNamespace(t, cb, ns, 10)

	// While a cluster is removed, mapping an object takes a moment (as a MapFunc reading a
	// cache may), so that the workers run while the objects are replayed.
	var removing atomic.Bool
	slowMap := multicluster.MapTo(func(_ context.Context, cl *multicluster.Cluster, o client.Object) []multicluster.Request {
		if removing.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		return []multicluster.Request{{Cluster: cl.Name, NamespacedName: client.ObjectKeyFromObject(o)}}
	})
	mgr, _, rec := newManager(t, "replay", ns, slowMap)
	mgr.AddSource(&multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{{Name: "a", Config: a.Config}, {Name: "b", Config: b.Config}}})
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "every object reconciled", func() bool {
		return rec.sawAll(0, "a", ns, namesA, true) && rec.sawAll(0, "b", ns, namesB, true)
	})

	// The same server under a third name, added while the manager runs.
	if err := mgr.AddCluster("a2", "a2", a.Config); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, "the objects of an added cluster reconciled", func() bool {
		return rec.sawAll(0, "a2", ns, namesA, true)
	})

	// Objects keep changing in the clusters while one is removed.
	changing, stopChanging := context.WithCancel(t.Context())
	var writes sync.WaitGroup
	for _, c := range []client.Client{ca, cb} {
		writes.Go(func() {
			for i := 0; changing.Err() == nil; i++ {
				cm := &corev1.ConfigMap{}
				if err := c.Get(changing, types.NamespacedName{Namespace: ns, Name: "cm-" + strconv.Itoa(i%10)}, cm); err != nil {
					continue
				}
				cm.Data["v"] = strconv.Itoa(i)
				_ = c.Update(changing, cm)
			}
		})
	}
	defer func() { stopChanging(); writes.Wait() }()

	mark := rec.mark()
	removing.Store(true)
	mgr.RemoveCluster("a")
	removing.Store(false)
	if _, ok := mgr.Cluster("a"); ok {
		t.Fatal("the manager still has a removed cluster")
	}
	framework.Eventually(t, time.Minute, "every object of the removed cluster reconciled with the cluster gone", func() bool {
		return rec.sawAll(mark, "a", ns, namesA, false)
	})

	// The other clusters, one of them the same server, go on.
	mark = rec.mark()
	createConfigMap(t, ca, ns, "late")
	framework.Eventually(t, time.Minute, "a new object in a cluster that stayed reconciled", func() bool {
		return rec.sawAll(mark, "a2", ns, []string{"late"}, true)
	})
	for _, s := range rec.since(mark) {
		if s.req.Cluster == "a" && s.req.Name == "late" {
			t.Errorf("an object created after its cluster was removed was reconciled there: %v", s.req)
		}
	}

	// A removed cluster added again is seen whole again.
	mark = rec.mark()
	if err := mgr.AddCluster("a", "a", a.Config); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, "every object of a cluster added again reconciled", func() bool {
		return rec.sawAll(mark, "a", ns, append(namesA, "late"), true)
	})
	stopChanging()
	writes.Wait()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// goroutines counts the goroutines once the count has settled a little.
func goroutines() int {
	runtime.GC()
	return runtime.NumGoroutine()
}

// Clusters that do not answer (a closed port, a port that accepts connections and never
// answers, an identity that may not list what is watched) are removed promptly and leave no
// goroutine behind; a manager with only such clusters stops promptly.
func testUnreachable(t *testing.T, a *framework.APIServer) {
	const ns = "unreachable"
	ca := kubeClient(t, a.Config)
	names := makeNamespace(t, ca, ns, 3)

	// Closed: a port nothing listens on any more.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "https://" + l.Addr().String()
	_ = l.Close()
	// Silent: accepts connections, never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	held.Go(func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, conn)
			connsMu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = silent.Close()
		held.Wait()
		connsMu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		connsMu.Unlock()
	})
	// Forbidden: the server answers discovery, but the informers never fill.
	nobody, err := a.CA.Issue(pki.CertSpec{CommonName: "nobody", Usage: pki.ClientUsage})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := rest.CopyConfig(a.Config)
	forbidden.CertData, forbidden.KeyData = nobody.CertPEM, nobody.KeyPEM
	unreachable := map[string]*rest.Config{
		"closed":    {Host: closedURL, TLSClientConfig: a.Config.TLSClientConfig},
		"silent":    {Host: "https://" + silent.Addr().String(), TLSClientConfig: a.Config.TLSClientConfig},
		"forbidden": forbidden,
	}

	// Two controllers, several kinds each: what leaks, leaks per watch.
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{mgr: mgr}
	for _, name := range []string{"unreachable-1", "unreachable-2"} {
		c, err := multicluster.NewController(name, rec, multicluster.ControllerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		inNS := multicluster.Filter(func(o client.Object) bool { return o.GetNamespace() == ns })
		for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}, &corev1.Service{}, &corev1.ServiceAccount{}, &corev1.Pod{}} {
			if err := c.Watch(obj, inNS); err != nil {
				t.Fatal(err)
			}
		}
		mgr.AddController(c)
	}
	mgr.AddSource(&multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{{Name: "a", Config: a.Config}}})
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "the reachable cluster's objects reconciled", func() bool {
		return rec.sawAll(0, "a", ns, names, true)
	})
	before := goroutines()

	for name, cfg := range unreachable {
		if err := mgr.AddCluster(name, name, cfg); err != nil {
			t.Fatal(err)
		}
	}
	framework.Eventually(t, time.Minute, "the watches started where discovery answers", func() bool {
		cl, ok := mgr.Cluster("forbidden")
		if !ok {
			return false
		}
		served, err := cl.Serves(&corev1.Pod{})
		return err == nil && served
	})
	for name := range unreachable {
		removed := make(chan struct{})
		go func() {
			mgr.RemoveCluster(name)
			close(removed)
		}()
		select {
		case <-removed:
		case <-time.After(20 * time.Second):
			t.Fatalf("RemoveCluster(%s) did not return within 20s", name)
		}
		if _, ok := mgr.Cluster(name); ok {
			t.Fatalf("cluster %s is still there after RemoveCluster", name)
		}
	}
	// Connections being set up to the silent port end with the TLS handshake timeout.
	const tolerance = 6
	err = waitFor(30*time.Second, func() bool { return goroutines() <= before+tolerance })
	if err != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines before adding the unreachable clusters: %d, after removing them: %d (tolerance %d)\n%s",
			before, goroutines(), tolerance, buf[:runtime.Stack(buf, true)])
	}
	// The reachable cluster is not disturbed.
	mark := rec.mark()
	createConfigMap(t, ca, ns, "after")
	framework.Eventually(t, time.Minute, "the reachable cluster still watched", func() bool {
		return rec.sawAll(mark, "a", ns, []string{"after"}, true)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A manager none of whose clusters answers stops promptly (run fails the test if not).
	lost, _, _ := newManager(t, "unreachable-only", ns)
	var clusters []multicluster.ConfigCluster
	for name, cfg := range unreachable {
		clusters = append(clusters, multicluster.ConfigCluster{Name: name, Config: cfg})
	}
	lost.AddSource(&multicluster.ConfigSource{Clusters: clusters})
	stop = run(t, lost)
	framework.Eventually(t, time.Minute, "the unreachable clusters added", func() bool { return lost.SourcesSynced() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	return wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
}

// One controller's UnwatchKind leaves another controller's watch of the same kind in the
// same cluster working.
func testUnwatchKind(t *testing.T, a *framework.APIServer) {
	const ns = "unwatch"
	ca := kubeClient(t, a.Config)
	makeNamespace(t, ca, ns, 0)
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	recX, recY := &recorder{mgr: mgr}, &recorder{mgr: mgr}
	x, err := multicluster.NewController("unwatch-x", recX, multicluster.ControllerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	y, err := multicluster.NewController("unwatch-y", recY, multicluster.ControllerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mgr.AddController(x)
	mgr.AddController(y)
	mgr.AddSource(&multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{{Name: "a", Config: a.Config}}})
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "sources synced", mgr.SourcesSynced)
	cl, _ := mgr.Cluster("a")

	configMaps := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		return u
	}
	inNS := multicluster.Filter(func(o client.Object) bool { return o.GetNamespace() == ns })
	for _, c := range []*multicluster.Controller{x, y} {
		if err := c.WatchKind(cl, configMaps(), inNS); err != nil {
			t.Fatal(err)
		}
	}
	createConfigMap(t, ca, ns, "first")
	framework.Eventually(t, time.Minute, "both controllers see a new object", func() bool {
		return recX.sawAll(0, "a", ns, []string{"first"}, true) && recY.sawAll(0, "a", ns, []string{"first"}, true)
	})

	if err := x.UnwatchKind(t.Context(), cl, configMaps()); err != nil {
		t.Fatal(err)
	}
	mark := recY.mark()
	createConfigMap(t, ca, ns, "second")
	framework.Eventually(t, time.Minute, "the controller that still watches sees a new object", func() bool {
		return recY.sawAll(mark, "a", ns, []string{"second"}, true)
	})
	// Its reads from the cluster's cache stay current too.
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := cl.GetClient().List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Errorf("the cache holds %d ConfigMaps, want 2", len(list.Items))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A manager started again (a new one, on the same servers) sees the whole picture again,
// changes made while none ran included, and its first reconciles find the caches full.
func testRestart(t *testing.T, a, b *framework.APIServer) {
	const ns = "restart"
	ca, cb := kubeClient(t, a.Config), kubeClient(t, b.Config)
	namesA := makeNamespace(t, ca, ns, 8)
	namesB := makeNamespace(t, cb, ns, 8)
	sources := func() multicluster.Source {
		return &multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{{Name: "a", Config: a.Config}, {Name: "b", Config: b.Config}}}
	}

	mgr, _, rec := newManager(t, "restart", ns)
	mgr.AddSource(sources())
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "every object reconciled", func() bool {
		return rec.sawAll(0, "a", ns, namesA, true) && rec.sawAll(0, "b", ns, namesB, true)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Changes while nothing runs.
	createConfigMap(t, ca, ns, "while-stopped")
	namesA = append(namesA, "while-stopped")
	if err := cb.Delete(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: namesB[0]}}); err != nil {
		t.Fatal(err)
	}
	namesB = namesB[1:]

	mgr, _, rec = newManager(t, "restart", ns)
	var mu sync.Mutex
	firstCounts := map[string]int{}
	rec.also = func(ctx context.Context, req multicluster.Request) {
		cl, ok := mgr.Cluster(req.Cluster)
		if !ok {
			return
		}
		list := &corev1.ConfigMapList{}
		if err := cl.GetClient().List(ctx, list, client.InNamespace(ns)); err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := firstCounts[req.Cluster]; !ok {
			firstCounts[req.Cluster] = len(list.Items)
		}
	}
	mgr.AddSource(sources())
	stop = run(t, mgr)
	framework.Eventually(t, time.Minute, "every object reconciled after the restart", func() bool {
		return rec.sawAll(0, "a", ns, namesA, true) && rec.sawAll(0, "b", ns, namesB, true)
	})
	mu.Lock()
	if firstCounts["a"] != len(namesA) || firstCounts["b"] != len(namesB) {
		t.Errorf("the first reconciles saw %v ConfigMaps, want a:%d b:%d", firstCounts, len(namesA), len(namesB))
	}
	mu.Unlock()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// failingSource adds a cluster, waits until told, and fails.
type failingSource struct {
	cluster multicluster.ConfigCluster
	fail    chan struct{}
	synced  chan struct{}
}

func (s *failingSource) Start(ctx context.Context, clusters multicluster.ClusterSet) error {
	if err := clusters.AddCluster(s.cluster.Name, s.cluster.Name, s.cluster.Config); err != nil {
		return err
	}
	close(s.synced)
	select {
	case <-s.fail:
		return errors.New("the source broke")
	case <-ctx.Done():
		return nil
	}
}

func (s *failingSource) HasSynced() bool {
	select {
	case <-s.synced:
		return true
	default:
		return false
	}
}

// blockingSource runs until its context ends, and says when it has returned.
type blockingSource struct{ returned chan struct{} }

func (s *blockingSource) Start(ctx context.Context, _ multicluster.ClusterSet) error {
	defer close(s.returned)
	<-ctx.Done()
	return nil
}

func (s *blockingSource) HasSynced() bool { return true }

// When a source fails, Start returns its error, having stopped the other sources, the
// controllers and the clusters.
func testStartError(t *testing.T, a *framework.APIServer) {
	const ns = "start-error"
	ca := kubeClient(t, a.Config)
	names := makeNamespace(t, ca, ns, 2)
	mgr, _, rec := newManager(t, "start-error", ns)
	failing := &failingSource{cluster: multicluster.ConfigCluster{Name: "a", Config: a.Config}, fail: make(chan struct{}), synced: make(chan struct{})}
	other := &blockingSource{returned: make(chan struct{})}
	mgr.AddSource(failing)
	mgr.AddSource(other)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(t.Context()) }()
	framework.Eventually(t, time.Minute, "the objects reconciled", func() bool { return rec.sawAll(0, "a", ns, names, true) })
	cl, _ := mgr.Cluster("a")
	informer, err := cl.GetCache().GetInformer(t.Context(), &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}

	close(failing.fail)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Start returned no error when a source failed")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Start did not return within 20s of a source failing")
	}
	select {
	case <-other.returned:
	default:
		t.Error("another source still runs after Start returned")
	}
	if !informer.IsStopped() {
		t.Error("a cluster's informer still runs after Start returned")
	}
	// Nothing is reconciled any more.
	mark := rec.mark()
	createConfigMap(t, ca, ns, "after")
	framework.Consistently(t, 2*time.Second, "nothing reconciled after Start returned", func() bool { return len(rec.since(mark)) == 0 })
}

// requestCounter counts the requests a client makes, by what they ask.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
	next   http.RoundTripper
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.Path
	if req.URL.Query().Get("watch") == "true" {
		what += "?watch"
	}
	c.mu.Lock()
	c.counts[what]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *requestCounter) count(what ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range what {
		n += c.counts[w]
	}
	return n
}

// Reconcilers read from caches: unstructured reads come from informers, and kind lookups
// from discovery data kept until the cluster's CRDs change, which they do at once.
func testReadsFromCaches(t *testing.T, b *framework.APIServer) {
	const ns = "caches"
	cb := kubeClient(t, b.Config)
	names := makeNamespace(t, cb, ns, 3)
	counter := &requestCounter{counts: map[string]int{}}
	cfg := rest.CopyConfig(b.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	})

	scheme := newScheme(t)
	if err := spacev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{mgr: mgr}
	c, err := multicluster.NewController("caches", rec, multicluster.ControllerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &spacev1alpha1.Space{}} {
		if err := c.Watch(obj); err != nil {
			t.Fatal(err)
		}
	}
	mgr.AddController(c)
	mgr.AddSource(&multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{{Name: "b", Config: cfg}}})
	stop := run(t, mgr)
	framework.Eventually(t, time.Minute, "every object reconciled", func() bool { return rec.sawAll(0, "b", ns, names, true) })
	cl, _ := mgr.Cluster("b")
	if served, err := cl.Serves(&spacev1alpha1.Space{}); err != nil || served {
		t.Fatalf("Serves(Space) = %v, %v before its CRD is installed; want false", served, err)
	}

	lists := func() int { return counter.count("GET /api/v1/namespaces/"+ns+"/configmaps", "GET /api/v1/configmaps") }
	discoveries := func() int { return counter.count("GET /api", "GET /apis") }
	listsBefore, discoveriesBefore := lists(), discoveries()
	spaceKind := spacev1alpha1.SchemeGroupVersion.WithKind("Space")
	for range 20 {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
		if err := cl.GetClient().List(t.Context(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != len(names) {
			t.Fatalf("listed %d ConfigMaps, want %d", len(list.Items), len(names))
		}
		if _, err := cl.GetRESTMapper().RESTMapping(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), "v1"); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.GetRESTMapper().RESTMapping(spaceKind.GroupKind(), spaceKind.Version); !meta.IsNoMatchError(err) {
			t.Fatalf("RESTMapping(Space) before its CRD is installed: %v, want no match", err)
		}
	}
	// The unstructured informer lists once; at most one refresh of stale discovery data.
	if n := lists() - listsBefore; n > 1 {
		t.Errorf("20 unstructured lists made %d LIST requests to the server, want at most 1", n)
	}
	if n := discoveries() - discoveriesBefore; n > 2 {
		t.Errorf("60 kind lookups made %d discovery requests, want at most 2", n)
	}

	// A CRD installed now brings its kind at once, well before stale data would be fetched
	// again; the watch waiting for it starts.
	crdList, err := crds.Space()
	if err != nil {
		t.Fatal(err)
	}
	if err := crds.Install(t.Context(), b.Config, crdList, time.Minute); err != nil {
		t.Fatal(err)
	}
	mark := rec.mark()
	spaceClient, err := client.New(b.Config, client.Options{Scheme: mgr.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := spaceClient.Create(t.Context(), &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "late-kind"}}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 25*time.Second, "the object of a kind whose CRD came later reconciled", func() bool {
		return rec.sawAll(mark, "b", "", []string{"late-kind"}, true)
	})
	if served, err := cl.Serves(&spacev1alpha1.Space{}); err != nil || !served {
		t.Errorf("Serves(Space) = %v, %v once its CRD is installed; want true", served, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
