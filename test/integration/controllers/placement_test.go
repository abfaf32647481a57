package controllers

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestPlacementTranslator(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	ctx := t.Context()
	imw, wmw, espw := srv.Client("root:imw1"), srv.Client("root:wmw1"), srv.Client("root:espw")

	florin := framework.EnsureLocation(t, imw, "florin", map[string]string{"env": "prod", "region": "eu"})
	guilder := framework.EnsureLocation(t, imw, "guilder", map[string]string{"env": "prod", "extended": "yes", "region": "us"})

	for _, ns := range []string{"commonstuff", "specialstuff"} {
		require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "httpd-htdocs", Namespace: "commonstuff"}, Data: map[string]string{"index.html": "hello"}}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.Customizer{
		ObjectMeta:   metav1.ObjectMeta{Name: "region", Namespace: "commonstuff"},
		Replacements: []edgev2alpha1.Replacement{{Path: "$.spec.template.spec.containers[0].env[0].value", Value: apiextensionsv1.JSON{Raw: []byte(`"in %(region)"`)}}},
	}))
	commond := framework.Deployment("commond", "commonstuff")
	commond.Annotations = map[string]string{placement.AnnotationCustomizer: "region", placement.AnnotationExpandParameters: "true"}
	require.NoError(t, wmw.Create(ctx, commond))
	require.NoError(t, wmw.Create(ctx, framework.Deployment("speciald", "specialstuff")))

	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-c"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"commonstuff"}},
				{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"commonstuff"}},
			},
		},
	}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-s"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors:          []metav1.LabelSelector{{MatchLabels: map[string]string{"extended": "yes"}}},
			Downsync:                   []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"specialstuff"}}},
			WantSingletonReportedState: true,
			Upsync:                     []edgev2alpha1.UpsyncSet{{APIGroup: "group1.test", Resources: []string{"sprockets"}, Names: []string{"*"}}},
		},
	}))

	framework.StartController(t, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: "root:espw", Concurrency: 4}))
	resolver := framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))
	translator := framework.StartController(t, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: "root:espw", Concurrency: 4}))

	florinBox := mailbox.Name(imw1.Status.Cluster, florin.UID)
	guilderBox := mailbox.Name(imw1.Status.Cluster, guilder.UID)
	wrapped := func(box string) map[string]*edgev2alpha1.WrappedObject {
		list := &edgev2alpha1.WrappedObjectList{}
		if err := espw.List(ctx, list, client.InNamespace(box)); err != nil {
			return nil
		}
		out := map[string]*edgev2alpha1.WrappedObject{}
		for i := range list.Items {
			obj, err := wrapper.Unwrap(&list.Items[i])
			require.NoError(t, err)
			out[obj.GetKind()+"/"+objectKey(obj.GetNamespace(), obj.GetName())] = &list.Items[i]
		}
		return out
	}
	keysOf := func(m map[string]*edgev2alpha1.WrappedObject) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}

	t.Run("the right objects reach the right mailboxes", func(t *testing.T) {
		framework.Eventually(t, 2*time.Minute, "florin's mailbox has the common objects", func() bool {
			return assert.ObjectsAreEqual(sorted("ConfigMap/commonstuff/httpd-htdocs", "Deployment/commonstuff/commond", "Namespace/commonstuff"), sorted(keysOf(wrapped(florinBox))...))
		})
		framework.Eventually(t, time.Minute, "guilder's mailbox has the common and the special objects", func() bool {
			return assert.ObjectsAreEqual(sorted("ConfigMap/commonstuff/httpd-htdocs", "Deployment/commonstuff/commond", "Namespace/commonstuff",
				"Deployment/specialstuff/speciald", "Namespace/specialstuff"), sorted(keysOf(wrapped(guilderBox))...))
		})
	})

	t.Run("customized per destination, stripped of server-owned fields", func(t *testing.T) {
		for box, want := range map[string]string{florinBox: "in eu", guilderBox: "in us"} {
			d, err := wrapper.Unwrap(wrapped(box)["Deployment/commonstuff/commond"])
			require.NoError(t, err)
			containers, _, _ := unstructuredSlice(d.Object, "spec", "template", "spec", "containers")
			assert.Equal(t, want, containers[0].(map[string]any)["env"].([]any)[0].(map[string]any)["value"])
			md := d.Object["metadata"].(map[string]any)
			for _, f := range []string{"uid", "resourceVersion", "managedFields", "generation", "creationTimestamp"} {
				assert.NotContains(t, md, f)
			}
			assert.NotContains(t, d.Object, "status")
		}
	})

	t.Run("executing-count says how many destinations", func(t *testing.T) {
		for key, want := range map[client.Object]string{
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "commond", Namespace: "commonstuff"}}:     "2",
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "speciald", Namespace: "specialstuff"}}:   "1",
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "httpd-htdocs", Namespace: "commonstuff"}}: "2",
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "specialstuff"}}:                           "1",
		} {
			framework.Eventually(t, time.Minute, key.GetName()+" has its count", func() bool {
				require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(key), key))
				return key.GetAnnotations()[wrapper.AnnotationExecutingCount] == want
			})
		}
	})

	t.Run("the SyncerConfig is the union of what reaches the mailbox", func(t *testing.T) {
		cfg := &edgev2alpha1.SyncerConfig{}
		framework.Eventually(t, time.Minute, "guilder's config lists upsync and both namespaces", func() bool {
			if espw.Get(ctx, client.ObjectKey{Namespace: guilderBox, Name: wrapper.SyncerConfigName}, cfg) != nil {
				return false
			}
			return len(cfg.Spec.Upsync) == 1 && len(cfg.Spec.NamespaceScope.Namespaces) == 2
		})
		assert.Equal(t, []string{"commonstuff", "specialstuff"}, cfg.Spec.NamespaceScope.Namespaces)
		assert.Equal(t, "group1.test", cfg.Spec.Upsync[0].APIGroup)
		require.NoError(t, espw.Get(ctx, client.ObjectKey{Namespace: florinBox, Name: wrapper.SyncerConfigName}, cfg))
		assert.Empty(t, cfg.Spec.Upsync, "no placement reaching florin asks for upsync")
	})

	t.Run("a mailbox with no wrappers gets a valid SyncerConfig", func(t *testing.T) {
		// No placement selects this Location: its mailbox holds nothing.
		dollar := framework.EnsureLocation(t, imw, "dollar", map[string]string{"env": "test"})
		box := mailbox.Name(imw1.Status.Cluster, dollar.UID)
		cfg := &edgev2alpha1.SyncerConfig{}
		framework.Eventually(t, time.Minute, "the empty mailbox has its SyncerConfig", func() bool {
			return espw.Get(ctx, client.ObjectKey{Namespace: box, Name: wrapper.SyncerConfigName}, cfg) == nil
		})
		assert.Empty(t, cfg.Spec.NamespaceScope.Namespaces)
		assert.Empty(t, cfg.Spec.NamespacedObjects)
		assert.Empty(t, cfg.Spec.ClusterScope)
		assert.Empty(t, cfg.Spec.Upsync)
		assert.NotContains(t, translator.Log(), "is invalid", "no SyncerConfig write is refused")
	})

	t.Run("placement reconciles read from caches", func(t *testing.T) {
		// Requests the workload space's API server gets: LISTs of the watched workload kinds,
		// and discovery.
		lists := func(labels map[string]string) bool {
			return labels["verb"] == "LIST" && (labels["resource"] == "deployments" || labels["resource"] == "configmaps" || labels["resource"] == "namespaces")
		}
		discovery := func(labels map[string]string) bool {
			return labels["verb"] == "GET" && labels["resource"] == "" && (labels["subresource"] == "api" || labels["subresource"] == "apis")
		}
		const controller, n = "placement-translator-placements", 20
		reconciled, listed, discovered := reconciles(t, controller), apiserverRequests(t, srv, "root:wmw1", lists), apiserverRequests(t, srv, "root:wmw1", discovery)
		for i := range n {
			before := reconciles(t, controller)
			ep := &edgev2alpha1.EdgePlacement{}
			edit(t, wmw, client.ObjectKey{Name: "edge-placement-c"}, ep, func() {
				ep.Annotations = map[string]string{"test.kubestellar.io/touched": strconv.Itoa(i)}
			})
			framework.Eventually(t, 30*time.Second, "the placement is reconciled", func() bool { return reconciles(t, controller) > before })
		}
		reconciled = reconciles(t, controller) - reconciled
		listed = apiserverRequests(t, srv, "root:wmw1", lists) - listed
		discovered = apiserverRequests(t, srv, "root:wmw1", discovery) - discovered
		t.Logf("%v placement reconciles: %v LISTs of workload kinds, %v discovery requests (the space's own controller manager makes some too)", reconciled, listed, discovered)
		assert.Zero(t, listed, "no reconcile lists live")
		assert.Less(t, discovered, float64(n), "no reconcile asks for discovery afresh")
	})

	t.Run("an edit reaches every destination", func(t *testing.T) {
		cm := &corev1.ConfigMap{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "httpd-htdocs"}, cm))
		cm.Data["index.html"] = "hello again"
		require.NoError(t, wmw.Update(ctx, cm))
		for _, box := range []string{florinBox, guilderBox} {
			framework.Eventually(t, time.Minute, "the wrapper in "+box+" is updated", func() bool {
				w := wrapped(box)["ConfigMap/commonstuff/httpd-htdocs"]
				return w != nil && strings.Contains(string(w.Spec.Object.Raw), "hello again")
			})
		}
	})

	t.Run("every label update of a namespace reaches every destination", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "commonstuff"}}
		setLabel := func(value string) {
			patch := mustJSON(t, map[string]any{"metadata": map[string]any{"labels": map[string]string{"test.kubestellar.io/rev": value}}})
			require.NoError(t, wmw.Patch(ctx, ns, client.RawPatch(types.MergePatchType, patch)))
		}
		reached := func(value string) {
			for _, box := range []string{florinBox, guilderBox} {
				framework.Eventually(t, 30*time.Second, "the namespace's wrapper in "+box+" has rev "+value, func() bool {
					w := wrapped(box)["Namespace/commonstuff"]
					if w == nil {
						return false
					}
					obj, err := wrapper.Unwrap(w)
					require.NoError(t, err)
					return obj.GetLabels()["test.kubestellar.io/rev"] == value
				})
			}
		}
		// One at a time: each update's reconcile starts as soon as its event arrives, and
		// must read a copy at least as new as that event, for no later event comes.
		for i := range 20 {
			setLabel("step-" + strconv.Itoa(i))
			reached("step-" + strconv.Itoa(i))
		}
		// In quick succession: the wrappers end with the last one.
		const n = 30
		for i := range n {
			setLabel("burst-" + strconv.Itoa(i))
		}
		reached("burst-" + strconv.Itoa(n-1))
	})

	t.Run("an unknown parameter is an error condition", func(t *testing.T) {
		c := &edgev2alpha1.Customizer{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "commonstuff", Name: "region"}, c))
		c.Replacements[0].Value.Raw = []byte(`"in %(planet)"`)
		require.NoError(t, wmw.Update(ctx, c))
		ep := &edgev2alpha1.EdgePlacement{}
		framework.Eventually(t, time.Minute, "Delivered is False, naming the parameter", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: "edge-placement-c"}, ep))
			cond := meta.FindStatusCondition(ep.Status.Conditions, placement.ConditionDelivered)
			return cond != nil && cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, "%(planet)")
		})
		assert.True(t, meta.IsStatusConditionTrue(ep.Status.Conditions, where.ConditionResolved), "the where-resolver's condition stays")
		d, err := wrapper.Unwrap(wrapped(florinBox)["Deployment/commonstuff/commond"])
		require.NoError(t, err)
		assert.Contains(t, string(mustJSON(t, d.Object)), "in eu", "the last good copy stays")
		framework.Eventually(t, time.Minute, "a Warning Event on the placement names the parameter", func() bool {
			list := &eventsv1.EventList{}
			require.NoError(t, wmw.List(ctx, list))
			return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Regarding.Kind == "EdgePlacement" && e.Regarding.Name == "edge-placement-c" && e.Type == corev1.EventTypeWarning &&
					e.Reason == "CustomizationFailed" && strings.Contains(e.Note, "%(planet)")
			})
		})

		c.Replacements[0].Value.Raw = []byte(`"in %(region)"`)
		require.NoError(t, wmw.Update(ctx, c))
		framework.Eventually(t, time.Minute, "Delivered is True again", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: "edge-placement-c"}, ep))
			return meta.IsStatusConditionTrue(ep.Status.Conditions, placement.ConditionDelivered)
		})
	})

	t.Run("a translator restart takes nothing away, not even for a moment", func(t *testing.T) {
		before := map[string]string{}
		for _, box := range []string{florinBox, guilderBox} {
			for key, w := range wrapped(box) {
				before[box+"/"+key] = string(w.UID)
			}
		}
		translator.Stop()
		translator.Start()
		framework.Consistently(t, 10*time.Second, "every wrapper stays, with the same UID", func() bool {
			n := 0
			for _, box := range []string{florinBox, guilderBox} {
				for key, w := range wrapped(box) {
					n++
					if before[box+"/"+key] != string(w.UID) {
						return false
					}
				}
			}
			return n == len(before)
		})
	})

	wrapperUIDs := func() map[string]string {
		out := map[string]string{}
		for _, box := range []string{florinBox, guilderBox} {
			for key, w := range wrapped(box) {
				out[box+"/"+key] = string(w.UID)
			}
		}
		return out
	}

	t.Run("a workload space that cannot answer keeps the upsync it asked for", func(t *testing.T) {
		before := wrapperUIDs()
		// The translator restarts while wmw1's API server is frozen: it cannot tell what the
		// placements there ask, and must not take that for "nothing".
		translator.Stop()
		thaw := freeze(t, srv, srv.WaitSpaceReady("wmw1").Status.Cluster)
		translator.Start()
		framework.Consistently(t, 20*time.Second, "guilder's SyncerConfig keeps its upsync, every wrapper stays", func() bool {
			cfg := &edgev2alpha1.SyncerConfig{}
			if err := espw.Get(ctx, client.ObjectKey{Namespace: guilderBox, Name: wrapper.SyncerConfigName}, cfg); err != nil {
				return false
			}
			return len(cfg.Spec.Upsync) == 1 && assert.ObjectsAreEqual(before, wrapperUIDs())
		})
		thaw()
	})

	t.Run("a slice missing for a moment takes nothing away", func(t *testing.T) {
		before := wrapperUIDs()
		resolver.Stop()
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.SinglePlacementSlice{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-c"}}))
		framework.Consistently(t, 10*time.Second, "every wrapper stays, with the same UID", func() bool {
			return assert.ObjectsAreEqual(before, wrapperUIDs())
		})
		resolver.Start()
		framework.Eventually(t, time.Minute, "the slice is back", func() bool {
			return wmw.Get(ctx, client.ObjectKey{Name: "edge-placement-c"}, &edgev2alpha1.SinglePlacementSlice{}) == nil
		})
		framework.Consistently(t, 5*time.Second, "every wrapper stays", func() bool {
			return assert.ObjectsAreEqual(before, wrapperUIDs())
		})
	})

	t.Run("objects come and go with their namespace's labels", func(t *testing.T) {
		// Objects are selected by the labels of their namespace: a label put on (or taken off)
		// the namespace later, or a namespace seen after its objects, as after a restart,
		// changes what is delivered.
		require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "teamstuff"}}))
		require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "team-settings", Namespace: "teamstuff"}, Data: map[string]string{"team": "blue"}}))
		require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
			ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-team"},
			Spec: edgev2alpha1.EdgePlacementSpec{
				LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"region": "eu"}}},
				Downsync: []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"},
					NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"team": "blue"}}}}},
			},
		}))
		team := sorted("ConfigMap/teamstuff/team-settings", "Namespace/teamstuff")
		has := func(want bool) func() bool {
			return func() bool {
				w := wrapped(florinBox)
				got := w["ConfigMap/teamstuff/team-settings"] != nil && w["Namespace/teamstuff"] != nil
				none := w["ConfigMap/teamstuff/team-settings"] == nil && w["Namespace/teamstuff"] == nil
				return (want && got) || (!want && none)
			}
		}
		ns := &corev1.Namespace{}
		setTeam := func(value string) {
			edit(t, wmw, client.ObjectKey{Name: "teamstuff"}, ns, func() {
				if value == "" {
					delete(ns.Labels, "team")
					return
				}
				if ns.Labels == nil {
					ns.Labels = map[string]string{}
				}
				ns.Labels["team"] = value
			})
		}
		setTeam("blue")
		framework.Eventually(t, time.Minute, "florin's mailbox gets "+strings.Join(team, " and "), has(true))
		setTeam("")
		framework.Eventually(t, time.Minute, "florin's mailbox loses "+strings.Join(team, " and "), has(false))
		setTeam("blue")
		framework.Eventually(t, time.Minute, "florin's mailbox gets "+strings.Join(team, " and ")+" again", has(true))

		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-team"}}))
		require.NoError(t, wmw.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "teamstuff"}}))
		framework.Eventually(t, time.Minute, "florin's mailbox is back to the common objects", func() bool {
			return assert.ObjectsAreEqual(sorted("ConfigMap/commonstuff/httpd-htdocs", "Deployment/commonstuff/commond", "Namespace/commonstuff"), sorted(keysOf(wrapped(florinBox))...))
		})
	})

	t.Run("deleting a placement removes its wrappers", func(t *testing.T) {
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-s"}}))
		framework.Eventually(t, time.Minute, "guilder keeps only the common objects", func() bool {
			return assert.ObjectsAreEqual(sorted("ConfigMap/commonstuff/httpd-htdocs", "Deployment/commonstuff/commond", "Namespace/commonstuff"), sorted(keysOf(wrapped(guilderBox))...))
		})
		d := &appsv1.Deployment{}
		framework.Eventually(t, time.Minute, "speciald has no destinations", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "specialstuff", Name: "speciald"}, d))
			return d.Annotations[wrapper.AnnotationExecutingCount] == "0"
		})
	})

	t.Run("a mailbox that empties gets an empty SyncerConfig", func(t *testing.T) {
		require.NoError(t, wmw.Delete(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "edge-placement-c"}}))
		framework.Eventually(t, time.Minute, "florin's mailbox is empty", func() bool { return len(wrapped(florinBox)) == 0 })
		framework.Eventually(t, time.Minute, "florin's SyncerConfig lists nothing", func() bool {
			cfg := &edgev2alpha1.SyncerConfig{}
			require.NoError(t, espw.Get(ctx, client.ObjectKey{Namespace: florinBox, Name: wrapper.SyncerConfigName}, cfg))
			return len(cfg.Spec.NamespaceScope.Namespaces) == 0 && len(cfg.Spec.NamespaceScope.Resources) == 0 && len(cfg.Spec.NamespacedObjects) == 0
		})
	})
}
