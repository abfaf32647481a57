package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncTarget stands for one workload execution cluster (WEC) in an inventory management
// workspace. Its labels carry its identity (by convention `id=<name>`) and whatever properties
// Locations select it by. Each SyncTarget gets a mailbox in the KubeStellar core space.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastSyncerHeartbeatTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SyncTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the workload execution cluster.
	// +optional
	Spec SyncTargetSpec `json:"spec,omitempty"`

	// Status is what KubeStellar last observed of the cluster's syncer.
	// +optional
	Status SyncTargetStatus `json:"status,omitempty"`
}

// SyncTargetSpec describes a workload execution cluster.
type SyncTargetSpec struct {
	// Cells are free-form name/value pairs describing the cluster's placement in the
	// physical or organisational world (for example region or store number).
	// +optional
	Cells map[string]string `json:"cells,omitempty"`
}

// SyncTargetStatus is what KubeStellar last observed of a SyncTarget's syncer.
type SyncTargetStatus struct {
	// LastSyncerHeartbeatTime is when the cluster's syncer last reported in.
	// +optional
	LastSyncerHeartbeatTime *metav1.Time `json:"lastSyncerHeartbeatTime,omitempty"`

	// Conditions: "Ready" is True while the syncer reports in, False with reason Stale once
	// it has been silent for three heartbeat intervals, and False with reason NoHeartbeat
	// until it first reports in. Nothing is moved or deleted because of it.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SyncTargetList is a list of SyncTargets.
//
// +kubebuilder:object:root=true
type SyncTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyncTarget `json:"items"`
}
