package wrapper

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// FuzzWrapUnwrap checks the wrapper format on any object as a client decodes it from a server: the
// unwrapped object is the stripped one exactly (numbers included), stripping leaves only
// name, namespace, labels and annotations in the metadata, is idempotent and does not change
// its input, and the wrapper's name is a valid object name and its source reads back.
func FuzzWrapUnwrap(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ns","uid":"u","resourceVersion":"9","generation":3,` +
			`"labels":{"app":"x"},"annotations":{"kubestellar.io/executing-count":"2","keep":"me"}},"spec":{"replicas":2},"status":{"replicas":2}}`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"ns"},"spec":{"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],` +
			`"ports":[{"port":80,"nodePort":30080},"odd"],"healthCheckNodePort":31000}}`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"h"},"spec":{"clusterIP":"None","ports":"not a list"}}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n","finalizers":["f"]},"spec":{"finalizers":["kubernetes"]}}`,
		`{"apiVersion":"example.com/v1","kind":"Big","metadata":{"name":"b"},"spec":{"n":9007199254740993,"f":1.5,"neg":-1,"e":1e3,"z":0}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Weird:Name.","labels":{"a":"1"},"annotations":{}},"data":{"k":""}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":"not an object"}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":1}}}`,
		`{"apiVersion":"v1","kind":"ConfigMap"}`,
	} {
		f.Add([]byte(seed), "space1", "configmaps")
	}
	f.Fuzz(func(t *testing.T, data []byte, space, resource string) {
		obj := &unstructured.Unstructured{}
		if obj.UnmarshalJSON(data) != nil {
			return
		}
		// What a client gets from a server has been encoded once: a whole number written
		// as 1e3 comes back as 1000.
		encoded, err := obj.MarshalJSON()
		require.NoError(t, err)
		obj = &unstructured.Unstructured{}
		require.NoError(t, obj.UnmarshalJSON(encoded))
		input := obj.DeepCopy()
		stripped := Strip(obj)
		assert.Equal(t, input.Object, obj.Object, "Strip changed its input")

		meta, _ := stripped.Object["metadata"].(map[string]any)
		require.NotNil(t, meta, "the stripped object has no metadata")
		for k := range meta {
			assert.Contains(t, []string{"name", "namespace", "labels", "annotations"}, k, "metadata.%s kept", k)
		}
		assert.NotContains(t, stripped.Object, "status")
		for _, a := range droppedAnnotations {
			assert.NotContains(t, stripped.GetAnnotations(), a)
		}
		assert.Equal(t, stripped.Object, Strip(stripped).Object, "Strip is not idempotent")

		if space == "" || resource == "" || obj.GetName() == "" {
			return
		}
		ref := ObjectRef{Space: space, GroupResource: schema.GroupResource{Group: obj.GroupVersionKind().Group, Resource: resource},
			Namespace: obj.GetNamespace(), Name: obj.GetName()}
		w, err := New(ref, stripped, "mailbox", edgev2alpha1.SinglePlacement{Cluster: "c", LocationName: "l", SyncTargetName: "s"})
		require.NoError(t, err)
		assert.Empty(t, validation.IsDNS1123Subdomain(w.Name), "wrapper name %q", w.Name)
		if parsed, err := ParseObjectRef(w.Annotations[AnnotationSource]); err == nil {
			assert.Equal(t, ref, parsed)
		}

		back, err := Unwrap(w)
		require.NoError(t, err)
		assert.Equal(t, stripped.Object, back.Object, "unwrap(wrap(x)) is not the stripped x")
		assert.True(t, equality.Semantic.DeepEqual(stripped.Object, back.Object))
	})
}
