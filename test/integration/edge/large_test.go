package edge

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// bigText is n bytes of text, as a ConfigMap of a large document holds: lines of words,
// with some characters beyond ASCII and some that JSON escapes, so that the content must
// survive every encoding on the way exactly.
func bigText(n int) string {
	const line = "Lorem ipsum dolor sit amet, \"quoted\", tab\there, café, naïve, 東京; 0123456789.\n"
	var b strings.Builder
	b.Grow(n + len(line))
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()[:n]
}

// markup is an HTML page repeated to n bytes or a little more: JSON writes each '<' and '>'
// as six bytes, so its encoding is more than twice its length.
func markup(n int) string {
	return strings.Repeat("<html><body><h1>502 Bad Gateway</h1></body></html>\n", n/50+1)
}

const blobCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: blobs.large.test}
spec:
  group: large.test
  names: {plural: blobs, singular: blob, kind: Blob, listKind: BlobList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// largeStack is a space server with a workload space, wmw1, holding namespace bulk, and a
// workload execution cluster, florin.
type largeStack struct {
	srv            *framework.SpaceServer
	wmw, espw, wec client.Client
	wecAPI         *framework.APIServer
	// box is florin's mailbox.
	box string
}

func newLargeStack(t *testing.T, srv *framework.SpaceServer) *largeStack {
	t.Helper()
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	s := &largeStack{srv: srv, wmw: srv.Client("root:wmw1"), espw: srv.Client(espwPath), wecAPI: framework.StartAPIServer(t)}
	s.wec = clientFor(t, s.wecAPI)
	florin := framework.EnsureLocation(t, srv.Client("root:imw1"), "florin", map[string]string{"env": "prod"})
	s.box = mailbox.Name(imw1.Status.Cluster, florin.UID)
	require.NoError(t, s.wmw.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bulk"}}))
	return s
}

// start places what the tests select in namespace bulk to florin, and starts the
// controllers and florin's syncer.
func (s *largeStack) start(t *testing.T, downsync ...edgev2alpha1.DownsyncObjectTest) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, s.wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "large"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			Downsync:          downsync,
		},
	}))
	framework.StartController(t, s.srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: espwPath, Concurrency: 2}))
	framework.StartController(t, s.srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 2}))
	framework.StartController(t, s.srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: espwPath, Concurrency: 2}))
	framework.Eventually(t, time.Minute, "mailbox "+s.box+" exists", func() bool {
		return s.espw.Get(ctx, client.ObjectKey{Name: s.box}, &corev1.Namespace{}) == nil
	})
	framework.StartSyncer(t, s.srv, espwPath, s.box, "florin", s.wecAPI.Config)
}

// delivered is the Delivered condition of placement large.
func (s *largeStack) delivered(t *testing.T) *metav1.Condition {
	t.Helper()
	ep := &edgev2alpha1.EdgePlacement{}
	require.NoError(t, s.wmw.Get(t.Context(), client.ObjectKey{Name: "large"}, ep))
	return meta.FindStatusCondition(ep.Status.Conditions, placement.ConditionDelivered)
}

