package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodGhost stands for the Pod of the same namespace and name in the cluster its spec names,
// and says where that Pod is and what phase it is in. The podghost controller makes, updates
// and deletes PodGhosts; nothing else acts on them.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=examples
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.cluster`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.spec.phase`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PodGhost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the Pod.
	Spec PodGhostSpec `json:"spec"`
}

// PodGhostSpec describes the Pod a PodGhost stands for.
type PodGhostSpec struct {
	// Cluster names the cluster the Pod is in: its context in the controller's kubeconfig.
	// +kubebuilder:validation:MinLength=1
	Cluster string `json:"cluster"`

	// PodUID is the Pod's UID, which tells a Pod from a later one of the same name.
	PodUID types.UID `json:"podUID"`

	// NodeName is the node the Pod is bound to; empty while it is not scheduled.
	// +optional
	NodeName string `json:"nodeName,omitempty"`

	// Phase is the Pod's phase.
	// +optional
	Phase corev1.PodPhase `json:"phase,omitempty"`
}

// PodGhostList is a list of PodGhosts.
//
// +kubebuilder:object:root=true
type PodGhostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PodGhost `json:"items"`
}
