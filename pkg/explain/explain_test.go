package explain_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/explain"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestPlacement(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("ximw1")
	srv.CreateSpaceWithAPI("ximw2")
	srv.CreateSpaceWithAPI("xwmw")
	ctx := t.Context()
	imw1, imw2, wmw := srv.Client("root:ximw1"), srv.Client("root:ximw2"), srv.Client("root:xwmw")
	sp, _, err := spaces.NewClient(srv.Config(spaces.RootPath))
	require.NoError(t, err)

	// Inventory: edge-1 is prod in zone a, edge-2 is dev, edge-3 is prod without a zone;
	// edge-4's Location selects no SyncTarget.
	edge1 := framework.EnsureLocation(t, imw1, "edge-1", map[string]string{"env": "prod", "zone": "a"})
	framework.EnsureLocation(t, imw1, "edge-2", map[string]string{"env": "dev"})
	framework.EnsureLocation(t, imw2, "edge-3", map[string]string{"env": "prod"})
	framework.EnsureLocation(t, imw2, "edge-4", map[string]string{"env": "prod", "zone": "b"})
	loc := &edgev2alpha1.Location{}
	require.NoError(t, imw2.Get(ctx, client.ObjectKey{Name: "edge-4"}, loc))
	loc.Spec.InstanceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"id": "gone"}}
	require.NoError(t, imw2.Update(ctx, loc))

	// Workload objects.
	for _, name := range []string{"shop", "other"} {
		require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
	}
	require.NoError(t, wmw.Create(ctx, framework.Deployment("web", "shop")))
	require.NoError(t, wmw.Create(ctx, framework.Deployment("web", "other")))
	shopLabels := map[string]string{"app": "shop"}
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "shop", Labels: shopLabels}}))
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "other"}}))
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "extra", Namespace: "shop", Labels: shopLabels}}))
	require.NoError(t, wmw.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "shop", Labels: shopLabels}}))

	ep := &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{
				MatchLabels:      map[string]string{"env": "prod"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
			}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{
				{APIGroup: ptr.To("apps"), Resources: []string{"deployments"}, Namespaces: []string{"shop"}},
				{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, ObjectNames: []string{"settings"},
					LabelSelectors: []metav1.LabelSelector{{MatchLabels: shopLabels}}},
			},
		},
	}
	require.NoError(t, wmw.Create(ctx, ep))
	nowhere := &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "nowhere"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "staging"}}},
		},
	}
	require.NoError(t, wmw.Create(ctx, nowhere))

	t.Run("locations: which selector term fails on which label", func(t *testing.T) {
		r, err := explain.Placement(ctx, sp, "root:xwmw", "shop")
		require.NoError(t, err)
		text := r.Text()
		for _, want := range []string{
			`EdgePlacement "shop" in root:xwmw`,
			"Locations: 2 of 4 selected, 1 destination",
			`location "edge-1" in root:ximw1: selected by locationSelectors[0]; SyncTargets: edge-1`,
			`location "edge-2" in root:ximw1: not selected: locationSelectors[0]: label env: want "prod", has "dev"; SyncTargets: edge-2`,
			`location "edge-3" in root:ximw2: not selected: locationSelectors[0]: matchExpressions key=zone operator=In values=[a b]: label zone absent; SyncTargets: edge-3`,
			`location "edge-4" in root:ximw2: selected by locationSelectors[0]; its spec.instanceSelector selects no SyncTarget: SyncTarget "edge-3": label id: want "gone", has "edge-3"; SyncTarget "edge-4": label id: want "gone", has "edge-4"`,
		} {
			assert.Contains(t, text, want+"\n")
		}
		assert.NotContains(t, text, "root:xwmw: ", "the workload space holds no Location")
	})

	t.Run("objects: which test selects each, and which field fails the others", func(t *testing.T) {
		r, err := explain.Placement(ctx, sp, "root:xwmw", "shop")
		require.NoError(t, err)
		text := r.Text()
		for _, want := range []string{
			"Objects: 3 of 7 selected",
			"  deployments.apps shop/web: selected by downsync[0]",
			`  deployments.apps other/web: not selected: downsync[0].namespaces: namespace "other" is not one of [shop]; downsync[1].apiGroup: API group is "apps", want ""`,
			"  configmaps shop/settings: selected by downsync[1]",
			`  configmaps shop/extra: not selected: downsync[0].apiGroup: API group is "", want "apps"; downsync[1].objectNames: name "extra" is not one of [settings]`,
			`  configmaps other/settings: not selected: downsync[0].apiGroup: API group is "", want "apps"; downsync[1].labelSelectors: labelSelectors[0]: label app: want "shop", absent`,
			`  secrets shop/settings: not selected: downsync[0].apiGroup: API group is "", want "apps"; downsync[1].resources: resource is "secrets", want one of [configmaps]`,
			"  namespaces shop: selected, with the objects selected in it",
		} {
			assert.Contains(t, text, want+"\n")
		}
		for _, never := range []string{"kube-root-ca.crt", "namespaces other", "namespaces default", "serviceaccounts", "customresourcedefinitions"} {
			assert.NotContains(t, text, never, "objects no test concerns, and objects every cluster makes, are not listed")
		}
	})

	t.Run("json and yaml are the same stable structure", func(t *testing.T) {
		r, err := explain.Placement(ctx, sp, "root:xwmw", "shop")
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, r.Write(&buf, "json"))
		var fromJSON map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &fromJSON))
		buf.Reset()
		require.NoError(t, r.Write(&buf, "yaml"))
		var fromYAML map[string]any
		require.NoError(t, yaml.Unmarshal(buf.Bytes(), &fromYAML))
		assert.Equal(t, fromJSON, fromYAML)

		locations := fromJSON["locations"].([]any)
		require.Len(t, locations, 4)
		edge2 := locations[1].(map[string]any)
		assert.Equal(t, map[string]any{
			"space": "root:ximw1", "name": "edge-2", "selected": false, "syncTargets": []any{"edge-2"},
			"notSelected": []any{map[string]any{"term": float64(0), "reason": `label env: want "prod", has "dev"`}},
		}, edge2)
		var secret map[string]any
		for _, o := range fromJSON["objects"].([]any) {
			if m := o.(map[string]any); m["resource"] == "secrets" {
				secret = m
			}
		}
		assert.Equal(t, map[string]any{
			"group": "", "resource": "secrets", "namespace": "shop", "name": "settings", "selected": false,
			"notSelected": []any{
				map[string]any{"test": float64(0), "field": "apiGroup", "reason": `API group is "", want "apps"`},
				map[string]any{"test": float64(1), "field": "resources", "reason": `resource is "secrets", want one of [configmaps]`},
			},
		}, secret)
		assert.InDelta(t, 1, fromJSON["destinations"], 0)
		assert.Error(t, r.Write(&buf, "table"), "an unknown format is refused")
	})

	t.Run("what explain says is what the where-resolver does", func(t *testing.T) {
		framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 2}))
		slice := &edgev2alpha1.SinglePlacementSlice{}
		framework.Eventually(t, time.Minute, "the slice of shop has edge-1", func() bool {
			return wmw.Get(ctx, client.ObjectKey{Name: "shop"}, slice) == nil && len(slice.Destinations) == 1
		})
		assert.Equal(t, edge1.UID, slice.Destinations[0].SyncTargetUID)

		got := &edgev2alpha1.EdgePlacement{}
		framework.Eventually(t, time.Minute, "nowhere is not resolved to any Location", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(nowhere), got))
			c := meta.FindStatusCondition(got.Status.Conditions, where.ConditionResolved)
			return c != nil && c.Reason == where.ReasonNoLocationMatched
		})
		r, err := explain.Placement(ctx, sp, "root:xwmw", "nowhere")
		require.NoError(t, err)
		text := r.Text()
		assert.Contains(t, text, `Resolved: False NoLocationMatched: no Location matches (4 looked at): location "edge-1" in root:ximw1: locationSelectors[0]: label env: want "staging", has "prod"; `)
		assert.Contains(t, text, "Locations: 0 of 4 selected, 0 destinations\n")
		assert.Contains(t, text, "Objects: none selected, spec.downsync is empty\n")
		assert.False(t, slices.ContainsFunc(r.Locations, func(l explain.Location) bool { return l.Selected }))
	})

	t.Run("a missing placement is an error naming it", func(t *testing.T) {
		_, err := explain.Placement(ctx, sp, "root:xwmw", "absent")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `no EdgePlacement "absent" in space root:xwmw`)
	})

	t.Run("an invalid location selector is reported, objects still explained", func(t *testing.T) {
		bad := &edgev2alpha1.EdgePlacement{
			ObjectMeta: metav1.ObjectMeta{Name: "bad"},
			Spec: edgev2alpha1.EdgePlacementSpec{
				LocationSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Resembles"}}}},
				Downsync:          []edgev2alpha1.DownsyncObjectTest{{Resources: []string{"configmaps"}, Namespaces: []string{"shop"}}},
			},
		}
		require.NoError(t, wmw.Create(ctx, bad))
		r, err := explain.Placement(ctx, sp, "root:xwmw", "bad")
		require.NoError(t, err)
		text := r.Text()
		assert.Contains(t, text, `Locations: none selected, the location selectors are invalid: spec.locationSelectors[0]: "Resembles" is not a valid label selector operator`)
		assert.Contains(t, text, "  configmaps shop/extra: selected by downsync[0]\n")
		assert.True(t, strings.Contains(text, "  namespaces shop: selected, with the objects selected in it\n"), text)
	})
}
