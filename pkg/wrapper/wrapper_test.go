package wrapper

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(y), &u.Object))
	return u
}

var (
	deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}
	configmaps  = schema.GroupResource{Resource: "configmaps"}
	crds        = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
)

func TestStrip(t *testing.T) {
	in := obj(t, `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: commonstuff
  uid: 1234
  resourceVersion: "99"
  generation: 3
  creationTimestamp: "2026-01-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: y}]
  finalizers: [example.com/f]
  labels: {app: web}
  annotations: {kubestellar.io/executing-count: "2", kubectl.kubernetes.io/last-applied-configuration: "{}", keep: me}
spec:
  clusterIP: 10.96.0.7
  clusterIPs: [10.96.0.7]
  ports: [{port: 80, nodePort: 30080}]
status: {loadBalancer: {}}
`)
	out := Strip(in)
	assert.Equal(t, map[string]any{
		"name": "web", "namespace": "commonstuff", "labels": map[string]any{"app": "web"}, "annotations": map[string]any{"keep": "me"},
	}, out.Object["metadata"])
	assert.NotContains(t, out.Object, "status")
	spec := out.Object["spec"].(map[string]any)
	assert.NotContains(t, spec, "clusterIP")
	assert.NotContains(t, spec, "clusterIPs")
	assert.Equal(t, []any{map[string]any{"port": float64(80)}}, spec["ports"])
	assert.Equal(t, "10.96.0.7", in.Object["spec"].(map[string]any)["clusterIP"], "the input is not changed")

	headless := Strip(obj(t, `{apiVersion: v1, kind: Service, metadata: {name: h}, spec: {clusterIP: None}}`))
	assert.Equal(t, "None", headless.Object["spec"].(map[string]any)["clusterIP"])
}

func TestWrapperName(t *testing.T) {
	a := Name(ObjectRef{Space: "s1", GroupResource: deployments, Namespace: "commonstuff", Name: "commond"}, "Deployment")
	b := Name(ObjectRef{Space: "s2", GroupResource: deployments, Namespace: "commonstuff", Name: "commond"}, "Deployment")
	assert.True(t, strings.HasPrefix(a, "deployment-commonstuff-commond-"), a)
	assert.NotEqual(t, a, b, "the source space is part of the identity")
	odd := Name(ObjectRef{Space: "s1", GroupResource: schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, Name: "Weird:Name." + strings.Repeat("x", 300)}, "ClusterRole")
	assert.Empty(t, validation.IsDNS1123Subdomain(odd), odd)
	assert.LessOrEqual(t, len(odd), 253)
}

func TestObjectRefRoundTrip(t *testing.T) {
	for _, ref := range []ObjectRef{
		{Space: "abc", GroupResource: deployments, Namespace: "ns", Name: "d"},
		{Space: "abc", GroupResource: configmaps, Namespace: "ns", Name: "c"},
		{Space: "abc", GroupResource: crds, Name: "sprockets.group1.test"},
	} {
		parsed, err := ParseObjectRef(ref.String())
		require.NoError(t, err)
		assert.Equal(t, ref, parsed)
	}
}

func TestWrapUnwrap(t *testing.T) {
	ref := ObjectRef{Space: "s", GroupResource: configmaps, Namespace: "n", Name: "c"}
	in := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: n}, data: {k: v}}`)
	w, err := New(ref, in, "s-mb-u", edgev2alpha1.SinglePlacement{Cluster: "i", LocationName: "l", SyncTargetName: "st", SyncTargetUID: "u"})
	require.NoError(t, err)
	assert.Equal(t, "s-mb-u", w.Namespace)
	assert.Equal(t, ref.String(), w.Annotations[AnnotationSource])
	out, err := Unwrap(w)
	require.NoError(t, err)
	assert.Equal(t, in.Object, out.Object)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(w.Spec.Object.Raw, &raw))
	assert.Equal(t, "ConfigMap", raw["kind"])
}
