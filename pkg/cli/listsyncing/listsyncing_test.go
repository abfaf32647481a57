package listsyncing

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

func wrapped(object, annotation, value string, upsync bool, status string) *edgev2alpha1.WrappedObject {
	w := &edgev2alpha1.WrappedObject{
		ObjectMeta: metav1.ObjectMeta{Name: "w", Annotations: map[string]string{annotation: value}},
		Spec:       edgev2alpha1.WrappedObjectSpec{Object: runtime.RawExtension{Raw: []byte(object)}},
	}
	if upsync {
		w.Labels = map[string]string{syncer.LabelUpsync: "true"}
	}
	if status != "" {
		w.Status.ReportedState = &edgev2alpha1.ReportedState{Status: &runtime.RawExtension{Raw: []byte(status)}}
	}
	return w
}

func TestMatches(t *testing.T) {
	const policy = `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p","namespace":"n"}}`
	down := wrapped(policy, wrapper.AnnotationSource, "wmw1/networking.k8s.io/networkpolicies/n/p", false, `{"note":"edge"}`)
	up := wrapped(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"q"},"status":{"own":"yes"}}`,
		syncer.AnnotationUpsyncSource, "networking.k8s.io/networkpolicies/n/q", true, `{"note":"ignored"}`)

	var errOut bytes.Buffer
	l := &lister{errOut: &errOut, group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", resource: "networkpolicies"}
	obj, ok := l.matches(down)
	assert.True(t, ok)
	assert.Equal(t, map[string]any{"note": "edge"}, obj.Object["status"], "the reported state is the status")
	obj, ok = l.matches(up)
	assert.True(t, ok)
	assert.Equal(t, map[string]any{"own": "yes"}, obj.Object["status"], "an upsynced object keeps its own status")

	l.resource = "widgets"
	_, ok = l.matches(down)
	assert.False(t, ok, "another resource")
	assert.Empty(t, errOut.String())

	// The default resource misses; the one to give is named once.
	l = &lister{errOut: &errOut, group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", resource: "networkpolicys", defaulted: true}
	_, ok = l.matches(down)
	assert.False(t, ok)
	_, _ = l.matches(up)
	assert.Equal(t, "Objects of kind NetworkPolicy are of resource \"networkpolicies\", not \"networkpolicys\" (lowercase kind + \"s\"); give --api-resource networkpolicies\n", errOut.String())

	l = &lister{errOut: &errOut, group: "apps", version: "v1", kind: "NetworkPolicy", resource: "networkpolicies"}
	_, ok = l.matches(down)
	assert.False(t, ok, "another group")
}
