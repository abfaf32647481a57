package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncerConfig tells a mailbox's syncer which kinds of objects it handles in its workload
// execution cluster: the union of what the placements reaching the cluster ask for. There is
// one per mailbox. The placement translator writes the spec; the syncer writes the status.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kubestellar
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastSyncerHeartbeatTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SyncerConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the syncer handles.
	// +optional
	Spec SyncerConfigSpec `json:"spec,omitempty"`

	// Status is the syncer's own report.
	// +optional
	Status SyncerConfigStatus `json:"status,omitempty"`
}

// SyncerConfigSpec is what a syncer handles.
type SyncerConfigSpec struct {
	// NamespaceScope lists the namespaces and the namespaced resources that are downsynced
	// wholesale.
	// +optional
	NamespaceScope NamespaceScopeDownsyncs `json:"namespaceScope,omitempty"`

	// NamespacedObjects lists individually selected namespaced objects.
	// +optional
	// +listType=atomic
	NamespacedObjects []NamespaceScopeDownsyncObjects `json:"namespacedObjects,omitempty"`

	// ClusterScope lists the cluster-scoped resources and objects that are downsynced.
	// +optional
	// +listType=atomic
	ClusterScope []ClusterScopeDownsyncResource `json:"clusterScope,omitempty"`

	// Upsync lists what is copied up from the workload execution cluster.
	// +optional
	// +listType=atomic
	Upsync []UpsyncSet `json:"upsync,omitempty"`
}

// NamespaceScopeDownsyncs is a set of namespaces and a set of namespaced resources.
type NamespaceScopeDownsyncs struct {
	// Namespaces are namespace names.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// Resources are namespaced resources.
	// +optional
	// +listType=atomic
	Resources []NamespaceScopeDownsyncResource `json:"resources,omitempty"`
}

// NamespaceScopeDownsyncResource is one namespaced resource at one API version.
type NamespaceScopeDownsyncResource struct {
	metav1.GroupResource `json:",inline"`

	// APIVersion is the version of the resource to use.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
}

// NamespaceScopeDownsyncObjects names individual objects of one namespaced resource.
type NamespaceScopeDownsyncObjects struct {
	metav1.GroupResource `json:",inline"`

	// APIVersion is the version of the resource to use.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`

	// ObjectsByNamespace names the objects, namespace by namespace.
	// +optional
	// +listType=atomic
	ObjectsByNamespace []NamespaceAndNames `json:"objectsByNamespace,omitempty"`
}

// NamespaceAndNames is a namespace and some object names in it.
type NamespaceAndNames struct {
	// Namespace is the namespace's name.
	Namespace string `json:"namespace"`

	// Names are object names; "*" means all.
	// +optional
	// +listType=set
	Names []string `json:"names,omitempty"`
}

// ClusterScopeDownsyncResource is one cluster-scoped resource and, optionally, which of its
// objects.
type ClusterScopeDownsyncResource struct {
	metav1.GroupResource `json:",inline"`

	// APIVersion is the version of the resource to use.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`

	// Objects are object names; omitted or "*" means all.
	// +optional
	// +listType=set
	Objects []string `json:"objects,omitempty"`
}

// SyncerConfigStatus is a syncer's report about itself.
type SyncerConfigStatus struct {
	// LastSyncerHeartbeatTime is when the syncer last reported that it is running.
	// +optional
	LastSyncerHeartbeatTime *metav1.Time `json:"lastSyncerHeartbeatTime,omitempty"`

	// HeartbeatIntervalSeconds is how often the syncer reports in; a syncer silent for three
	// intervals is taken as stale.
	// +optional
	HeartbeatIntervalSeconds int32 `json:"heartbeatIntervalSeconds,omitempty"`
}

// SyncerConfigList is a list of SyncerConfigs.
//
// +kubebuilder:object:root=true
type SyncerConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyncerConfig `json:"items"`
}
