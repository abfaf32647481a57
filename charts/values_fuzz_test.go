package charts_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// crossFieldErrors are the chart's own checks (templates/_helpers.tpl) of what the schema
// cannot say; each names the values to set.
var crossFieldErrors = []string{
	"exposure ingress needs the host clients use to reach KubeStellar: set externalEndpoint",
	"exposure tlsroute needs the host clients use to reach KubeStellar: set externalEndpoint",
	"exposure tlsroute needs the Gateway to attach to: set exposure.tlsRoute.gateway.name",
	"routes by DNS name, but externalEndpoint",
	"etcd.tlsSecret secures an external etcd, but etcd.endpoints is empty: set etcd.endpoints",
}

// FuzzValues renders the chart, as `helm template` does, with any values (a values file and
// --set, as a user gives them): values the schema refuses are an error that names the field,
// values it accepts render (or meet one of the chart's cross-field checks, which name what to
// set), and what renders is objects an API server takes: well-formed, with valid names and
// labels, and a Deployment that decodes strictly with the scheduling values given.
func FuzzValues(f *testing.F) {
	for _, seed := range []struct{ file, set string }{
		{"externalEndpoint: kubestellar.example.com:443\n", ""},
		{"", "externalEndpoint=ks.example.com:6443,exposure.type=none"},
		{"", "openshift=true"},
		{"", "exposure.type=tlsroute,externalEndpoint=ks:443,exposure.tlsRoute.gateway.name=gw"},
		{"", "exposure.type=tlsroute,externalEndpoint=ks:443"},
		{"", "externalEndpoint=192.0.2.10:443"},
		{"externalEndpoint: ks:443\nimage: {tag: v1.2.3-rc.1}\n", ""},
		{"externalEndpoint: ks:443\nimage: {tag: v1.}\n", ""},
		{"externalEndpoint: ks:443\nimage: {tag: _x}\n", ""},
		{"externalEndpoint: ks:443\nimage: {tag: " + strings.Repeat("a", 62) + "-b}\n", ""},
		{"externalEndpoint: ks:443\nimage: {registry: 'localhost:5000/mirror', repository: a/b}\n", ""},
		{"externalEndpoint: ks:443\nresources: {init: {limits: {cpu: 0.5, memory: 1e9}, requests: {cpu: '1.'}}}\n", ""},
		{"externalEndpoint: ks:443\nresources: {spaceServer: null}\n", "resources.init.requests.cpu=.5"},
		{"externalEndpoint: ks:443\nnodeSelector: {disk: ssd, 'a/b': 'x: y'}\npodAnnotations: {'example.com/a': \"{}\"}\n", ""},
		{"externalEndpoint: ks:443\ntolerations: [{key: k, operator: Exists}]\naffinity: {}\n", ""},
		{"externalEndpoint: ks:443\n", "verbosity=11"},
		{"externalEndpoint: ks:443\n", "componentVerbosity.init=-1"},
		{"externalEndpoint: ks:443\n", "storage.size=10Gi,storage.storageClassName=fast,storage.keep=true"},
		{"externalEndpoint: ks:443\n", "storage.size=lots"},
		{"externalEndpoint: ks:443\n", "ensureIMW=root:a,ensureWMW="},
		{"externalEndpoint: ks:443\n", "imagePullSecrets[0].name=creds"},
		{"externalEndpoint: ks:443\n", "exposure.ingress.annotations.x=null"},
		{"externalEndpoint: ks:443\nunknown: 1\n", ""},
		{"- not a map\n", ""},
	} {
		f.Add([]byte(seed.file), seed.set)
	}
	f.Fuzz(func(t *testing.T, file []byte, set string) {
		vals := map[string]any{}
		if yaml.Unmarshal(file, &vals) != nil || strvals.ParseInto(set, vals) != nil {
			return
		}
		r, err := render(t, vals)
		if err != nil {
			msg := err.Error()
			assert.NotContains(t, msg, "panic", "values %v", vals)
			if strings.Contains(msg, "values don't meet the specifications of the schema") {
				assert.True(t, strings.Contains(msg, "at '/") || strings.Contains(msg, "additional properties"),
					"the schema error names no field: %s", msg)
				return
			}
			for _, want := range crossFieldErrors {
				if strings.Contains(msg, want) {
					return
				}
			}
			t.Fatalf("values %v: neither refused by the schema nor by a check of the chart: %s", vals, msg)
		}

		for key, obj := range r.objs {
			assert.NotEmpty(t, obj.GetAPIVersion(), key)
			assert.Empty(t, validation.IsDNS1123Subdomain(obj.GetName()), "%s: name", key)
			for k, v := range obj.GetLabels() {
				assert.Empty(t, validation.IsQualifiedName(k), "%s: label key %q", key, k)
				assert.Empty(t, validation.IsValidLabelValue(v), "%s: label %s=%q", key, k, v)
			}
		}
		d := r.deployment(t)
		for k, v := range d.Spec.Template.Labels {
			assert.Empty(t, validation.IsValidLabelValue(v), "pod label %s=%q", k, v)
		}
		checkScheduling(t, d, vals)
	})
}

// checkScheduling checks that the pod has the node selector and annotations the values give.
func checkScheduling(t *testing.T, d *appsv1.Deployment, vals map[string]any) {
	t.Helper()
	if want, ok := vals["nodeSelector"].(map[string]any); ok && len(want) > 0 {
		require.Len(t, d.Spec.Template.Spec.NodeSelector, len(want))
		for k, v := range want {
			assert.Equal(t, v, d.Spec.Template.Spec.NodeSelector[k], "nodeSelector %s", k)
		}
	}
	if want, ok := vals["podAnnotations"].(map[string]any); ok {
		for k, v := range want {
			assert.Equal(t, v, d.Spec.Template.Annotations[k], "podAnnotations %s", k)
		}
	}
}
