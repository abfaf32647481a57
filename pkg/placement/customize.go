package placement

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/jsonpath"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// Params looks up the value of a %(key) parameter for a destination.
type Params func(key string) (string, bool)

// Customize applies the replacements to obj in place, expanding %(key) parameters in their
// string values when expand is set. An unknown parameter, a path that is not a plain
// JSONPath (fields and indices only) or a path into nothing is an error naming it.
func Customize(obj *unstructured.Unstructured, replacements []edgev2alpha1.Replacement, expand bool, params Params) error {
	doc, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	if expand {
		// The object's own strings are expanded before the replacements go in, so that each
		// string is expanded once: a replacement's %% stays a literal %.
		if doc, err = expandJSON(doc, params); err != nil {
			return err
		}
	}
	for i, r := range replacements {
		parts, err := pathParts(r.Path)
		if err == nil {
			err = checkPartKinds(doc, parts)
		}
		if err != nil {
			return fmt.Errorf("replacements[%d].path %q: %w", i, r.Path, err)
		}
		pointer := jsonPointer(parts)
		value := r.Value.Raw
		if expand {
			if value, err = expandJSON(value, params); err != nil {
				return fmt.Errorf("replacements[%d].value: %w", i, err)
			}
		}
		// Replace what is there; add what is not (a new field; for a list, only at its end).
		next, err := applyOp(doc, "replace", pointer, value)
		if err != nil {
			next, err = applyOp(doc, "add", pointer, value)
		}
		if err != nil {
			return fmt.Errorf("replacements[%d].path %q: %w", i, r.Path, err)
		}
		// The wrapper, the destination's copy and the status that comes back are all found by
		// the object's identity, so a replacement may not change it.
		if before, after := identityOf(doc), identityOf(next); before != after {
			return fmt.Errorf("replacements[%d].path %q changes the object's identity (%s to %s): a Customizer may not change apiVersion, kind, metadata.name or metadata.namespace", i, r.Path, before, after)
		}
		doc = next
	}
	out := map[string]any{}
	if err := json.Unmarshal(doc, &out); err != nil {
		return err
	}
	obj.Object = out
	return nil
}

