package where

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// LabelSelector is a compiled label selector that can also say why it does not match. The
// verdict is always the apimachinery selector's; when it is "no", the parts (one per
// matchLabels entry and one per matchExpressions entry, all of which must match) are tried
// one by one only to name the first that fails.
type LabelSelector struct {
	source *metav1.LabelSelector
	whole  labels.Selector
}

// CompileLabelSelector compiles s; a nil s selects nothing.
func CompileLabelSelector(s *metav1.LabelSelector) (*LabelSelector, error) {
	whole, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, err
	}
	return &LabelSelector{source: s, whole: whole}, nil
}

// Selector returns the apimachinery selector.
func (s *LabelSelector) Selector() labels.Selector { return s.whole }

// Matches reports whether the selector matches the labels.
func (s *LabelSelector) Matches(l map[string]string) bool { return s.whole.Matches(labels.Set(l)) }

// Mismatch returns why the selector does not match the labels (the first part that fails,
// and the label it looks at), or "" when it matches.
func (s *LabelSelector) Mismatch(l map[string]string) string {
	set := labels.Set(l)
	if s.whole.Matches(set) {
		return ""
	}
	if s.source == nil {
		return "no selector, which selects nothing"
	}
	keys := make([]string, 0, len(s.source.MatchLabels))
	for k := range s.source.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		want := s.source.MatchLabels[k]
		if partMatches(&metav1.LabelSelector{MatchLabels: map[string]string{k: want}}, set) {
			continue
		}
		if v, has := l[k]; has {
			return fmt.Sprintf("label %s: want %q, has %q", k, want, v)
		}
		return fmt.Sprintf("label %s: want %q, absent", k, want)
	}
	for _, e := range s.source.MatchExpressions {
		if partMatches(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{e}}, set) {
			continue
		}
		want := fmt.Sprintf("matchExpressions key=%s operator=%s", e.Key, e.Operator)
		if len(e.Values) > 0 {
			want += fmt.Sprintf(" values=[%s]", strings.Join(e.Values, " "))
		}
		if v, has := l[e.Key]; has {
			return fmt.Sprintf("%s: label %s is %q", want, e.Key, v)
		}
		return fmt.Sprintf("%s: label %s absent", want, e.Key)
	}
	return "does not match " + s.whole.String()
}

// partMatches applies one part of a valid selector (so the part is valid too).
func partMatches(part *metav1.LabelSelector, set labels.Set) bool {
	sel, err := metav1.LabelSelectorAsSelector(part)
	return err == nil && sel.Matches(set)
}

// LocationSelectors are a placement's compiled locationSelectors: a Location is chosen when
// any one of them matches its labels; none chooses nothing.
type LocationSelectors []*LabelSelector

// CompileLocationSelectors compiles a placement's locationSelectors, naming every invalid one
// by its field path.
func CompileLocationSelectors(in []metav1.LabelSelector) (LocationSelectors, error) {
	out := make(LocationSelectors, 0, len(in))
	var errs []error
	for i := range in {
		s, err := CompileLabelSelector(&in[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.locationSelectors[%d]: %w", i, err))
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Matching returns the indexes of the selectors that match the labels.
func (ls LocationSelectors) Matching(l map[string]string) []int {
	var out []int
	for i, s := range ls {
		if s.Matches(l) {
			out = append(out, i)
		}
	}
	return out
}

// Matches reports whether any selector matches the labels.
func (ls LocationSelectors) Matches(l map[string]string) bool {
	return slices.ContainsFunc(ls, func(s *LabelSelector) bool { return s.Matches(l) })
}

// TermMismatch says why one selector does not match.
type TermMismatch struct {
	// Term is the selector's index in spec.locationSelectors.
	Term int `json:"term"`
	// Reason names the failing part and the label it looks at.
	Reason string `json:"reason"`
}

// String is the mismatch as one line.
func (m TermMismatch) String() string {
	return fmt.Sprintf("locationSelectors[%d]: %s", m.Term, m.Reason)
}

// Mismatches returns, for every selector, why it does not match the labels; nil when one
// matches.
func (ls LocationSelectors) Mismatches(l map[string]string) []TermMismatch {
	if ls.Matches(l) {
		return nil
	}
	out := make([]TermMismatch, 0, len(ls))
	for i, s := range ls {
		out = append(out, TermMismatch{Term: i, Reason: s.Mismatch(l)})
	}
	return out
}

// NotSelectedReason is why a Location with labels l is not chosen, as one line.
func (ls LocationSelectors) NotSelectedReason(l map[string]string) string {
	if len(ls) == 0 {
		return "spec.locationSelectors is empty, which selects no Location"
	}
	var parts []string
	for _, m := range ls.Mismatches(l) {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, "; ")
}
