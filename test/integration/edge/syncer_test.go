package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

// mailboxOf puts wrappers into one mailbox by hand, as the placement translator would.
type mailboxOf struct {
	espw client.Client
	box  string
}

// sourceSpace is the (made-up) workload space the hand-made wrappers say they come from.
const sourceSpace = "wmwtest"

var (
	namespacesGR = schema.GroupResource{Resource: "namespaces"}
	configmapsGR = schema.GroupResource{Resource: "configmaps"}
	crdsGR       = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
)

func (m mailboxOf) refOf(gr schema.GroupResource, obj *unstructured.Unstructured) wrapper.ObjectRef {
	return wrapper.ObjectRef{Space: sourceSpace, GroupResource: gr, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// place creates or updates the wrapper of obj.
func (m mailboxOf) place(t *testing.T, gr schema.GroupResource, obj *unstructured.Unstructured) {
	t.Helper()
	w, err := wrapper.New(m.refOf(gr, obj), wrapper.Strip(obj), m.box,
		edgev2alpha1.SinglePlacement{Cluster: "imwtest", LocationName: "wec", SyncTargetName: "wec", SyncTargetUID: "uid"})
	require.NoError(t, err)
	ctx := t.Context()
	existing := &edgev2alpha1.WrappedObject{}
	err = m.espw.Get(ctx, client.ObjectKeyFromObject(w), existing)
	if apierrors.IsNotFound(err) {
		require.NoError(t, m.espw.Create(ctx, w))
		return
	}
	require.NoError(t, err)
	existing.Spec = w.Spec
	require.NoError(t, m.espw.Update(ctx, existing))
}

// unplace deletes the wrapper of obj.
func (m mailboxOf) unplace(t *testing.T, gr schema.GroupResource, obj *unstructured.Unstructured) {
	t.Helper()
	w := &edgev2alpha1.WrappedObject{ObjectMeta: metav1.ObjectMeta{Namespace: m.box, Name: wrapper.Name(m.refOf(gr, obj), obj.GetKind())}}
	require.NoError(t, client.IgnoreNotFound(m.espw.Delete(t.Context(), w)))
}

// synced reports whether the wrapper of obj says it is in the cluster as wrapped, for its
// current generation.
func (m mailboxOf) synced(t *testing.T, gr schema.GroupResource, obj *unstructured.Unstructured) bool {
	w := &edgev2alpha1.WrappedObject{}
	if err := m.espw.Get(t.Context(), client.ObjectKey{Namespace: m.box, Name: wrapper.Name(m.refOf(gr, obj), obj.GetKind())}, w); err != nil {
		return false
	}
	for _, c := range w.Status.Conditions {
		if c.Type == syncer.ConditionSynced {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == w.Generation
		}
	}
	return false
}

// wrapperOf reads the wrapper of obj in the mailbox.
func (m mailboxOf) wrapperOf(t *testing.T, gr schema.GroupResource, obj *unstructured.Unstructured) *edgev2alpha1.WrappedObject {
	t.Helper()
	w := &edgev2alpha1.WrappedObject{}
	require.NoError(t, m.espw.Get(t.Context(), client.ObjectKey{Namespace: m.box, Name: wrapper.Name(m.refOf(gr, obj), obj.GetKind())}, w))
	return w
}

// eventuallyDrift waits for the wrapper of obj to report a drift, and returns it.
func eventuallyDrift(t *testing.T, m mailboxOf, gr schema.GroupResource, obj *unstructured.Unstructured) *edgev2alpha1.Drift {
	t.Helper()
	var drift *edgev2alpha1.Drift
	framework.Eventually(t, time.Minute, "the wrapper reports the drift", func() bool {
		drift = m.wrapperOf(t, gr, obj).Status.Drift
		return drift != nil
	})
	return drift
}

// eventuallyEvent waits for an Event about obj in the cluster with the reason and note.
func eventuallyEvent(t *testing.T, wec client.Client, obj *unstructured.Unstructured, reason, note string) {
	t.Helper()
	framework.Eventually(t, time.Minute, "an Event "+reason+" on "+obj.GetName(), func() bool {
		list := &eventsv1.EventList{}
		require.NoError(t, wec.List(t.Context(), list, client.InNamespace(obj.GetNamespace())))
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Regarding.Kind == obj.GetKind() && e.Reason == reason && e.Note == note {
				return true
			}
		}
		return false
	})
}

func fromYAML(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(text), &obj.Object))
	return obj
}

