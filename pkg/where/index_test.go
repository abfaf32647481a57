package where

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// TestTargetIndexAgreesWithAScan checks the index against testing every SyncTarget.
func TestTargetIndexAgreesWithAScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var items []edgev2alpha1.SyncTarget
	for i := range 300 {
		items = append(items, edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("st%d", i),
			Labels: map[string]string{"id": fmt.Sprintf("st%d", i), "env": []string{"prod", "test"}[rng.IntN(2)], "zone": fmt.Sprint(rng.IntN(5))},
		}})
	}
	deleting := metav1.Now()
	items[7].DeletionTimestamp = &deleting
	idx := newTargetIndex(items)

	selectors := []metav1.LabelSelector{
		{MatchLabels: map[string]string{"id": "st42"}},
		{MatchLabels: map[string]string{"id": "st7"}},
		{MatchLabels: map[string]string{"env": "prod", "zone": "3"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"1", "2"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"4"}}, {Key: "env", Operator: metav1.LabelSelectorOpExists}}},
		{},
	}
	for _, ls := range selectors {
		s, err := metav1.LabelSelectorAsSelector(&ls)
		require.NoError(t, err)
		var want []string
		for i := range items {
			if items[i].DeletionTimestamp == nil && s.Matches(labels.Set(items[i].Labels)) {
				want = append(want, items[i].Name)
			}
		}
		var got []string
		for _, st := range idx.matching(s) {
			got = append(got, st.Name)
		}
		assert.ElementsMatch(t, want, got, "selector %s", s)
	}
}
