package v2alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Customizer changes, in a workload management workspace, a workload object on its way to
// each destination. An object opts in with the annotation `edge.kubestellar.io/customizer`
// naming a Customizer in its own namespace (or `namespace/name`, which cluster-scoped objects
// need).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kubestellar
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Customizer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Replacements are applied in order.
	// +optional
	// +listType=atomic
	Replacements []Replacement `json:"replacements,omitempty"`
}

// Replacement sets the value at one place in the object.
type Replacement struct {
	// Path is a JSONPath expression, starting with "$.", that names the place to set, for
	// example `$.spec.template.spec.containers[0].env[1].value`.
	// +kubebuilder:validation:Pattern=`^\$\.`
	Path string `json:"path"`

	// Value is the JSON value to put there. With the object annotation
	// `edge.kubestellar.io/expand-parameters: "true"`, "%(key)" inside its strings becomes the
	// value of the destination Location's label (or annotation) `key`.
	Value apiextensionsv1.JSON `json:"value"`
}

// CustomizerList is a list of Customizers.
//
// +kubebuilder:object:root=true
type CustomizerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Customizer `json:"items"`
}
