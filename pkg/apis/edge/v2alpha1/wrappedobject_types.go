package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WrappedObject carries one workload object, for one destination, through a mailbox: the
// placement translator writes the spec, the destination's syncer applies the object in its
// workload execution cluster and reports the object's state in the status. One wrapper holds
// exactly one object, so any object that fits in the API server fits in a wrapper.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=wobj,categories=kubestellar
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.object.kind`
// +kubebuilder:printcolumn:name="Object-Namespace",type=string,JSONPath=`.spec.object.metadata.namespace`
// +kubebuilder:printcolumn:name="Object-Name",type=string,JSONPath=`.spec.object.metadata.name`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WrappedObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the object and where it goes.
	Spec WrappedObjectSpec `json:"spec"`

	// Status is what the syncer last reported.
	// +optional
	Status WrappedObjectStatus `json:"status,omitempty"`
}

// WrappedObjectSpec is one workload object and its destination.
type WrappedObjectSpec struct {
	// Object is the workload object as the workload execution cluster should have it, with
	// server-owned metadata removed.
	// +kubebuilder:validation:EmbeddedResource
	// +kubebuilder:pruning:PreserveUnknownFields
	Object runtime.RawExtension `json:"object"`

	// Destination is the SyncTarget the object is for; absent on an object upsynced from a
	// workload execution cluster.
	// +optional
	Destination *SinglePlacement `json:"destination,omitempty"`
}

// WrappedObjectStatus is a syncer's report on one object.
type WrappedObjectStatus struct {
	// Conditions: "Synced" says whether the syncer could put the object into its cluster,
	// with the error when it could not.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ReportedState is the object's state in the workload execution cluster.
	// +optional
	ReportedState *ReportedState `json:"reportedState,omitempty"`

	// Drift is the last change the syncer found made in the cluster to fields it sets.
	// +optional
	Drift *Drift `json:"drift,omitempty"`
}

// Drift is a change made in a workload execution cluster to fields of an object that the
// syncer sets there.
type Drift struct {
	// Time is when the syncer found it.
	Time metav1.Time `json:"time"`
	// Fields are the paths of the fields that differed, the first MaxDriftFields of them.
	// +listType=atomic
	Fields []string `json:"fields"`
	// Reverted says whether the syncer put its values back. It does unless the workload
	// object carries the annotation edge.kubestellar.io/drift: report, which asks that the
	// change be reported and left in place.
	Reverted bool `json:"reverted"`
}

// MaxDriftFields bounds Drift.Fields.
const MaxDriftFields = 20

// ReportedState is a workload object's state as seen in its workload execution cluster.
type ReportedState struct {
	// Status is the object's status stanza, conditions included, as the cluster has it.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Status *runtime.RawExtension `json:"status,omitempty"`

	// ObservedGeneration is the object's generation in that cluster when the status was read.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// WrappedObjectList is a list of WrappedObjects.
//
// +kubebuilder:object:root=true
type WrappedObjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WrappedObject `json:"items"`
}
