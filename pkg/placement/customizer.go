package placement

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

const (
	// AnnotationCustomizer names, on a workload object, the Customizer to apply: a name in the
	// object's namespace, or namespace/name.
	AnnotationCustomizer = "edge.kubestellar.io/customizer"
	// AnnotationExpandParameters set to "true" on a workload object expands its %(key) parameters.
	AnnotationExpandParameters = "edge.kubestellar.io/expand-parameters"
)

// customize returns the copy of obj for one destination: its Customizer's replacements
// applied and, when the object asks, %(key) parameters expanded from the destination's
// Location. obj itself is not changed.
func (t *Translator) customize(ctx context.Context, space *multicluster.Cluster, obj *unstructured.Unstructured, dest edgev2alpha1.SinglePlacement) (*unstructured.Unstructured, error) {
	annotations := obj.GetAnnotations()
	name := annotations[AnnotationCustomizer]
	expand := annotations[AnnotationExpandParameters] == "true"
	if name == "" && !expand {
		return obj, nil
	}
	out := obj.DeepCopy()
	var replacements []edgev2alpha1.Replacement
	if name != "" {
		key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}
		if ns, n, ok := strings.Cut(name, "/"); ok {
			key = types.NamespacedName{Namespace: ns, Name: n}
		}
		if err := validCustomizerRef(key); err != nil {
			return nil, fmt.Errorf("annotation %s %q: %w; give NAME (a Customizer in the object's namespace) or NAMESPACE/NAME", AnnotationCustomizer, name, err)
		}
		if key.Namespace == "" {
			return nil, fmt.Errorf("customizer %q: a cluster-scoped object must name its Customizer as namespace/name", name)
		}
		customizer := &edgev2alpha1.Customizer{}
		if err := space.GetClient().Get(ctx, key, customizer); err != nil {
			return nil, fmt.Errorf("customizer %s: %w", key, err)
		}
		replacements = customizer.Replacements
	}
	params, err := t.locationParams(ctx, dest)
	if err != nil {
		return nil, err
	}
	if err := Customize(out, replacements, expand, params); err != nil {
		return nil, err
	}
	return out, nil
}

// locationParams looks parameters up in the labels, then the annotations, of the
// destination's Location.
func (t *Translator) locationParams(ctx context.Context, dest edgev2alpha1.SinglePlacement) (Params, error) {
	imw, ok := t.mgr.Cluster(dest.Cluster)
	if !ok {
		return nil, fmt.Errorf("the space of Location %s is gone", dest.LocationName)
	}
	loc := &edgev2alpha1.Location{}
	if err := imw.GetClient().Get(ctx, types.NamespacedName{Name: dest.LocationName}, loc); err != nil {
		return nil, fmt.Errorf("location %s: %w", dest.LocationName, err)
	}
	return func(key string) (string, bool) {
		if v, ok := loc.Labels[key]; ok {
			return v, true
		}
		v, ok := loc.Annotations[key]
		return v, ok
	}, nil
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// validCustomizerRef checks that key can name a Customizer: a namespace that is a DNS label
// (or none yet, for a cluster-scoped object) and a name that is a DNS subdomain.
func validCustomizerRef(key types.NamespacedName) error {
	if key.Namespace != "" {
		if errs := validation.IsDNS1123Label(key.Namespace); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", key.Namespace, strings.Join(errs, "; "))
		}
	}
	if errs := validation.IsDNS1123Subdomain(key.Name); len(errs) > 0 {
		return fmt.Errorf("name %q: %s", key.Name, strings.Join(errs, "; "))
	}
	return nil
}