// TestLargeObjects places objects near the API server's size limits to one cluster: a
// ConfigMap of 1,048,000 bytes arrives exactly and goes again; objects whose wrappers
// cannot fit are refused with a condition that says so, and the rest of the placement
// still arrives.
func TestLargeObjects(t *testing.T) {
	s := newLargeStack(t, framework.StartSpaceServer(t))
	ctx := t.Context()
	wmw, espw, wec, box := s.wmw, s.espw, s.wec, s.box

	crd := fromYAML(t, blobCRD)
	require.NoError(t, wmw.Create(ctx, crd))
	framework.Eventually(t, time.Minute, "the space serves blobs", func() bool {
		got := &apiextensionsv1.CustomResourceDefinition{}
		return wmw.Get(ctx, client.ObjectKey{Name: crd.GetName()}, got) == nil && crdEstablished(got)
	})

	payload := bigText(1_048_000)
	big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "bulk"}, Data: map[string]string{"payload": payload}}
	small := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "small", Namespace: "bulk"}, Data: map[string]string{"k": "v"}}
	// 720 KiB of HTML: a ConfigMap well within its kind's 1 MiB, whose JSON is over 1.5 MiB.
	page := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page", Namespace: "bulk"}, Data: map[string]string{"index.html": markup(720 * 1024)}}
	// 1.4 MiB of spec: the space stores it, but its wrapper would leave no room for a status.
	huge := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "large.test/v1", "kind": "Blob",
		"metadata": map[string]any{"name": "huge", "namespace": "bulk"},
		"spec":     map[string]any{"data": strings.Repeat("0123456789abcdef", 1_468_006/16+1)[:1_468_006]},
	}}
	for _, obj := range []client.Object{big, small, page, huge} {
		require.NoError(t, wmw.Create(ctx, obj), obj.GetName())
	}
	s.start(t,
		edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"bulk"}},
		edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To("large.test"), Resources: []string{"blobs"}, Namespaces: []string{"bulk"}})

	t.Run("a ConfigMap of 1,048,000 bytes arrives exactly", func(t *testing.T) {
		got := &corev1.ConfigMap{}
		framework.Eventually(t, 2*time.Minute, "ConfigMap big is in the cluster", func() bool {
			return wec.Get(ctx, client.ObjectKey{Namespace: "bulk", Name: "big"}, got) == nil
		})
		require.Len(t, got.Data, 1)
		// Not assert.Equal: a failure would print a megabyte twice.
		assert.True(t, got.Data["payload"] == payload, "the data differs: %d bytes arrived of %d", len(got.Data["payload"]), len(payload))
		eventuallyExists(t, wec, &corev1.ConfigMap{}, "bulk", "small")
	})

	t.Run("objects whose wrappers cannot fit are refused, by name, size and limit", func(t *testing.T) {
		var cond *metav1.Condition
		framework.Eventually(t, 2*time.Minute, "placement large is Delivered False, ObjectTooLarge", func() bool {
			cond = s.delivered(t)
			return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == placement.ReasonObjectTooLarge &&
				strings.Contains(cond.Message, "Blob bulk/huge") && strings.Contains(cond.Message, "ConfigMap bulk/page")
		})
		limit := regexp.QuoteMeta("more than the 1310720 bytes (1.25 MiB) a wrapper may take (etcd takes at most 1572864 bytes in one write, the reported status included); make the object smaller")
		assert.Regexp(t, `Blob bulk/huge is not delivered to florin: its wrapper would take 14[67]\d{4} bytes \(1\.4\d MiB\) encoded, `+limit, cond.Message)
		assert.Regexp(t, `ConfigMap bulk/page is not delivered to florin: its wrapper would take 1[2-9]\d{5} bytes \(1\.\d\d MiB\) encoded, `+limit, cond.Message)
		assert.NotContains(t, cond.Message, "bulk/big")

		for _, name := range []string{"page", "huge"} {
			assert.Nil(t, findWrapperNamed(t, espw, box, name), "no wrapper of %s", name)
		}
		before := reconcileErrors(t, "placement-translator")
		framework.Consistently(t, 5*time.Second, "the translator does not retry what cannot fit", func() bool {
			return reconcileErrors(t, "placement-translator") == before
		})
		assert.True(t, apierrors.IsNotFound(wec.Get(ctx, client.ObjectKey{Namespace: "bulk", Name: "page"}, &corev1.ConfigMap{})))
	})

	t.Run("an object made small enough is delivered", func(t *testing.T) {
		got := &corev1.ConfigMap{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(page), got))
		got.Data["index.html"] = markup(100 * 1024)
		require.NoError(t, wmw.Update(ctx, got))
		framework.Eventually(t, 2*time.Minute, "ConfigMap page is in the cluster", func() bool {
			in := &corev1.ConfigMap{}
			return wec.Get(ctx, client.ObjectKeyFromObject(page), in) == nil && in.Data["index.html"] == got.Data["index.html"]
		})
		framework.Eventually(t, time.Minute, "the condition names only the Blob", func() bool {
			c := s.delivered(t)
			return c != nil && c.Status == metav1.ConditionFalse && !strings.Contains(c.Message, "bulk/page") && strings.Contains(c.Message, "Blob bulk/huge")
		})
	})

	t.Run("removing the 1,048,000-byte ConfigMap removes it from the cluster", func(t *testing.T) {
		require.NoError(t, wmw.Delete(ctx, big))
		framework.Eventually(t, time.Minute, "ConfigMap big is gone from the cluster", func() bool {
			return apierrors.IsNotFound(wec.Get(ctx, client.ObjectKey{Namespace: "bulk", Name: "big"}, &corev1.ConfigMap{}))
		})
		require.NoError(t, wec.Get(ctx, client.ObjectKeyFromObject(small), &corev1.ConfigMap{}), "the rest stays")
	})
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// findWrapperNamed is the wrapper, in the mailbox, of the object of that name, or nil.
func findWrapperNamed(t *testing.T, espw client.Client, box, name string) *edgev2alpha1.WrappedObject {
	t.Helper()
	list := &edgev2alpha1.WrappedObjectList{}
	require.NoError(t, espw.List(t.Context(), list, client.InNamespace(box)))
	for i := range list.Items {
		if obj, err := wrapper.Unwrap(&list.Items[i]); err == nil && obj.GetName() == name {
			return &list.Items[i]
		}
	}
	return nil
}