// inWEC reads obj's counterpart in the cluster; nil when it is not there.
func inWEC(t *testing.T, wec client.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(obj.GroupVersionKind())
	err := wec.Get(t.Context(), client.ObjectKeyFromObject(obj), got)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	require.NoError(t, err)
	return got
}

func eventuallyInWEC(t *testing.T, wec client.Client, obj *unstructured.Unstructured, what string, cond func(got *unstructured.Unstructured) bool) {
	t.Helper()
	framework.Eventually(t, time.Minute, what, func() bool {
		got := inWEC(t, wec, obj)
		return got != nil && cond(got)
	})
}

func nested(obj *unstructured.Unstructured, path ...string) (any, bool) {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
	return v, found && err == nil
}

func nestedLen(obj *unstructured.Unstructured, path ...string) int {
	v, _ := nested(obj, path...)
	list, _ := v.([]any)
	return len(list)
}

// namespaceKept reports whether the namespace is in the cluster and not being deleted.
func namespaceKept(t *testing.T, wec client.Client, name string) bool {
	ns := &corev1.Namespace{}
	return wec.Get(t.Context(), client.ObjectKey{Name: name}, ns) == nil && ns.DeletionTimestamp.IsZero()
}

func namespaceGoing(t *testing.T, wec client.Client, name string) bool {
	ns := &corev1.Namespace{}
	err := wec.Get(t.Context(), client.ObjectKey{Name: name}, ns)
	return apierrors.IsNotFound(err) || (err == nil && !ns.DeletionTimestamp.IsZero())
}

const (
	exactCM = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: exact, labels: {tier: web, track: beta}}
data: {index.html: v1, extra.html: v1}
binaryData: {logo.png: aGVsbG8=}
`
	exactCMNext = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: exact, labels: {tier: web}}
data: {index.html: v1}
`
	exactDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: exact}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {build: "7"}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
        env: [{name: MODE, value: fast}, {name: DEBUG, value: "1"}]
`
	exactDeploymentNext = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: exact}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
        env: [{name: MODE, value: fast}]
`
	exactService = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: exact}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}, {name: https, port: 443}]
`
	exactServiceNext = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: exact}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
`
	exactRole = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exact-reader}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
- {apiGroups: [""], resources: [secrets], verbs: [get]}
`
	exactRoleNext = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exact-reader}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
`
	widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.exact.test}
spec:
  group: exact.test
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`
	widget = `
apiVersion: exact.test/v1
kind: Widget
metadata: {name: w1, namespace: exact}
spec: {size: 3, color: red}
`
	widgetNext = `
