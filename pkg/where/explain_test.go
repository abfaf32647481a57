package where

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLabelSelectorMismatch(t *testing.T) {
	expr := func(key string, op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	labels := map[string]string{"env": "dev", "zone": "c"}
	for _, tc := range []struct {
		name     string
		selector *metav1.LabelSelector
		want     string
	}{
		{"matchLabels, another value", &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}, `label env: want "prod", has "dev"`},
		{"matchLabels, absent", &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}, `label tier: want "gold", absent`},
		{"matchLabels, first failing key by name", &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a", "env": "prod"}}, `label env: want "prod", has "dev"`},
		{"matchLabels pass, expression fails", &metav1.LabelSelector{
			MatchLabels:      map[string]string{"env": "dev"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
		}, `matchExpressions key=zone operator=In values=[a b]: label zone is "c"`},
		{"In, absent", expr("region", metav1.LabelSelectorOpIn, "eu"), `matchExpressions key=region operator=In values=[eu]: label region absent`},
		{"NotIn", expr("env", metav1.LabelSelectorOpNotIn, "dev", "test"), `matchExpressions key=env operator=NotIn values=[dev test]: label env is "dev"`},
		{"Exists", expr("region", metav1.LabelSelectorOpExists), `matchExpressions key=region operator=Exists: label region absent`},
		{"DoesNotExist", expr("zone", metav1.LabelSelectorOpDoesNotExist), `matchExpressions key=zone operator=DoesNotExist: label zone is "c"`},
		{"nil selects nothing", nil, "no selector, which selects nothing"},
		{"empty selects everything", &metav1.LabelSelector{}, ""},
		{"a match", &metav1.LabelSelector{MatchLabels: map[string]string{"env": "dev"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CompileLabelSelector(tc.selector)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.Mismatch(labels))
			assert.Equal(t, tc.want == "", s.Matches(labels), "the reason agrees with the verdict")
		})
	}
}

func TestLocationSelectors(t *testing.T) {
	_, err := CompileLocationSelectors([]metav1.LabelSelector{{}, {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `spec.locationSelectors[1]: "Near" is not a valid label selector operator`)

	ls, err := CompileLocationSelectors([]metav1.LabelSelector{
		{MatchLabels: map[string]string{"env": "prod"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "extended", Operator: metav1.LabelSelectorOpExists}}},
	})
	require.NoError(t, err)
	dev := map[string]string{"env": "dev"}
	assert.False(t, ls.Matches(dev))
	assert.Empty(t, ls.Matching(dev))
	assert.Equal(t, `locationSelectors[0]: label env: want "prod", has "dev"; locationSelectors[1]: matchExpressions key=extended operator=Exists: label extended absent`, ls.NotSelectedReason(dev))
	extended := map[string]string{"env": "dev", "extended": "yes"}
	assert.Equal(t, []int{1}, ls.Matching(extended))
	assert.Nil(t, ls.Mismatches(extended))

	none, err := CompileLocationSelectors(nil)
	require.NoError(t, err)
	assert.False(t, none.Matches(nil))
	assert.Equal(t, "spec.locationSelectors is empty, which selects no Location", none.NotSelectedReason(nil))
}
