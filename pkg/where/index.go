package where

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// targetIndex finds the SyncTargets of one space that match a selector without testing every
// one: a selector with an equality requirement (such as id=NAME, which every Location made by
// `kubectl kubestellar ensure location` has) is answered from an index by label.
type targetIndex struct {
	all     []*edgev2alpha1.SyncTarget
	byLabel map[string][]*edgev2alpha1.SyncTarget // "key=value" → targets
}

func newTargetIndex(items []edgev2alpha1.SyncTarget) *targetIndex {
	idx := &targetIndex{byLabel: map[string][]*edgev2alpha1.SyncTarget{}}
	for i := range items {
		st := &items[i]
		if !st.DeletionTimestamp.IsZero() {
			continue
		}
		idx.all = append(idx.all, st)
		for k, v := range st.Labels {
			idx.byLabel[k+"="+v] = append(idx.byLabel[k+"="+v], st)
		}
	}
	return idx
}

// matching returns the targets the selector selects.
func (idx *targetIndex) matching(s labels.Selector) []*edgev2alpha1.SyncTarget {
	candidates := idx.all
	if reqs, ok := s.Requirements(); ok {
		for _, r := range reqs {
			if (r.Operator() == selection.Equals || r.Operator() == selection.DoubleEquals || r.Operator() == selection.In) && r.Values().Len() == 1 {
				candidates = idx.byLabel[r.Key()+"="+r.Values().List()[0]]
				break
			}
		}
	}
	var out []*edgev2alpha1.SyncTarget
	for _, st := range candidates {
		if s.Matches(labels.Set(st.Labels)) {
			out = append(out, st)
		}
	}
	return out
}
