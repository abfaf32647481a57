package placement

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
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
	namespaces  = schema.GroupResource{Resource: "namespaces"}
	crds        = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
)

func TestSelects(t *testing.T) {
	commond := Candidate{GR: deployments, Namespaced: true, NamespaceLabels: map[string]string{"common": "true"},
		Object: obj(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: commond, namespace: commonstuff, labels: {app: common}}}`)}
	cm := Candidate{GR: configmaps, Namespaced: true, NamespaceLabels: map[string]string{},
		Object: obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: httpd-htdocs, namespace: commonstuff}}`)}
	ns := Candidate{GR: namespaces, NamespaceLabels: map[string]string{"common": "true"},
		Object: obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: commonstuff, labels: {common: "true"}}}`)}
	crd := Candidate{GR: crds, Object: obj(t, `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: sprockets.group1.test}}`)}

	for _, tc := range []struct {
		name string
		test edgev2alpha1.DownsyncObjectTest
		want map[*Candidate]bool
	}{
		{"empty test selects everything", edgev2alpha1.DownsyncObjectTest{},
			map[*Candidate]bool{&commond: true, &cm: true, &ns: true, &crd: true}},
		{"apiGroup", edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To("apps")},
			map[*Candidate]bool{&commond: true, &cm: false}},
		{"core group", edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To("")},
			map[*Candidate]bool{&commond: false, &cm: true, &ns: true}},
		{"resources", edgev2alpha1.DownsyncObjectTest{Resources: []string{"configmaps"}},
			map[*Candidate]bool{&commond: false, &cm: true}},
		{"star resources", edgev2alpha1.DownsyncObjectTest{Resources: []string{"*"}},
			map[*Candidate]bool{&commond: true, &cm: true}},
		{"namespaces select contents and the namespace, not other cluster-scoped objects",
			edgev2alpha1.DownsyncObjectTest{Namespaces: []string{"commonstuff"}},
			map[*Candidate]bool{&commond: true, &cm: true, &ns: true, &crd: false}},
		{"other namespace", edgev2alpha1.DownsyncObjectTest{Namespaces: []string{"specialstuff"}},
			map[*Candidate]bool{&commond: false, &ns: false}},
		{"namespace selectors", edgev2alpha1.DownsyncObjectTest{NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"common": "true"}}}},
			map[*Candidate]bool{&commond: true, &ns: true}},
		{"object names", edgev2alpha1.DownsyncObjectTest{ObjectNames: []string{"commond"}},
			map[*Candidate]bool{&commond: true, &cm: false}},
		{"label selectors, any of", edgev2alpha1.DownsyncObjectTest{LabelSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{"app": "other"}}, {MatchLabels: map[string]string{"app": "common"}}}},
			map[*Candidate]bool{&commond: true, &cm: false}},
		{"cluster-scoped CRD by name", edgev2alpha1.DownsyncObjectTest{APIGroup: ptr.To("apiextensions.k8s.io"), Resources: []string{"customresourcedefinitions"}, ObjectNames: []string{"sprockets.group1.test"}},
			map[*Candidate]bool{&crd: true, &commond: false}},
	} {
		for c, want := range tc.want {
			assert.Equal(t, want, Selects([]edgev2alpha1.DownsyncObjectTest{tc.test}, *c), "%s: %s", tc.name, c.Object.GetName())
		}
	}
}

func TestExcludedObjects(t *testing.T) {
	for _, tc := range []struct {
		gr   schema.GroupResource
		yaml string
		want bool
	}{
		{schema.GroupResource{Resource: "serviceaccounts"}, `{kind: ServiceAccount, metadata: {name: default, namespace: x}}`, true},
		{schema.GroupResource{Resource: "serviceaccounts"}, `{kind: ServiceAccount, metadata: {name: app, namespace: x}}`, false},
		{configmaps, `{kind: ConfigMap, metadata: {name: kube-root-ca.crt, namespace: x}}`, true},
		{schema.GroupResource{Resource: "secrets"}, `{kind: Secret, type: kubernetes.io/service-account-token, metadata: {name: t, namespace: x}}`, true},
		{schema.GroupResource{Resource: "secrets"}, `{kind: Secret, type: Opaque, metadata: {name: t, namespace: x}}`, false},
		{schema.GroupResource{Resource: "events"}, `{kind: Event, metadata: {name: e, namespace: x}}`, true},
		{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, `{kind: Lease, metadata: {name: l, namespace: x}}`, true},
		{schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, `{kind: EndpointSlice, metadata: {name: e, namespace: x}}`, true},
		{schema.GroupResource{Group: "edge.kubestellar.io", Resource: "edgeplacements"}, `{kind: EdgePlacement, metadata: {name: p}}`, true},
		{namespaces, `{kind: Namespace, metadata: {name: default}}`, true},
		{namespaces, `{kind: Namespace, metadata: {name: commonstuff}}`, false},
		{configmaps, `{kind: ConfigMap, metadata: {name: c, namespace: kube-system}}`, true},
		{schema.GroupResource{Resource: "services"}, `{kind: Service, metadata: {name: kubernetes, namespace: default}}`, true},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, `{kind: ClusterRole, metadata: {name: admin, labels: {kubernetes.io/bootstrapping: rbac-defaults}}}`, true},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, `{kind: ClusterRole, metadata: {name: app-reader}}`, false},
	} {
		assert.Equal(t, tc.want, ExcludedObject(tc.gr, obj(t, tc.yaml)), tc.yaml)
	}
}

func TestCustomize(t *testing.T) {
	deployment := func() *unstructured.Unstructured {
		return obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: "n", annotations: {note: "100%% for %(env)"}}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: c
        env: [{name: ENV, value: x}]
`)
	}
	location := map[string]string{"env": "prod", "region": "eu"}
	params := func(k string) (string, bool) { v, ok := location[k]; return v, ok }
	repl := func(path, value string) edgev2alpha1.Replacement {
		return edgev2alpha1.Replacement{Path: path, Value: apiextensionsv1.JSON{Raw: []byte(value)}}
	}

	d := deployment()
	require.NoError(t, Customize(d, []edgev2alpha1.Replacement{
		repl("$.spec.template.spec.containers[0].env[0].value", `"env is %(env) in %(region)"`),
		repl("$.spec.replicas", `3`),
		repl("$.metadata.labels", `{"tier": "%(region)"}`),
	}, true, params))
	env, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	assert.Equal(t, "env is prod in eu", env[0].(map[string]any)["env"].([]any)[0].(map[string]any)["value"])
	replicas, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
	assert.EqualValues(t, 3, replicas)
	assert.Equal(t, map[string]string{"tier": "eu"}, d.GetLabels())
	assert.Equal(t, "100% for prod", d.GetAnnotations()["note"], "the object's own strings are expanded, %% is %")

	// Without expansion, parameters stay as they are.
	d = deployment()
	require.NoError(t, Customize(d, []edgev2alpha1.Replacement{repl("$.spec.replicas", `"%(env)"`)}, false, params))
	replicas, _, _ = unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
	assert.Equal(t, "%(env)", replicas)

	for _, tc := range []struct {
		r    edgev2alpha1.Replacement
		want string
	}{
		{repl("$.spec.replicas", `"%(zone)"`), "parameter %(zone) is neither a label nor an annotation of the destination Location"},
		{repl("$.spec.template.spec.containers[*].name", `"x"`), "only single non-negative indices"},
		{repl("$", `{}`), "names nothing inside the object"},
		{repl(".", `{}`), "names nothing inside the object"},
		{repl("$.spec.replicas.", `3`), `replacements[0].path "$.spec.replicas.": a field name is empty`},
		{repl("$.metadata['']", `3`), "a field name is empty"},
		{repl(". .spec.replicas", `3`), "a field name is empty"},
		{repl("$.spec.nothere.deeper", `1`), `replacements[0].path "$.spec.nothere.deeper"`},
		{repl("$.metadata[0]", `"x"`), "[0] is an index, but $['metadata'] is an object: name a field instead"},
		{repl("[0]", `"x"`), "[0] is an index, but the top level is an object"},
		{repl("$.spec.template.spec.containers.0.image", `"x"`), `"0" is a field, but $['spec']['template']['spec']['containers'] is a list: use an index such as [0]`},
		{repl("$.metadata.name", `"other"`), `replacements[0].path "$.metadata.name" changes the object's identity (apps/v1 Deployment n/d to apps/v1 Deployment n/other)`},
		{repl("$.metadata.namespace", `"m"`), "a Customizer may not change apiVersion, kind, metadata.name or metadata.namespace"},
		{repl("$.metadata", `{"name": "d"}`), "changes the object's identity"},
		{repl("$.kind", `"StatefulSet"`), "changes the object's identity"},
		{repl("$.apiVersion", `"apps/v2"`), "changes the object's identity"},
	} {
		err := Customize(deployment(), []edgev2alpha1.Replacement{tc.r}, true, params)
		require.Error(t, err, tc.r.Path)
		assert.Contains(t, err.Error(), tc.want)
	}
}
