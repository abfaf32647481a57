package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Location is a named set of SyncTargets in the same inventory management workspace,
// chosen by a label selector. EdgePlacements select Locations by their labels.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource.resource`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Location struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which SyncTargets make up this Location.
	Spec LocationSpec `json:"spec"`
}

// LocationSpec says which SyncTargets make up a Location.
type LocationSpec struct {
	// Resource is the kind of object this Location is a set of. Only SyncTargets
	// (group edge.kubestellar.io, version v2alpha1, resource synctargets) are supported.
	Resource GroupVersionResource `json:"resource"`

	// InstanceSelector selects the SyncTargets, in the Location's own workspace, that make up
	// the Location. An empty selector selects every SyncTarget there.
	InstanceSelector *metav1.LabelSelector `json:"instanceSelector"`

	// Description is free text for people.
	// +optional
	Description string `json:"description,omitempty"`
}

// GroupVersionResource names the resource whose instances make up a Location.
type GroupVersionResource struct {
	// Group is the API group of the resource.
	// +kubebuilder:validation:Enum=edge.kubestellar.io
	Group string `json:"group"`

	// Version is the API version of the resource.
	// +kubebuilder:validation:Enum=v2alpha1
	Version string `json:"version"`

	// Resource is the lowercase plural resource name.
	// +kubebuilder:validation:Enum=synctargets
	Resource string `json:"resource"`
}

// LocationList is a list of Locations.
//
// +kubebuilder:object:root=true
type LocationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Location `json:"items"`
}
