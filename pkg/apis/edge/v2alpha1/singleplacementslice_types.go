package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// SinglePlacementSlice lists the destinations (SyncTargets) chosen for the EdgePlacement of
// the same name in the same workspace; that placement owns it. The where-resolver writes it.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SinglePlacementSlice struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Destinations are the chosen SyncTargets, each with the Location that chose it.
	// +optional
	// +listType=atomic
	Destinations []SinglePlacement `json:"destinations,omitempty"`
}

// SinglePlacement is one destination: a SyncTarget, and the Location through which it was
// chosen.
type SinglePlacement struct {
	// Cluster is the ID of the inventory management workspace holding the SyncTarget.
	// +kubebuilder:validation:MinLength=1
	Cluster string `json:"cluster"`

	// LocationName is the name of the Location that chose the SyncTarget.
	// +kubebuilder:validation:MinLength=1
	LocationName string `json:"locationName"`

	// SyncTargetName is the SyncTarget's name.
	// +kubebuilder:validation:MinLength=1
	SyncTargetName string `json:"syncTargetName"`

	// SyncTargetUID is the SyncTarget's UID; with Cluster it names the mailbox.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MinLength=1
	SyncTargetUID types.UID `json:"syncTargetUID"`
}

// SinglePlacementSliceList is a list of SinglePlacementSlices.
//
// +kubebuilder:object:root=true
type SinglePlacementSliceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SinglePlacementSlice `json:"items"`
}
