package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Space declares, in the root space, the child space `root:<name>`, served at
// `/clusters/root:<name>` by the space server. Deleting the Space stops the space's
// API server and deletes its data.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",message="metadata.name must be a DNS label (lowercase letters, digits and '-', at most 63 characters), because it becomes one segment of the space path root:<name>"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.status.cluster`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Space struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user asks for.
	// +optional
	Spec SpaceSpec `json:"spec,omitempty"`

	// Status is what the space server reports.
	// +optional
	Status SpaceStatus `json:"status,omitempty"`
}

// SpaceSpec is what a user asks of a space. Every space is an empty Kubernetes API endpoint,
// so there is nothing to choose yet.
type SpaceSpec struct{}

// LabelRole is the label that says what a Space is for; the space server sizes the space's API
// surface and processes by it. It is set when the space is created and not changed later. A
// Space without it is a general space and serves the whole Kubernetes API.
const LabelRole = "space.kubestellar.io/role"

// LabelReplica names the space server replica that serves a Space, when several replicas
// share one etcd; a Space without it is served by the replica that serves the root space. It
// is set when the space is created: changing it moves the space, which stops on the old
// replica before it starts on the new one.
const LabelReplica = "space.kubestellar.io/replica"

// The roles a Space may have (values of LabelRole).
const (
	// RoleCore is the KubeStellar core space (ESPW): the KubeStellar API and the mailboxes.
	RoleCore = "core"
	// RoleInventory is an inventory management space (IMW): SyncTargets and Locations.
	RoleInventory = "inventory"
	// RoleWorkload is a workload management space (WMW): workload objects and their
	// placements, so it serves every built-in workload API.
	RoleWorkload = "workload"
)

// SpacePhase is where a space is in its life.
// +kubebuilder:validation:Enum=Initializing;Ready;Terminating
type SpacePhase string

// The phases of a space.
const (
	// SpacePhaseInitializing means the space's API server is being started.
	SpacePhaseInitializing SpacePhase = "Initializing"
	// SpacePhaseReady means the space answers requests.
	SpacePhaseReady SpacePhase = "Ready"
	// SpacePhaseTerminating means the space and its data are being deleted.
	SpacePhaseTerminating SpacePhase = "Terminating"
)

// SpaceStatus is what the space server reports about a space.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cluster) || (has(self.cluster) && self.cluster == oldSelf.cluster)",message="status.cluster is immutable once set"
type SpaceStatus struct {
	// Phase is where the space is in its life.
	// +optional
	Phase SpacePhase `json:"phase,omitempty"`

	// Cluster is the space's stable ID: 16 lowercase base-36 characters, chosen at random
	// when the space is created and never changed.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-z]{16}$`
	Cluster string `json:"cluster,omitempty"`

	// URL is where the space is served, through the space server's front proxy.
	// +optional
	URL string `json:"url,omitempty"`

	// Conditions: "Ready" says whether the space answers requests and, when not, why.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SpaceList is a list of Spaces.
//
// +kubebuilder:object:root=true
type SpaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Space `json:"items"`
}