apiVersion: exact.test/v1
kind: Widget
metadata: {name: w1, namespace: exact}
spec: {size: 3}
`
)

// TestSyncer runs one syncer against a mailbox filled by hand and a real cluster, and checks
// what the cluster holds.
func TestSyncer(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	wecAPI := framework.StartAPIServer(t)
	ctx := t.Context()
	espw, wec := srv.Client(espwPath), clientFor(t, wecAPI)
	box := mailboxOf{espw: espw, box: "imwtest-mb-wec"}
	require.NoError(t, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: box.box}}))
	framework.StartSyncer(t, srv, espwPath, box.box, "wec", wecAPI.Config)

	ns := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: exact}}")
	cm, dep, svc, role := fromYAML(t, exactCM), fromYAML(t, exactDeployment), fromYAML(t, exactService), fromYAML(t, exactRole)
	crd, w1 := fromYAML(t, widgetCRD), fromYAML(t, widget)
	gr := map[*unstructured.Unstructured]schema.GroupResource{
		ns: namespacesGR, cm: configmapsGR, dep: {Group: "apps", Resource: "deployments"}, svc: {Resource: "services"},
		role: {Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, crd: crdsGR, w1: {Group: "exact.test", Resource: "widgets"},
	}
	for _, obj := range []*unstructured.Unstructured{ns, cm, dep, svc, role, crd, w1} {
		box.place(t, gr[obj], obj)
	}

	t.Run("every wrapped object reaches the cluster", func(t *testing.T) {
		for _, obj := range []*unstructured.Unstructured{ns, cm, dep, svc, role, crd, w1} {
			framework.Eventually(t, time.Minute, obj.GetKind()+" "+obj.GetName()+" is synced", func() bool { return box.synced(t, gr[obj], obj) })
		}
		got := inWEC(t, wec, cm)
		require.NotNil(t, got)
		assert.Equal(t, box.box, got.GetLabels()[syncer.LabelDownsynced])
		assert.NotEmpty(t, got.GetAnnotations()[syncer.AnnotationDesiredHash])
	})

	t.Run("a field another manager owns in the cluster is left alone", func(t *testing.T) {
		patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": cm.GetName(), "namespace": cm.GetNamespace(), "labels": map[string]any{"site": "local"}}}}
		require.NoError(t, wec.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner("edge-admin")))
		require.Equal(t, "local", inWEC(t, wec, cm).GetLabels()["site"])
	})

	t.Run("removals reach the cluster", func(t *testing.T) {
		next := map[*unstructured.Unstructured]*unstructured.Unstructured{
			cm: fromYAML(t, exactCMNext), dep: fromYAML(t, exactDeploymentNext), svc: fromYAML(t, exactServiceNext),
			role: fromYAML(t, exactRoleNext), w1: fromYAML(t, widgetNext),
		}
		for obj, n := range next {
			box.place(t, gr[obj], n)
		}
		eventuallyInWEC(t, wec, cm, "the ConfigMap lost a data key, a label and its binaryData", func(got *unstructured.Unstructured) bool {
			_, extra := nested(got, "data", "extra.html")
			_, bin := nested(got, "binaryData")
			_, track := got.GetLabels()["track"]
			return !extra && !bin && !track
		})
		eventuallyInWEC(t, wec, dep, "the Deployment lost an env entry and its template annotations", func(got *unstructured.Unstructured) bool {
			containers, _ := nested(got, "spec", "template", "spec", "containers")
			list, _ := containers.([]any)
			c, _ := list[0].(map[string]any)
			env, _ := c["env"].([]any)
			_, annotations := nested(got, "spec", "template", "metadata", "annotations")
			return len(env) == 1 && !annotations
		})
		eventuallyInWEC(t, wec, svc, "the Service lost a port", func(got *unstructured.Unstructured) bool {
			return nestedLen(got, "spec", "ports") == 1
		})
		eventuallyInWEC(t, wec, role, "the ClusterRole lost a rule", func(got *unstructured.Unstructured) bool {
			return nestedLen(got, "rules") == 1
		})
		eventuallyInWEC(t, wec, w1, "the Widget lost spec.color", func(got *unstructured.Unstructured) bool {
			_, color := nested(got, "spec", "color")
			size, _ := nested(got, "spec", "size")
			return !color && fmt.Sprint(size) == "3"
		})
		got := inWEC(t, wec, cm)
		assert.Equal(t, "local", got.GetLabels()["site"], "the label another manager set stays")
		assert.Equal(t, "web", got.GetLabels()["tier"])
	})

	t.Run("an edit at the edge of a field the syncer sets is reverted, and reported", func(t *testing.T) {
		revertedBefore := testutil.ToFloat64(syncer.DriftReverted("ConfigMap"))
		got := inWEC(t, wec, cm)
		require.NoError(t, unstructured.SetNestedField(got.Object, "edited", "data", "index.html"))
		labels := got.GetLabels()
		delete(labels, "tier")
		got.SetLabels(labels)
		require.NoError(t, wec.Update(ctx, got))
		eventuallyInWEC(t, wec, cm, "the data value and the label are back", func(got *unstructured.Unstructured) bool {
			v, _ := nested(got, "data", "index.html")
			return v == "v1" && got.GetLabels()["tier"] == "web"
		})
		assert.Equal(t, "local", inWEC(t, wec, cm).GetLabels()["site"])

		drift := eventuallyDrift(t, box, gr[cm], cm)
		assert.True(t, drift.Reverted)
		assert.Equal(t, []string{"data.index.html", "metadata.labels.tier"}, drift.Fields)
		assert.Equal(t, revertedBefore+1, testutil.ToFloat64(syncer.DriftReverted("ConfigMap")))
		eventuallyEvent(t, wec, cm, wrapper.EventDriftReverted, "changed in the cluster, put back: [data.index.html metadata.labels.tier]")
	})

	t.Run("with drift: report, an edit at the edge is reported and left in place", func(t *testing.T) {
		watched := fromYAML(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: watched, namespace: exact, annotations: {edge.kubestellar.io/drift: report}}
data: {mode: strict}
`)
		box.place(t, configmapsGR, watched)
		framework.Eventually(t, time.Minute, "the ConfigMap is synced", func() bool { return box.synced(t, configmapsGR, watched) })
		revertedBefore := testutil.ToFloat64(syncer.DriftReverted("ConfigMap"))
		got := inWEC(t, wec, watched)
		require.NoError(t, unstructured.SetNestedField(got.Object, "lenient", "data", "mode"))
		require.NoError(t, wec.Update(ctx, got))

		drift := eventuallyDrift(t, box, configmapsGR, watched)
		assert.False(t, drift.Reverted)
		assert.Equal(t, []string{"data.mode"}, drift.Fields)
		w := box.wrapperOf(t, configmapsGR, watched)
		c := meta.FindStatusCondition(w.Status.Conditions, syncer.ConditionSynced)
		require.NotNil(t, c)
		assert.Equal(t, metav1.ConditionFalse, c.Status)
		assert.Equal(t, wrapper.EventDriftReported, c.Reason)
		eventuallyEvent(t, wec, watched, wrapper.EventDriftReported, "changed in the cluster, left in place, as edge.kubestellar.io/drift: report asks: [data.mode]")
		framework.Consistently(t, 3*time.Second, "the edit stays", func() bool {
			v, _ := nested(inWEC(t, wec, watched), "data", "mode")
			return v == "lenient"
		})
		assert.Equal(t, revertedBefore, testutil.ToFloat64(syncer.DriftReverted("ConfigMap")))
		box.unplace(t, configmapsGR, watched)
	})

	t.Run("requests per object", func(t *testing.T) {
		const n = 100
		many := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: many}}")
		box.place(t, namespacesGR, many)
		framework.Eventually(t, time.Minute, "namespace many is synced", func() bool { return box.synced(t, namespacesGR, many) })
		cms := make([]*unstructured.Unstructured, n)
		for i := range cms {
			cms[i] = fromYAML(t, fmt.Sprintf("{apiVersion: v1, kind: ConfigMap, metadata: {name: cm-%03d, namespace: many}, data: {k: v}}", i))
		}
		// measure counts the cluster requests the syncer makes for change, until every
		// ConfigMap's wrapper says it is synced and the syncer's follow-up reconciles (of the
		// events of its own writes) are over.
		measure := func(what string, change func(*unstructured.Unstructured)) {
			before := requestCounts(t, wecAPI)
			for _, c := range cms {
				change(c)
				box.place(t, configmapsGR, c)
			}
			framework.Eventually(t, 2*time.Minute, "every ConfigMap is synced", func() bool {
				for _, c := range cms {
					if !box.synced(t, configmapsGR, c) {
						return false
					}
				}
				return true
			})
			time.Sleep(3 * time.Second)
			after := requestCounts(t, wecAPI)
			total := 0
			var lines []string
			for k, v := range after {
				if d := v - before[k]; d > 0 {
					total += d
					lines = append(lines, fmt.Sprintf("%s=%d", k, d))
				}
			}
			sort.Strings(lines)
			t.Logf("cluster requests for %s %d ConfigMaps: %d (%.2f per object): %s", what, n, total, float64(total)/n, strings.Join(lines, " "))
		}
		measure("creating", func(*unstructured.Unstructured) {})
		measure("updating", func(c *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(c.Object, "v2", "data", "k"))
		})
	})

	t.Run("an object whose namespace is not there yet waits quietly and lands with its namespace", func(t *testing.T) {
		early := fromYAML(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: early, namespace: late}, data: {k: v}}")
		late := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: late}}")
		box.place(t, configmapsGR, early)
		framework.Eventually(t, time.Minute, "the ConfigMap's wrapper says it waits for its namespace", func() bool {
			c := meta.FindStatusCondition(box.wrapperOf(t, configmapsGR, early).Status.Conditions, syncer.ConditionSynced)
			return c != nil && c.Reason == wrapper.ReasonWaitingForNamespace
		})
		before := requestCounts(t, wecAPI)
		time.Sleep(6 * time.Second)
		after := requestCounts(t, wecAPI)
		asked := after["APPLY configmaps"] - before["APPLY configmaps"] + after["GET configmaps"] - before["GET configmaps"]
		assert.LessOrEqual(t, asked, 2, "ConfigMap requests to the cluster in 6 s of waiting for the namespace")
		box.place(t, namespacesGR, late)
		start := time.Now()
		eventuallyInWEC(t, wec, early, "the ConfigMap lands once its namespace does", func(*unstructured.Unstructured) bool { return true })
		assert.Less(t, time.Since(start), 5*time.Second, "the namespace's arrival, not a retry, brings the ConfigMap")
		box.unplace(t, configmapsGR, early)
		box.unplace(t, namespacesGR, late)
	})

	t.Run("a namespace stays while anything in the mailbox is on its way into it", func(t *testing.T) {
		kept := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: kept}}")
		gadgetCRD := fromYAML(t, strings.NewReplacer("widgets", "gadgets", "widget", "gadget", "Widget", "Gadget", "exact.test", "later.test").Replace(widgetCRD))
		gadget := fromYAML(t, "{apiVersion: later.test/v1, kind: Gadget, metadata: {name: g1, namespace: kept}, spec: {size: 1}}")
		gadgetGR := schema.GroupResource{Group: "later.test", Resource: "gadgets"}
		box.place(t, namespacesGR, kept)
		framework.Eventually(t, time.Minute, "namespace kept is synced", func() bool { return box.synced(t, namespacesGR, kept) })
		// A Gadget is wrapped before the cluster serves Gadgets; then the namespace's own
		// wrapper goes.
		box.place(t, gadgetGR, gadget)
		box.unplace(t, namespacesGR, kept)
		framework.Consistently(t, 5*time.Second, "namespace kept stays", func() bool { return namespaceKept(t, wec, "kept") })
		box.place(t, crdsGR, gadgetCRD)
		eventuallyInWEC(t, wec, gadget, "the Gadget lands in namespace kept", func(*unstructured.Unstructured) bool { return true })
		box.unplace(t, gadgetGR, gadget)
		framework.Eventually(t, time.Minute, "with nothing wrapped for it, namespace kept goes", func() bool { return namespaceGoing(t, wec, "kept") })
	})

	t.Run("a namespace whose contents cannot be listed stays", func(t *testing.T) {
		// A second syncer, for another mailbox, whose identity in the cluster cannot list Secrets.
		restricted := restrictedConfig(t, wecAPI, wec)
		other := mailboxOf{espw: espw, box: "imwtest-mb-restricted"}
		require.NoError(t, espw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other.box}}))
		framework.StartSyncer(t, srv, espwPath, other.box, "restricted", restricted)
		guarded := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: guarded}}")
		app := fromYAML(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: guarded}, data: {k: v}}")
		other.place(t, namespacesGR, guarded)
		other.place(t, configmapsGR, app)
		framework.Eventually(t, time.Minute, "the ConfigMap is synced", func() bool { return other.synced(t, configmapsGR, app) })
		require.NoError(t, wec.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "local-secret", Namespace: "guarded"}}))
		other.unplace(t, configmapsGR, app)
		other.unplace(t, namespacesGR, guarded)
		framework.Eventually(t, time.Minute, "the ConfigMap is gone", func() bool { return inWEC(t, wec, app) == nil })
		framework.Consistently(t, 5*time.Second, "namespace guarded, holding a Secret the syncer cannot see, stays", func() bool {
			return namespaceKept(t, wec, "guarded")
		})

		// A kind the syncer may not touch is reported on its wrapper, and not asked for again
		// and again.
		secret := fromYAML(t, "{apiVersion: v1, kind: Secret, metadata: {name: token, namespace: guarded}, stringData: {k: v}}")
		other.place(t, schema.GroupResource{Resource: "secrets"}, secret)
		var cond *metav1.Condition
		framework.Eventually(t, time.Minute, "the wrapper says Forbidden", func() bool {
			cond = meta.FindStatusCondition(other.wrapperOf(t, schema.GroupResource{Resource: "secrets"}, secret).Status.Conditions, syncer.ConditionSynced)
			return cond != nil && cond.Reason == syncer.ReasonForbidden
		})
		assert.Equal(t, metav1.ConditionFalse, cond.Status)
		assert.Contains(t, cond.Message, "cannot list secrets in the cluster: the syncer's ClusterRole there does not allow it")
		assert.Contains(t, cond.Message, "prep-for-syncer --wec-rules")
		secretRequests := func() int {
			n := 0
			for key, count := range requestCounts(t, wecAPI) {
				if strings.HasSuffix(key, " secrets") {
					n += count
				}
			}
			return n
		}
		before := secretRequests()
		time.Sleep(10 * time.Second)
		assert.LessOrEqual(t, secretRequests()-before, 1, "at most one more look at secrets in 10s")
		other.unplace(t, schema.GroupResource{Resource: "secrets"}, secret)
	})

	t.Run("a namespace stays while discovery misses an API group", func(t *testing.T) {
		partial := fromYAML(t, "{apiVersion: v1, kind: Namespace, metadata: {name: partial}}")
		app := fromYAML(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: partial}, data: {k: v}}")
		box.place(t, namespacesGR, partial)
		box.place(t, configmapsGR, app)
		framework.Eventually(t, time.Minute, "the ConfigMap is synced", func() bool { return box.synced(t, configmapsGR, app) })

		// An aggregated API whose Service has no endpoints: discovery of its group fails.
		apiService := fromYAML(t, `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.unavailable.test}
spec:
  group: unavailable.test
  version: v1
  service: {namespace: default, name: nothing-here}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 1000
  versionPriority: 10
`)
		require.NoError(t, wec.Create(ctx, apiService))
		disc, err := discovery.NewDiscoveryClientForConfig(wecAPI.Config)
		require.NoError(t, err)
		framework.Eventually(t, time.Minute, "discovery is partial", func() bool {
			_, err := disc.ServerPreferredNamespacedResources()
			return discovery.IsGroupDiscoveryFailedError(err)
		})

		box.unplace(t, configmapsGR, app)
		box.unplace(t, namespacesGR, partial)
		framework.Eventually(t, time.Minute, "the ConfigMap is gone", func() bool { return inWEC(t, wec, app) == nil })
		framework.Consistently(t, 5*time.Second, "namespace partial stays", func() bool { return namespaceKept(t, wec, "partial") })

		require.NoError(t, wec.Delete(ctx, apiService))
		framework.Eventually(t, 2*time.Minute, "once discovery is whole, namespace partial goes", func() bool { return namespaceGoing(t, wec, "partial") })
	})
}

