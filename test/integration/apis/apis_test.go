// Package apis shows that every KubeStellar CRD installs into a real kube-apiserver, accepts
// valid objects and refuses invalid ones with messages that name the field.
package apis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/test/framework"
)

var resources = map[string]schema.GroupVersionResource{
	"SyncTarget":           {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "synctargets"},
	"Location":             {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "locations"},
	"EdgePlacement":        {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "edgeplacements"},
	"SinglePlacementSlice": {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "singleplacementslices"},
	"SyncerConfig":         {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "syncerconfigs"},
	"Customizer":           {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "customizers"},
	"WrappedObject":        {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "wrappedobjects"},
	"StatusCollector":      {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "statuscollectors"},
	"CombinedStatus":       {Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "combinedstatuses"},
	"Space":                {Group: "space.kubestellar.io", Version: "v1alpha1", Resource: "spaces"},
}

func TestCRDs(t *testing.T) {
	srv := framework.StartAPIServer(t)
	srv.InstallCRDs(t)
	ctx := t.Context()

	t.Run("all ten kinds are served", func(t *testing.T) {
		ext, err := apiextensionsclient.NewForConfig(srv.Config)
		require.NoError(t, err)
		list, err := ext.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var kinds []string
		for _, crd := range list.Items {
			kinds = append(kinds, crd.Spec.Names.Kind)
		}
		sort.Strings(kinds)
		assert.Equal(t, []string{"CombinedStatus", "Customizer", "EdgePlacement", "Location", "SinglePlacementSlice",
			"Space", "StatusCollector", "SyncTarget", "SyncerConfig", "WrappedObject"}, kinds)
	})

	kube := kubernetes.NewForConfigOrDie(srv.Config)
	for _, ns := range []string{"mailbox", "commonstuff"} {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	dyn := dynamic.NewForConfigOrDie(srv.Config)

	t.Run("valid objects are accepted", func(t *testing.T) {
		for _, obj := range readObjects(t, "testdata/valid.yaml") {
			_, err := create(ctx, dyn, obj)
			assert.NoError(t, err, "creating %s %s", obj.GetKind(), obj.GetName())
		}
	})

	invalid := []struct {
		name string
		yaml string
		want []string
	}{{
		name: "location of something other than synctargets",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: Location, metadata: {name: l1},
			spec: {resource: {group: edge.kubestellar.io, version: v2alpha1, resource: deployments}, instanceSelector: {}}}`,
		want: []string{"spec.resource.resource", `Unsupported value: "deployments"`, `"synctargets"`},
	}, {
		name: "location without instanceSelector",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: Location, metadata: {name: l2},
			spec: {resource: {group: edge.kubestellar.io, version: v2alpha1, resource: synctargets}}}`,
		want: []string{"spec.instanceSelector", "Required value"},
	}, {
		name: "placement downsync resource not lowercase",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: EdgePlacement, metadata: {name: p1},
			spec: {downsync: [{resources: [Deployments]}]}}`,
		want: []string{"spec.downsync[0].resources[0]", "should match"},
	}, {
		name: "placement upsync without names",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: EdgePlacement, metadata: {name: p2},
			spec: {upsync: [{apiGroup: group1.test, resources: [sprockets]}]}}`,
		want: []string{"spec.upsync[0].names", "Required value"},
	}, {
		name: "placement upsync with empty resources",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: EdgePlacement, metadata: {name: p3},
			spec: {upsync: [{resources: [], names: ["*"]}]}}`,
		want: []string{"spec.upsync[0].resources", "at least 1 items"},
	}, {
		name: "slice destination without SyncTarget name",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: SinglePlacementSlice, metadata: {name: s1},
			destinations: [{cluster: abc, locationName: l, syncTargetUID: u}]}`,
		want: []string{"destinations[0].syncTargetName", "Required value"},
	}, {
		name: "syncer config resource without version",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: SyncerConfig, metadata: {name: c1, namespace: mailbox},
			spec: {clusterScope: [{group: "", resource: namespaces}]}}`,
		want: []string{"spec.clusterScope[0].apiVersion", "Required value"},
	}, {
		name: "customizer path that is not JSONPath",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: Customizer, metadata: {name: c1, namespace: commonstuff},
			replacements: [{path: spec.replicas, value: 3}]}`,
		want: []string{"replacements[0].path", "should match"},
	}, {
		name: "wrapper whose object has no kind",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: WrappedObject, metadata: {name: w1, namespace: mailbox},
			spec: {object: {apiVersion: v1, metadata: {name: x}},
			destination: {cluster: c, locationName: l, syncTargetName: s, syncTargetUID: u}}}`,
		want: []string{"spec.object.kind", "Required value"},
	}, {
		name: "status collector with both select and combinedFields",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: StatusCollector, metadata: {name: sc1},
			spec: {select: [{name: a, def: "1"}], combinedFields: [{name: b, type: COUNT}]}}`,
		want: []string{"exactly one of spec.select and spec.combinedFields must be given"},
	}, {
		name: "status collector with neither select nor combinedFields",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: StatusCollector, metadata: {name: sc2}, spec: {filter: "true"}}`,
		want: []string{"exactly one of spec.select and spec.combinedFields must be given"},
	}, {
		name: "status collector SUM without subject",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: StatusCollector, metadata: {name: sc3},
			spec: {combinedFields: [{name: b, type: SUM}]}}`,
		want: []string{"spec.combinedFields[0]", "subject is required unless type is COUNT"},
	}, {
		name: "status collector with an unknown aggregate, a bad name and a high limit",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: StatusCollector, metadata: {name: sc4},
			spec: {limit: 101, combinedFields: [{name: Bad, type: MEDIAN, subject: "1"}]}}`,
		want: []string{`spec.combinedFields[0].type: Unsupported value: "MEDIAN"`, "spec.combinedFields[0].name", "should match", "spec.limit"},
	}, {
		name: "placement naming too many status collectors",
		yaml: `{apiVersion: edge.kubestellar.io/v2alpha1, kind: EdgePlacement, metadata: {name: p4},
			spec: {statusCollectors: [a, b, c, d, e, f, g, h, i, j, k]}}`,
		want: []string{"spec.statusCollectors", "must have at most 10 items"},
	}, {
		name: "space whose name cannot be a path segment",
		yaml: `{apiVersion: space.kubestellar.io/v1alpha1, kind: Space, metadata: {name: a.b}}`,
		want: []string{"metadata.name must be a DNS label"},
	}}
	for _, tc := range invalid {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal([]byte(tc.yaml), &obj.Object))
			_, err := create(ctx, dyn, obj)
			require.Error(t, err, "the API server accepted an invalid %s", obj.GetKind())
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	t.Run("space status is checked", func(t *testing.T) {
		spaces := dyn.Resource(resources["Space"])
		space, err := spaces.Get(ctx, "imw1", metav1.GetOptions{})
		require.NoError(t, err)

		require.NoError(t, unstructured.SetNestedField(space.Object, "Running", "status", "phase"))
		_, err = spaces.UpdateStatus(ctx, space, metav1.UpdateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `status.phase: Unsupported value: "Running"`)

		require.NoError(t, unstructured.SetNestedField(space.Object, "Ready", "status", "phase"))
		require.NoError(t, unstructured.SetNestedField(space.Object, "0123456789abcdef", "status", "cluster"))
		space, err = spaces.UpdateStatus(ctx, space, metav1.UpdateOptions{})
		require.NoError(t, err)

		require.NoError(t, unstructured.SetNestedField(space.Object, "fedcba9876543210", "status", "cluster"))
		_, err = spaces.UpdateStatus(ctx, space, metav1.UpdateOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "status.cluster is immutable once set")
	})

	t.Run("kubectl get columns", func(t *testing.T) {
		for kind, want := range map[string][]string{
			"Space":          {"Name", "Phase", "Cluster", "URL", "Age"},
			"EdgePlacement":  {"Name", "Locations", "Applied", "Available", "Failed", "Age"},
			"WrappedObject":  {"Name", "Kind", "Object-Namespace", "Object-Name", "Synced", "Age"},
			"CombinedStatus": {"Name", "Placement", "Kind", "Object", "Destinations", "Age"},
		} {
			assert.Equal(t, want, tableColumns(t, srv, resources[kind]), kind)
		}
	})
}

// tableColumns asks the server for the table kubectl get prints and returns the names of the
// columns it shows without -o wide.
func tableColumns(t *testing.T, srv *framework.APIServer, gvr schema.GroupVersionResource) []string {
	t.Helper()
	client, err := kubernetes.NewForConfig(srv.Config)
	require.NoError(t, err)
	raw, err := client.Discovery().RESTClient().Get().
		AbsPath("/apis", gvr.Group, gvr.Version, gvr.Resource).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(t.Context())
	require.NoError(t, err)
	table := &metav1.Table{}
	require.NoError(t, yaml.Unmarshal(raw, table))
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	return names
}

func create(ctx context.Context, dyn dynamic.Interface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvr, ok := resources[obj.GetKind()]
	if !ok {
		return nil, errors.New("unknown kind " + obj.GetKind())
	}
	if ns := obj.GetNamespace(); ns != "" {
		return dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
	}
	return dyn.Resource(gvr).Create(ctx, obj, metav1.CreateOptions{})
}

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal(doc, &obj.Object))
		objs = append(objs, obj)
	}
}
