package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EdgePlacement says which objects of its workload management workspace go to which workload
// execution clusters, and what comes back up from them.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Locations",type=integer,JSONPath=`.status.matchingLocationCount`
// +kubebuilder:printcolumn:name="Applied",type=integer,JSONPath=`.status.summary.applied`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.summary.available`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.summary.failed`
// +kubebuilder:printcolumn:name="Resolved",type=string,JSONPath=`.status.conditions[?(@.type=="Resolved")].status`,priority=1
// +kubebuilder:printcolumn:name="Singleton",type=boolean,JSONPath=`.spec.wantSingletonReportedState`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EdgePlacement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the workload owner asks for.
	Spec EdgePlacementSpec `json:"spec"`

	// Status is how far KubeStellar got with it.
	// +optional
	Status EdgePlacementStatus `json:"status,omitempty"`
}

// EdgePlacementSpec says where objects go and which objects go.
type EdgePlacementSpec struct {
	// LocationSelectors select Locations, in any inventory management workspace, by their
	// labels. A Location is chosen when any one of the selectors matches it; an empty list
	// chooses none.
	// +optional
	// +listType=atomic
	LocationSelectors []metav1.LabelSelector `json:"locationSelectors,omitempty"`

	// Downsync selects the workspace's objects that go to the chosen clusters. An object is
	// selected when any one of the tests matches it.
	// +optional
	// +listType=atomic
	Downsync []DownsyncObjectTest `json:"downsync,omitempty"`

	// WantSingletonReportedState asks that, for an object with exactly one destination, that
	// destination's reported status be written back into the object's status here.
	// +optional
	WantSingletonReportedState bool `json:"wantSingletonReportedState,omitempty"`

	// Upsync selects objects created in the workload execution clusters that are copied up
	// into their mailboxes.
	// +optional
	// +listType=atomic
	Upsync []UpsyncSet `json:"upsync,omitempty"`

	// StatusCollectors name StatusCollectors of this workspace; each selected object gets a
	// CombinedStatus holding what they make of its destinations' reports.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	StatusCollectors []string `json:"statusCollectors,omitempty"`
}

// DownsyncObjectTest matches objects by every field that is set; an empty or omitted field
// places no restriction, and "*" in a list matches everything.
type DownsyncObjectTest struct {
	// APIGroup is the object's API group; "" is the core group. Omitted matches every group.
	// +optional
	// +kubebuilder:validation:Pattern=`^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$`
	APIGroup *string `json:"apiGroup,omitempty"`

	// Resources are lowercase plural resource names, such as "deployments".
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	Resources []string `json:"resources,omitempty"`

	// Namespaces are the names of the namespaces the object may be in.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelectors select the namespaces the object may be in by their labels; any one
	// matching is enough.
	// +optional
	// +listType=atomic
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// ObjectNames are the names the object may have.
	// +optional
	// +listType=set
	ObjectNames []string `json:"objectNames,omitempty"`

	// LabelSelectors select by the object's own labels; any one matching is enough.
	// +optional
	// +listType=atomic
	LabelSelectors []metav1.LabelSelector `json:"labelSelectors,omitempty"`
}

// UpsyncSet selects objects in a workload execution cluster that are copied up. Every list
// may hold "*" to match everything.
type UpsyncSet struct {
	// APIGroup is the objects' API group; "" is the core group.
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`

	// Resources are lowercase plural resource names.
	// +kubebuilder:validation:MinItems=1
	// +listType=set
	Resources []string `json:"resources"`

	// Namespaces restrict namespaced objects to these namespaces; omitted means any.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// Names are the object names to copy.
	// +kubebuilder:validation:MinItems=1
	// +listType=set
	Names []string `json:"names"`
}

// EdgePlacementStatus reports the outcome of resolving and delivering a placement.
type EdgePlacementStatus struct {
	// Conditions: "Resolved" says whether the location selectors could be evaluated and
	// match a Location (False with reason InvalidSelector naming the problem, or
	// NoLocationMatched naming the first Locations and the terms they fail); "Delivered"
	// whether every selected object reached the mailboxes of its destinations (False with
	// reason InvalidDownsync naming a spec.downsync selector that does not parse,
	// CustomizationFailed naming the objects that could not be customized, ObjectTooLarge
	// naming those whose wrapper would not fit, or DeliveryFailed for a mix); "Conflict"
	// whether an object meets, at a destination, another placement's different content or
	// an object of the cluster's own.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// MatchingLocationCount is how many Locations the selectors currently match.
	// +optional
	MatchingLocationCount int32 `json:"matchingLocationCount"`

	// ObservedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Summary counts the selected objects over every destination: an object placed on three
	// clusters counts three times.
	// +optional
	Summary *PlacementSummary `json:"summary,omitempty"`

	// Destinations has the same counts per destination, for the first MaxDestinationStatuses
	// destinations by inventory space and SyncTarget name; Summary counts all of them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Destinations []DestinationStatus `json:"destinations,omitempty"`
}

// MaxDestinationStatuses bounds EdgePlacementStatus.Destinations, so that a placement on
// thousands of clusters keeps a status of bounded size.
const MaxDestinationStatuses = 100

// ObjectCounts says how far the selected objects got at one destination, or at all of them.
type ObjectCounts struct {
	// Selected is how many objects the placement selects (times destinations, in a summary).
	Selected int32 `json:"selected"`
	// Delivered is how many have their wrapper in the destination's mailbox.
	Delivered int32 `json:"delivered"`
	// Applied is how many the destination's syncer reports applied as wrapped (the wrapper's
	// Synced condition is True for its current generation).
	Applied int32 `json:"applied"`
	// Available is how many of the kinds that say so are available: a Deployment whose
	// Available condition is True, a StatefulSet or DaemonSet with all replicas ready and
	// updated, a Job that completed.
	Available int32 `json:"available"`
	// Failed is how many the syncer could not apply (Synced False for a reason other than
	// waiting for the object's namespace).
	Failed int32 `json:"failed"`
	// Stale is how many were delivered to a destination whose syncer has gone silent (its
	// SyncTarget is Ready False, reason Stale): what it last said of them may be out of
	// date, so they count neither as applied nor as failed.
	Stale int32 `json:"stale"`
}

// PlacementSummary totals the destinations.
type PlacementSummary struct {
	ObjectCounts `json:",inline"`
	// Destinations is how many destinations the placement has.
	Destinations int32 `json:"destinations"`
}

// DestinationStatus is what the placement's objects do at one destination.
type DestinationStatus struct {
	// Cluster is the ID of the inventory space holding the SyncTarget.
	Cluster string `json:"cluster"`
	// SyncTargetName is the destination's SyncTarget.
	SyncTargetName string `json:"syncTargetName"`
	ObjectCounts   `json:",inline"`
	// LastSyncerHeartbeatTime is the last heartbeat of the destination's syncer, as last
	// seen; it is refreshed about once a minute.
	// +optional
	LastSyncerHeartbeatTime *metav1.Time `json:"lastSyncerHeartbeatTime,omitempty"`
}

// EdgePlacementList is a list of EdgePlacements.
//
// +kubebuilder:object:root=true
type EdgePlacementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EdgePlacement `json:"items"`
}