// restrictedConfig is a client configuration for the cluster whose user may do anything
// except read Secrets.
func restrictedConfig(t *testing.T, api *framework.APIServer, admin client.Client) *rest.Config {
	t.Helper()
	const user = "restricted-syncer"
	cert, err := api.CA.Issue(pki.CertSpec{CommonName: user, Usage: pki.ClientUsage})
	require.NoError(t, err)
	disc, err := discovery.NewDiscoveryClientForConfig(api.Config)
	require.NoError(t, err)
	lists, err := disc.ServerPreferredResources()
	require.NoError(t, err)
	var core []string
	var groups []string
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		require.NoError(t, err)
		if gv.Group != "" {
			groups = append(groups, gv.Group)
			continue
		}
		for _, r := range list.APIResources {
			if r.Name != "secrets" {
				core = append(core, r.Name)
			}
		}
	}
	ctx := t.Context()
	require.NoError(t, admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: core, Verbs: []string{"*"}},
		{APIGroups: groups, Resources: []string{"*"}, Verbs: []string{"*"}},
	}}))
	require.NoError(t, admin.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}))
	cfg := rest.CopyConfig(api.Config)
	cfg.CertData, cfg.KeyData = cert.CertPEM, cert.KeyPEM
	return cfg
}

// requestCounts reads apiserver_request_total from the server's metrics, summed by verb and
// resource ("-" for requests that name no resource).
func requestCounts(t *testing.T, api *framework.APIServer) map[string]int {
	t.Helper()
	hc, err := rest.HTTPClientFor(api.Config)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), http.MethodGet, api.URL+"/metrics", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)
	counts := map[string]int{}
	family, ok := families["apiserver_request_total"]
	require.True(t, ok, "the server reports apiserver_request_total")
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		resource := labels["resource"]
		if resource == "" {
			resource = "-" // discovery, /metrics and the like
		}
		counts[labels["verb"]+" "+resource] += int(m.GetCounter().GetValue())
	}
	return counts
}