// identity is what names an object: its apiVersion, kind, namespace and name.
type identity struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"metadata"`
}

func (id identity) String() string {
	return fmt.Sprintf("%s %s %s/%s", id.APIVersion, id.Kind, id.Metadata.Namespace, id.Metadata.Name)
}

// identityOf reads the identity of a JSON object; what does not decode has the zero identity.
func identityOf(doc []byte) identity {
	var id identity
	_ = json.Unmarshal(doc, &id)
	return id
}

func applyOp(doc []byte, op, pointer string, value []byte) ([]byte, error) {
	patch, err := json.Marshal([]map[string]any{{"op": op, "path": pointer, "value": json.RawMessage(value)}})
	if err != nil {
		return nil, err
	}
	decoded, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	return decoded.Apply(doc)
}

// pathPart is one step of a path: a field name, or an index into a list.
type pathPart struct {
	name  string
	index bool
}

// pathParts reads a JSONPath of fields and indices ($.a.b[0]['c.d']) into its steps.
func pathParts(path string) ([]pathPart, error) {
	if !utf8.ValidString(path) {
		// JSON would turn the bytes into U+FFFD, a field other than the one named.
		return nil, fmt.Errorf("the path is not valid UTF-8")
	}
	parser, err := jsonpath.Parse("path", "{"+path+"}")
	if err != nil {
		return nil, err
	}
	var parts []pathPart
	for _, list := range parser.Root.Nodes {
		l, ok := list.(*jsonpath.ListNode)
		if !ok {
			return nil, fmt.Errorf("unsupported expression")
		}
		for _, n := range l.Nodes {
			switch node := n.(type) {
			case *jsonpath.FieldNode:
				if node.Value == "$" || node.Value == "" && len(l.Nodes) == 1 {
					// The object itself ("$" or "."): it names nothing inside, said below.
					continue
				}
				if node.Value == "" {
					// A dot at the end or before a space, or [''], which JSONPath reads as a
					// field named "": the value would land elsewhere than the path says.
					return nil, fmt.Errorf("a field name is empty (a dot at the end or before a space, or ['']): name the field, or remove the dot")
				}
				parts = append(parts, pathPart{name: node.Value})
			case *jsonpath.ArrayNode:
				// The parser reads [i] as the slice [i:i+1].
				p := node.Params
				if !p[0].Known || p[0].Value < 0 || !p[1].Known || p[1].Value != p[0].Value+1 || p[2].Known {
					return nil, fmt.Errorf("only single non-negative indices such as [0] are supported")
				}
				parts = append(parts, pathPart{name: strconv.Itoa(p[0].Value), index: true})
			default:
				return nil, fmt.Errorf("only fields and indices are supported, not %s", n)
			}
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("the path names nothing inside the object")
	}
	return parts, nil
}

// checkPartKinds refuses a path whose index meets an object or whose field meets a list.
// A JSON pointer writes both as /0, so JSON patch would take [0] on an object as a field
// named "0", and .0 on a list as its first element: not what the path says.
func checkPartKinds(doc []byte, parts []pathPart) error {
	var at any
	if err := json.Unmarshal(doc, &at); err != nil {
		return err
	}
	for i, part := range parts {
		switch node := at.(type) {
		case map[string]any:
			if part.index {
				return fmt.Errorf("[%s] is an index, but %s is an object: name a field instead", part.name, describePrefix(parts[:i]))
			}
			at = node[part.name]
		case []any:
			if !part.index {
				return fmt.Errorf("%q is a field, but %s is a list: use an index such as [0]", part.name, describePrefix(parts[:i]))
			}
			n, _ := strconv.Atoi(part.name)
			if n >= len(node) {
				return nil
			}
			at = node[n]
		default:
			// Nothing there yet, or a scalar: JSON patch itself refuses what cannot be added.
			return nil
		}
	}
	return nil
}

// describePrefix names the value a path's first steps lead to, for an error.
func describePrefix(parts []pathPart) string {
	if len(parts) == 0 {
		return "the top level"
	}
	var b strings.Builder
	b.WriteString("$")
	for _, p := range parts {
		if p.index {
			b.WriteString("[" + p.name + "]")
		} else {
			b.WriteString("['" + p.name + "']")
		}
	}
	return b.String()
}

// jsonPointer writes a path's steps as a JSON pointer.
func jsonPointer(parts []pathPart) string {
	escaper := strings.NewReplacer("~", "~0", "/", "~1")
	escaped := make([]string, len(parts))
	for i, p := range parts {
		escaped[i] = escaper.Replace(p.name)
	}
	return "/" + strings.Join(escaped, "/")
}

// expandJSON expands %(key) in every string of a JSON document; %% stands for %.
func expandJSON(doc []byte, params Params) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	v, err := expandValue(v, params)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func expandValue(v any, params Params) (any, error) {
	switch x := v.(type) {
	case string:
		return ExpandString(x, params)
	case []any:
		for i := range x {
			e, err := expandValue(x[i], params)
			if err != nil {
				return nil, err
			}
			x[i] = e
		}
	case map[string]any:
		for k := range x {
			e, err := expandValue(x[k], params)
			if err != nil {
				return nil, err
			}
			x[k] = e
		}
	}
	return v, nil
}

// ExpandString expands %(key) parameters in s; %% stands for %, and a % followed by anything
// else is left as it is.
func ExpandString(s string, params Params) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '%':
			b.WriteByte('%')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				return "", fmt.Errorf("unterminated parameter in %q", s)
			}
			key := s[i+2 : i+2+end]
			value, ok := params(key)
			if !ok {
				return "", fmt.Errorf("parameter %%(%s) is neither a label nor an annotation of the destination Location", key)
			}
			b.WriteString(value)
			i += 2 + end
		default:
			b.WriteByte('%')
		}
	}
	return b.String(), nil
}
