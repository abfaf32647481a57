package placement

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/jsonpath"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// fuzzParams are the parameters the expansion fuzz target knows; their values hold no '%',
// so that what an expansion writes is never read as another parameter.
var fuzzParams = map[string]string{"region": "eu-west", "env": "prod", "a.b/c": "x y", "": "empty-key", "zone": ""}

func lookupFuzzParam(key string) (string, bool) {
	v, ok := fuzzParams[key]
	return v, ok
}

// FuzzExpandString checks %(key) expansion: a known parameter never survives it, %% is an
// escape that gives back the text, a parameter between plain text is replaced by its value,
// and an unknown parameter is an error naming it.
func FuzzExpandString(f *testing.F) {
	for _, s := range []string{
		"", "plain", "%(region)", "%(env)-%(region)", "100%", "100%%", "%%(region)", "%(unknown)",
		"%(region", "%(", "%)", "%%%(env)", "a%b%(zone)c", "%(a.b/c)", "%()", "%(%(env))", "%%%", "%(env)%",
	} {
		f.Add(s, "pre-", "-post")
	}
	f.Fuzz(func(t *testing.T, s, prefix, suffix string) {
		out, err := ExpandString(s, lookupFuzzParam)
		if err != nil {
			assert.Contains(t, s, "%(", "only a parameter can fail: %q", s)
			if !strings.Contains(err.Error(), "unterminated") {
				assert.Contains(t, err.Error(), "is neither a label nor an annotation", "%q", s)
			}
		} else if !strings.Contains(s, "%%") {
			// Without the escape, every %(known) in the input is replaced, and the values add none.
			for key := range fuzzParams {
				assert.NotContains(t, out, "%("+key+")", "expanding %q gave %q", s, out)
			}
		}

		// %% is the escape of %: any text escaped expands back to itself.
		escaped := strings.ReplaceAll(s, "%", "%%")
		back, err := ExpandString(escaped, lookupFuzzParam)
		require.NoError(t, err, "expanding the escaped %q", escaped)
		assert.Equal(t, s, back, "expanding the escaped %q", escaped)

		// A known parameter between unescaped text becomes its value.
		pre, post := strings.ReplaceAll(prefix, "%", "%%"), strings.ReplaceAll(suffix, "%", "%%")
		for key, value := range fuzzParams {
			if strings.Contains(key, ")") {
				continue
			}
			got, err := ExpandString(pre+"%("+key+")"+post, lookupFuzzParam)
			require.NoError(t, err)
			assert.Equal(t, prefix+value+suffix, got)
		}
		// An unknown one is an error that names it.
		if !strings.Contains(s, ")") {
			if _, known := fuzzParams[s]; !known {
				_, err := ExpandString(pre+"%("+s+")"+post, lookupFuzzParam)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "%("+s+")")
			}
		}
	})
}

// FuzzCustomizeReplacement checks the JSONPath replacements of a Customizer: an accepted
// path and value leave the value at that path (read back with client-go's JSONPath), the
// rest of the object is kept, and a refused one is an error naming replacements[0].
func FuzzCustomizeReplacement(f *testing.F) {
	object := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ns","labels":{"app":"x"}},` +
		`"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"A","value":"1"}]}]}}}}`
	for _, seed := range []struct{ obj, path, value string }{
		{object, "$.spec.replicas", `3`},
		{object, "$.spec.template.spec.containers[0].image", `"nginx:%(env)"`},
		{object, "$.spec.template.spec.containers[0].env[1]", `{"name":"B","value":"%(region)"}`},
		{object, "$.metadata.labels['app.kubernetes.io/name']", `"web"`},
		{object, "$.metadata.annotations.new", `"%%(x)"`},
		{object, "$.metadata.labels.escaped", `"100%% %%(env)"`},
		{object, "$.spec.template.spec.containers[*].image", `"x"`},
		{object, "$.spec.template.spec.containers[-1]", `"x"`},
		{object, "$.spec.template.spec.containers[0:2]", `"x"`},
		{object, "$", `{}`},
		{object, "$.spec..image", `"x"`},
		{object, "$.a~b/c", `null`},
		{`{"kind":"ConfigMap","data":{"k":"v"}}`, "$.data['k']", `"%(zone)"`},
		{`{"list":[1,2]}`, "$.list[2]", `3`},
		{`{"list":[1,2]}`, "$.list[5]", `3`},
	} {
		f.Add(seed.obj, seed.path, seed.value, true)
	}
	f.Fuzz(func(t *testing.T, objJSON, path, valueJSON string, expand bool) {
		in := map[string]any{}
		if json.Unmarshal([]byte(objJSON), &in) != nil || !json.Valid([]byte(valueJSON)) {
			return
		}
		obj := &unstructured.Unstructured{Object: in}
		original := obj.DeepCopy()
		var value any
		require.NoError(t, json.Unmarshal([]byte(valueJSON), &value))

		replacements := []edgev2alpha1.Replacement{{Path: path, Value: apiextensionsv1.JSON{Raw: []byte(valueJSON)}}}
		err := Customize(obj, replacements, expand, lookupFuzzParam)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "replacements[0]") || expand, "error %q names no replacement", err)
			if !expand {
				assert.Equal(t, original.Object, obj.Object, "a failed customization changes nothing")
			}
			return
		}
		if expand {
			want, err := expandValue(value, lookupFuzzParam)
			require.NoError(t, err)
			value = want
		}
		parser := jsonpath.New("check").AllowMissingKeys(false)
		require.NoError(t, parser.Parse("{"+path+"}"), "an accepted path parses")
		results, err := parser.FindResults(obj.Object)
		require.NoError(t, err, "path %s after setting it in %s", path, objJSON)
		require.Len(t, results, 1)
		require.Len(t, results[0], 1, "path %s names one place", path)
		got := results[0][0].Interface()
		assert.Equal(t, canonicalJSON(t, value), canonicalJSON(t, got), "value at %s", path)

		// What the path does not name is kept: setting the original value back restores the
		// object, unless the path made a new place.
		if !expand {
			if before, err := parser.FindResults(original.Object); err == nil && len(before) == 1 && len(before[0]) == 1 {
				raw, err := json.Marshal(before[0][0].Interface())
				require.NoError(t, err)
				require.NoError(t, Customize(obj, []edgev2alpha1.Replacement{{Path: path, Value: apiextensionsv1.JSON{Raw: raw}}}, false, lookupFuzzParam))
				assert.Equal(t, canonicalJSON(t, original.Object), canonicalJSON(t, obj.Object))
			}
		}
	})
}

func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return buf.String()
}