// TestSyncerLargeStatus has a Deployment's status in the cluster grow too large to report
// into its wrapper (an error page in a condition message): the syncer says the object is
// synced and its status left out, by size and limit, without retrying; once the status is
// small again it is reported again.
func TestSyncerLargeStatus(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	wecAPI := framework.StartAPIServer(t)
	ctx := t.Context()
	espw, wec := srv.Client(espwPath), clientFor(t, wecAPI)
	box := mailboxOf{espw: espw, box: "imwtest-mb-wec"}
	require.NoError(t, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: box.box}}))
	framework.StartSyncer(t, srv, espwPath, box.box, "wec", wecAPI.Config)

	deploymentsGR := schema.GroupResource{Group: "apps", Resource: "deployments"}
	ns := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: large}}")
	dep := fromYAML(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: large}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.example/web:1}]}
`)
	box.place(t, namespacesGR, ns)
	box.place(t, deploymentsGR, dep)
	framework.Eventually(t, time.Minute, "the Deployment is synced", func() bool { return box.synced(t, deploymentsGR, dep) })

	setStatus := func(message string) {
		t.Helper()
		d := &appsv1.Deployment{}
		require.NoError(t, wec.Get(ctx, client.ObjectKey{Namespace: "large", Name: "web"}, d))
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UnavailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ImagePullBackOff", Message: message}}}
		require.NoError(t, wec.Status().Update(ctx, d))
	}
	synced := func() (*metav1.Condition, *edgev2alpha1.WrappedObject) {
		w := box.wrapperOf(t, deploymentsGR, dep)
		return meta.FindStatusCondition(w.Status.Conditions, syncer.ConditionSynced), w
	}

	t.Run("a status too large for the wrapper is left out, and the condition says so", func(t *testing.T) {
		// 750 KiB in the cluster, which stores Deployments in protobuf; over 1.6 MiB as JSON.
		setStatus(markup(750 * 1024))
		var cond *metav1.Condition
		framework.Eventually(t, time.Minute, "Synced True, ReportedStateTooLarge", func() bool {
			c, _ := synced()
			cond = c
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == wrapper.ReasonReportedStateTooLarge
		})
		assert.Regexp(t, `^the object is in the cluster as wrapped; its status is not reported: the wrapper with its status would take 1[6-9]\d{5} bytes \(1\.\d\d MiB\) encoded, more than the 1507328 bytes \(1\.44 MiB\) a wrapper may take`, cond.Message)
		_, w := synced()
		assert.Nil(t, w.Status.ReportedState, "the status that does not fit is left out, not an older one kept")
		before := reconcileErrors(t, "syncer-downsync")
		framework.Consistently(t, 5*time.Second, "the syncer does not retry", func() bool {
			return reconcileErrors(t, "syncer-downsync") == before
		})
	})

	t.Run("a status small again is reported again", func(t *testing.T) {
		setStatus("Back-off pulling image registry.example/web:1")
		framework.Eventually(t, time.Minute, "Synced True, Applied, with the status", func() bool {
			c, w := synced()
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "Applied" && w.Status.ReportedState != nil &&
				w.Status.ReportedState.Status != nil && strings.Contains(string(w.Status.ReportedState.Status.Raw), "Back-off pulling image")
		})
	})
}

// TestServerRefusesLargeWrappers runs the space server on an etcd that takes at most 1 MiB
// in one request, less than the wrappers' limits assume: what the server refuses as too
// large is reported as what cannot fit is, not retried.
func TestServerRefusesLargeWrappers(t *testing.T) {
	etcd := framework.StartEtcdCluster(t, filepath.Join(framework.TempDir(t), "etcd"), 1, "--max-request-bytes=1048576")
	s := newLargeStack(t, framework.StartSpaceServer(t, func(o *server.Options) {
		o.EtcdServers = etcd.ClientURLs
		o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile = etcd.CAFile, etcd.CertFile, etcd.KeyFile
	}))
	ctx := t.Context()
	// 480 KiB of HTML: over 1 MiB as JSON, under wrapper.MaxSpecSize.
	page := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page", Namespace: "bulk"}, Data: map[string]string{"index.html": markup(480 * 1024)}}
	small := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "small", Namespace: "bulk"}, Data: map[string]string{"k": "v"}}
	web := framework.Deployment("web", "bulk")
	for _, obj := range []client.Object{page, small, web} {
		require.NoError(t, s.wmw.Create(ctx, obj), obj.GetName())
	}
	s.start(t,
		edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"bulk"}},
		edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"bulk"}})

	t.Run("a wrapper the server refuses is a condition of the placement", func(t *testing.T) {
		var cond *metav1.Condition
		framework.Eventually(t, 2*time.Minute, "placement large is Delivered False, ObjectTooLarge", func() bool {
			cond = s.delivered(t)
			return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == placement.ReasonObjectTooLarge
		})
		assert.Regexp(t, `^ConfigMap bulk/page is not delivered to florin: the API server refused its wrapper of 1\d{6} bytes encoded as too large, under the 1310720 bytes assumed to fit \(.*etcdserver: request is too large\); make the object smaller$`, cond.Message)
		eventuallyExists(t, s.wec, &corev1.ConfigMap{}, "bulk", "small")
		before := reconcileErrors(t, "placement-translator")
		framework.Consistently(t, 5*time.Second, "the translator does not retry what the server refused", func() bool {
			return reconcileErrors(t, "placement-translator") == before
		})
	})

	t.Run("a status the server refuses is left out, and Synced says so", func(t *testing.T) {
		d := &appsv1.Deployment{}
		framework.Eventually(t, 2*time.Minute, "Deployment web is in the cluster", func() bool {
			return s.wec.Get(ctx, client.ObjectKey{Namespace: "bulk", Name: "web"}, d) == nil
		})
		// Over 1 MiB as JSON, with the rest of the wrapper; under wrapper.MaxSize.
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UnavailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ImagePullBackOff", Message: markup(480 * 1024)}}}
		require.NoError(t, s.wec.Status().Update(ctx, d))
		var cond *metav1.Condition
		framework.Eventually(t, time.Minute, "Synced True, ReportedStateTooLarge", func() bool {
			w := findWrapperNamed(t, s.espw, s.box, "web")
			if w == nil {
				return false
			}
			cond = meta.FindStatusCondition(w.Status.Conditions, syncer.ConditionSynced)
			return cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == wrapper.ReasonReportedStateTooLarge
		})
		assert.Regexp(t, `^the object is in the cluster as wrapped; its status is not reported: the API server refused the wrapper with its status as too large \(.*etcdserver: request is too large\); the object's status in the cluster must be smaller to be reported$`, cond.Message)
		before := reconcileErrors(t, "syncer-downsync")
		framework.Consistently(t, 5*time.Second, "the syncer does not retry", func() bool {
			return reconcileErrors(t, "syncer-downsync") == before
		})
	})
}

// reconcileErrors is how many reconciles of the in-process controller of that name have
// ended in an error, each of which is retried with backoff.
func reconcileErrors(t *testing.T, controller string) float64 {
	return framework.ControllerMetric(t, "controller_runtime_reconcile_errors_total", controller)
}
