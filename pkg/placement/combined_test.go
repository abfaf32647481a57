package placement

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/combinedstatus"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

func TestCombinedStatusName(t *testing.T) {
	uid := "0f8fad5b-d9cb-469f-a165-70867728950e"
	assert.Equal(t, uid+".web", CombinedStatusName(uid, "web"))
	long := strings.Repeat("a", 200) + "." + strings.Repeat("b", 52)
	name := CombinedStatusName(uid, long)
	assert.Len(t, name, 253)
	assert.True(t, strings.HasPrefix(name, uid+".aaa"))
	assert.Empty(t, validation.IsDNS1123Subdomain(name))
	assert.Equal(t, name, CombinedStatusName(uid, long), "the same every time")
	assert.NotEqual(t, name, CombinedStatusName(uid, long+"c"), "names that share a prefix stay apart")
	// A cut that ends in a dot is trimmed, so that the name stays valid.
	dotted := strings.Repeat("a", 205) + "." + strings.Repeat("b", 40)
	assert.Empty(t, validation.IsDNS1123Subdomain(CombinedStatusName(uid, dotted)))
}

func TestSameCombined(t *testing.T) {
	mk := func(raw string) *edgev2alpha1.CombinedStatus {
		var rows [][]apiextensionsv1.JSON
		if raw != "" {
			rows = [][]apiextensionsv1.JSON{{{Raw: []byte(raw)}}}
		}
		return &edgev2alpha1.CombinedStatus{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{edgev2alpha1.LabelCombinedStatusPlacement: "p"}},
			Placement:  "p",
			Results:    []edgev2alpha1.CollectorResult{{Name: "c", ColumnNames: []string{"x"}, Rows: rows}},
		}
	}
	assert.True(t, sameCombined(mk("3"), mk("3")))
	assert.True(t, sameCombined(mk(`{"a": 1}`), mk(`{"a":1}`)), "the same JSON, spaced differently")
	// A null that the API server returns decodes as no bytes.
	nullRead := mk("null")
	nullRead.Results[0].Rows[0][0].Raw = nil
	assert.True(t, sameCombined(nullRead, mk("null")))
	assert.False(t, sameCombined(mk("3"), mk("4")))
	now := metav1.Now()
	withTime := mk("3")
	withTime.LastUpdateTime = &now
	assert.True(t, sameCombined(withTime, mk("3")), "the update time does not count")
	noLabel := mk("3")
	noLabel.Labels = nil
	assert.False(t, sameCombined(noLabel, mk("3")), "a label taken away is put back")
}

func TestCombinedPlanCondition(t *testing.T) {
	ep := &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	plan := &combinedPlan{}
	assert.True(t, plan.sameCondition(ep), "no collectors, no condition")
	plan.cond = collectedCondition(ep, metav1.ConditionFalse, ReasonCollectorNotFound, "no StatusCollector x")
	assert.False(t, plan.sameCondition(ep))
	ep.Status.Conditions = []metav1.Condition{*plan.cond}
	assert.True(t, plan.sameCondition(ep))
	ep.Generation = 3
	plan.cond = collectedCondition(ep, metav1.ConditionFalse, ReasonCollectorNotFound, "no StatusCollector x")
	assert.Equal(t, ep.Status.Conditions[0].LastTransitionTime, plan.cond.LastTransitionTime, "the same status keeps its transition time")
	assert.False(t, plan.sameCondition(ep), "a new generation is reported")
	assert.False(t, (&combinedPlan{}).sameCondition(ep), "a condition no longer wanted is taken away")
}

func TestCombinedStatusForSaysWhenDestinationsAreCapped(t *testing.T) {
	col, errs := combinedstatus.Compile(&edgev2alpha1.StatusCollectorSpec{CombinedFields: []edgev2alpha1.NamedAggregator{
		{Name: "n", Type: edgev2alpha1.AggregatorCount}}})
	require.Empty(t, errs)
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "namespace": "ns", "uid": "u1"}}}
	ref := wrapper.ObjectRef{Space: "s", GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: "ns", Name: "c"}
	reports := make([]combinedstatus.Report, maxCombinedDestinations)
	cs, err := combinedStatusFor(t.Context(), "p", ref, o, []namedCollector{{name: "count", collector: col}}, reports, maxCombinedDestinations+5)
	require.NoError(t, err)
	assert.Equal(t, "u1.p", cs.Name)
	assert.EqualValues(t, maxCombinedDestinations+5, cs.Destinations)
	require.Len(t, cs.Results, 1)
	assert.Equal(t, []string{"only the first 1000 of 1005 destinations were evaluated"}, cs.Results[0].Errors)
	assert.Equal(t, "1000", string(cs.Results[0].Rows[0][0].Raw))
	assert.Equal(t, edgev2alpha1.CombinedStatusObject{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespace: "ns", Name: "c", UID: "u1"}, cs.Object)
}
