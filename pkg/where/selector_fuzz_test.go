package where

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// FuzzSelectorMatching checks the where-resolver's label-selector handling: an invalid
// selector is an error naming spec.locationSelectors[i], a valid one selects what the
// LabelSelector's definition says and what labels.Selector.Matches says, the same whether
// the targets are scanned or looked up in the index, and what is being deleted never.
//
// targets is one SyncTarget per line, its labels as k=v pairs separated by commas; a line
// starting with "-" is a SyncTarget being deleted.
func FuzzSelectorMatching(f *testing.F) {
	targets := "id=st1,env=prod,zone=1\nid=st2,env=test\n-id=st3,env=prod\nzone=2\n\nid=,env=prod"
	for _, sel := range []string{
		`{"matchLabels":{"id":"st1"}}`,
		`{"matchLabels":{"env":"prod","zone":"1"}}`,
		`{"matchLabels":{"id":""}}`,
		`{"matchLabels":{"id":"st3"}}`,
		`{"matchExpressions":[{"key":"zone","operator":"In","values":["1","2"]}]}`,
		`{"matchExpressions":[{"key":"zone","operator":"In","values":["2"]},{"key":"env","operator":"DoesNotExist"}]}`,
		`{"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]}`,
		`{"matchExpressions":[{"key":"env","operator":"Exists"}],"matchLabels":{"id":"st2"}}`,
		`{"matchExpressions":[{"key":"env","operator":"In","values":[]}]}`,
		`{"matchExpressions":[{"key":"env","operator":"Exists","values":["x"]}]}`,
		`{"matchExpressions":[{"key":"env","operator":"Gt","values":["1"]}]}`,
		`{"matchLabels":{"Bad Key":"x"}}`,
		`{"matchLabels":{"a":"b=c"}}`,
		`{}`,
	} {
		f.Add([]byte(sel), []byte(`{"matchLabels":{"id":"st2"}}`), targets)
	}
	f.Fuzz(func(t *testing.T, selJSON, otherJSON []byte, targets string) {
		var sel, other metav1.LabelSelector
		if json.Unmarshal(selJSON, &sel) != nil || json.Unmarshal(otherJSON, &other) != nil {
			return
		}
		items := parseTargets(targets)
		idx := newTargetIndex(items)

		compiled, err := CompileLocationSelectors([]metav1.LabelSelector{other, sel})
		_, errOther := metav1.LabelSelectorAsSelector(&other)
		s, errSel := metav1.LabelSelectorAsSelector(&sel)
		if errOther != nil || errSel != nil {
			require.Error(t, err)
			if errSel != nil {
				assert.Contains(t, err.Error(), "spec.locationSelectors[1]: ")
			}
			if errOther != nil {
				assert.Contains(t, err.Error(), "spec.locationSelectors[0]: ")
			}
			return
		}
		require.NoError(t, err)
		require.Len(t, compiled, 2)
		assert.Equal(t, s.String(), compiled[1].Selector().String())

		var want []string
		for i := range items {
			l := items[i].Labels
			byDefinition := selects(&sel, l)
			assert.Equal(t, byDefinition, s.Matches(labels.Set(l)), "selector %s on %v", s, l)
			assert.Equal(t, byDefinition, compiled[1].Matches(l), "selector %s on %v", s, l)
			either := byDefinition || selects(&other, l)
			assert.Equal(t, either, compiled.Matches(l), "selectors on %v", l)
			if either {
				assert.Empty(t, compiled.Mismatches(l))
				assert.NotEmpty(t, compiled.Matching(l))
			} else {
				assert.Len(t, compiled.Mismatches(l), 2)
				assert.NotEmpty(t, compiled.NotSelectedReason(l))
			}
			// A mismatch is explained, a match is not.
			assert.Equal(t, byDefinition, compiled[1].Mismatch(l) == "", "selector %s on %v: %q", s, l, compiled[1].Mismatch(l))
			if items[i].DeletionTimestamp == nil && byDefinition {
				want = append(want, items[i].Name)
			}
		}
		var got []string
		for _, st := range idx.matching(s) {
			got = append(got, st.Name)
		}
		slices.Sort(want)
		slices.Sort(got)
		assert.Equal(t, want, got, "selector %s", s)
	})
}

// selects is the meaning of a LabelSelector, written from its API documentation: every
// matchLabels pair and every matchExpressions requirement holds.
func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if have, ok := l[k]; !ok || have != v {
			return false
		}
	}
	for _, r := range sel.MatchExpressions {
		have, ok := l[r.Key]
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			if !ok || !slices.Contains(r.Values, have) {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if ok && slices.Contains(r.Values, have) {
				return false
			}
		case metav1.LabelSelectorOpExists:
			if !ok {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// parseTargets reads the SyncTargets of FuzzSelectorMatching, named st0, st1, ... in order.
func parseTargets(s string) []edgev2alpha1.SyncTarget {
	var items []edgev2alpha1.SyncTarget
	deleting := metav1.Now()
	for i, line := range strings.Split(s, "\n") {
		st := edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("st%d", i), Labels: map[string]string{}}}
		if rest, ok := strings.CutPrefix(line, "-"); ok {
			st.DeletionTimestamp = &deleting
			line = rest
		}
		for _, pair := range strings.Split(line, ",") {
			if k, v, ok := strings.Cut(pair, "="); ok {
				st.Labels[k] = v
			}
		}
		items = append(items, st)
	}
	return items
}
