package placement

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

func TestNewDrifts(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := wrapper.ObjectRef{Space: "s", GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: "n", Name: "c"}
	at := func(box string, when time.Time) edgev2alpha1.WrappedObject {
		w := edgev2alpha1.WrappedObject{ObjectMeta: metav1.ObjectMeta{Namespace: box, Name: "w"}}
		if !when.IsZero() {
			w.Status.Drift = &edgev2alpha1.Drift{Time: metav1.NewTime(when), Fields: []string{"data.k"}, Reverted: true}
		}
		return w
	}
	boxes := func(ws []*edgev2alpha1.WrappedObject) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Namespace)
		}
		return out
	}
	tr := &Translator{drifts: map[wrapper.ObjectRef]map[string]metav1.Time{}}

	// First seen after a restart: only what is recent is announced.
	got := tr.newDrifts(ref, []edgev2alpha1.WrappedObject{at("old", now.Add(-time.Hour)), at("new", now.Add(-time.Minute)), at("none", time.Time{})}, now)
	assert.Equal(t, []string{"new"}, boxes(got))
	// Seen already: nothing again.
	got = tr.newDrifts(ref, []edgev2alpha1.WrappedObject{at("old", now.Add(-time.Hour)), at("new", now.Add(-time.Minute))}, now)
	assert.Empty(t, got)
	// A later drift at one destination, and a first one at another, however old its time.
	got = tr.newDrifts(ref, []edgev2alpha1.WrappedObject{at("old", now), at("new", now.Add(-time.Minute)), at("third", now.Add(-time.Hour))}, now)
	assert.Equal(t, []string{"old", "third"}, boxes(got))
	// No drift left: the object is forgotten.
	assert.Empty(t, tr.newDrifts(ref, []edgev2alpha1.WrappedObject{at("old", time.Time{})}, now))
	assert.NotContains(t, tr.drifts, ref)
}
