package wrapper

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

func wrapped(t *testing.T, obj *unstructured.Unstructured) *edgev2alpha1.WrappedObject {
	t.Helper()
	ref := ObjectRef{Space: "s", GroupResource: configmaps, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	w, err := New(ref, obj, "s-mb-u", edgev2alpha1.SinglePlacement{Cluster: "i", LocationName: "l", SyncTargetName: "st", SyncTargetUID: "u"})
	require.NoError(t, err)
	return w
}

func configMap(data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "n"}, "data": data,
	}}
}

// The documented figures.
func TestLimits(t *testing.T) {
	assert.Equal(t, 1_572_864, EtcdRequestLimit)
	assert.Equal(t, 1_507_328, MaxSize)
	assert.Equal(t, 1_310_720, MaxSpecSize)
}

func TestSizeOfAConfigMapOfOneMebibyte(t *testing.T) {
	w := wrapped(t, configMap(map[string]any{"payload": strings.Repeat("0123456789abcdef", 1<<16)}))
	n, err := Size(w)
	require.NoError(t, err)
	assert.Greater(t, n, 1<<20, "the data is counted")
	assert.Less(t, n, 1<<20+1024)
	assert.NoError(t, CheckSize(w, "its wrapper", MaxSpecSize))
}

// JSON writes '<' as six bytes, as the API server stores it.
func TestSizeCountsEscaping(t *testing.T) {
	w := wrapped(t, configMap(map[string]any{"index.html": strings.Repeat("<", 300_000)}))
	n, err := Size(w)
	require.NoError(t, err)
	assert.Greater(t, n, 6*300_000)
	err = CheckSize(w, "its wrapper", MaxSpecSize)
	var tooLarge *TooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.Equal(t, n, tooLarge.Size)
	assert.Equal(t, fmt.Sprintf("its wrapper would take %d bytes (%.2f MiB) encoded, more than the 1310720 bytes (1.25 MiB) a wrapper may take (etcd takes at most 1572864 bytes in one write, the reported status included)",
		n, float64(n)/(1<<20)), err.Error())
}

// Each field of a map gets a managed-field entry, which a cached wrapper does not show.
func TestSizeCountsManagedFields(t *testing.T) {
	data := map[string]any{}
	for i := range 10_000 {
		data[fmt.Sprintf("k%05d", i)] = ""
	}
	w := wrapped(t, configMap(data))
	n, err := Size(w)
	require.NoError(t, err)
	assert.Greater(t, n, 2*len(w.Spec.Object.Raw), "each key is counted again, as f:KEY")

	w.Status.ReportedState = &edgev2alpha1.ReportedState{Status: &runtime.RawExtension{Raw: []byte(`{"a":{"b":1}}`)}}
	withStatus, err := Size(w)
	require.NoError(t, err)
	assert.Greater(t, withStatus, n+len(`{"a":{"b":1}}`)+len(`"f:a":{},"f:b":{},`)-1)
}

func TestIsTooLarge(t *testing.T) {
	for _, err := range []error{
		apierrors.NewRequestEntityTooLargeError("limit is 3145728"),
		fmt.Errorf("reporting on wrapper w: %w", apierrors.NewInternalError(errors.New("etcdserver: request is too large"))),
		&TooLargeError{What: "its wrapper", Size: 2, Limit: 1},
	} {
		assert.True(t, IsTooLarge(err), "%v", err)
	}
	for _, err := range []error{nil, apierrors.NewConflict(configmaps, "c", errors.New("changed")), errors.New("connection refused")} {
		assert.False(t, IsTooLarge(err), "%v", err)
	}
}

func TestBoundOfIsAnUpperBound(t *testing.T) {
	for _, data := range []string{"", "x", strings.Repeat("<&>", 1000), strings.Repeat("a\"b\\c\x01", 500)} {
		keys := map[string]any{}
		for i := range len(data) / 4 {
			keys[strings.Repeat("<", i+1)] = 1
		}
		cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "namespace": "n", "labels": map[string]any{"a": data}},
			"data":     map[string]any{"k": data, "<k>": data}}}
		w := wrapped(t, cm)
		w.Status.ReportedState = &edgev2alpha1.ReportedState{Status: &runtime.RawExtension{Raw: []byte(`{"note":"` + strings.Repeat("<", len(data)) + `"}`)}}
		w.Status.Conditions = []metav1.Condition{{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: "Applied", Message: data}}
		size, err := Size(w)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, boundOf(w), size, "data of %d bytes", len(data))
	}
}
