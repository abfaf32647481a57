package v2alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StatusCollector says how to combine, over every destination of an object, the status that
// the destinations' syncers report for it. An EdgePlacement names the StatusCollectors to
// apply to the objects it selects; the result for each object is a CombinedStatus.
//
// Every expression is CEL and sees three variables: `obj`, the workload object as it is in
// the workload management workspace; `returned`, a map whose `status` is the status reported
// from one destination ({} before the first report); and `destination`, a map with `name`
// (the SyncTarget), `space` (its inventory space) and `location` (its Location, or "").
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:printcolumn:name="Filter",type=string,JSONPath=`.spec.filter`,priority=1
// +kubebuilder:printcolumn:name="Limit",type=integer,JSONPath=`.spec.limit`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StatusCollector struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is how to combine.
	Spec StatusCollectorSpec `json:"spec"`
}

// StatusCollectorSpec holds either Select or CombinedFields, never both.
//
// +kubebuilder:validation:XValidation:rule="has(self.select) != has(self.combinedFields)",message="exactly one of spec.select and spec.combinedFields must be given"
type StatusCollectorSpec struct {
	// Filter is a CEL expression of type bool; a destination's report counts only when it is
	// true. Omitted counts every destination.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Filter string `json:"filter,omitempty"`

	// Select makes one row per counted destination, one column per expression.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Select []NamedExpression `json:"select,omitempty"`

	// CombinedFields makes one row of aggregates over the counted destinations, one column
	// per aggregate.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	CombinedFields []NamedAggregator `json:"combinedFields,omitempty"`

	// Limit is the most rows that Select keeps.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Limit int64 `json:"limit,omitempty"`
}

// DefaultStatusCollectorLimit is the Limit of a StatusCollector that gives none.
const DefaultStatusCollectorLimit = 20

// MaxStatusCollectorLimit is the largest Limit a StatusCollector may give.
const MaxStatusCollectorLimit = 100

// NamedExpression is a CEL expression and the column name of its value.
type NamedExpression struct {
	// Name is the column name.
	// +kubebuilder:validation:Pattern=`^[a-z][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Def is the CEL expression.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Def string `json:"def"`
}

// AggregatorType is a way of combining values over destinations.
//
// +kubebuilder:validation:Enum=COUNT;SUM;AVG;MIN;MAX
type AggregatorType string

// The aggregator types.
const (
	// AggregatorCount counts the counted destinations.
	AggregatorCount AggregatorType = "COUNT"
	// AggregatorSum adds up the subject's numeric values.
	AggregatorSum AggregatorType = "SUM"
	// AggregatorAvg averages the subject's numeric values.
	AggregatorAvg AggregatorType = "AVG"
	// AggregatorMin takes the smallest of the subject's numeric values.
	AggregatorMin AggregatorType = "MIN"
	// AggregatorMax takes the largest of the subject's numeric values.
	AggregatorMax AggregatorType = "MAX"
)

// NamedAggregator is one aggregate column.
//
// +kubebuilder:validation:XValidation:rule="self.type == 'COUNT' || (has(self.subject) && size(self.subject) > 0)",message="subject is required unless type is COUNT"
type NamedAggregator struct {
	// Name is the column name.
	// +kubebuilder:validation:Pattern=`^[a-z][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Type is how the values are combined.
	Type AggregatorType `json:"type"`

	// Subject is the CEL expression whose values are combined; COUNT needs none.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Subject string `json:"subject,omitempty"`
}

// StatusCollectorList is a list of StatusCollectors.
//
// +kubebuilder:object:root=true
type StatusCollectorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StatusCollector `json:"items"`
}

// CombinedStatus is the status of one workload object combined, by the StatusCollectors of
// one EdgePlacement, over the object's destinations. The placement translator writes it; it
// is named `<object UID>.<placement name>` and labelled with both.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=kubestellar
// +kubebuilder:printcolumn:name="Placement",type=string,JSONPath=`.placement`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.object.kind`
// +kubebuilder:printcolumn:name="Object",type=string,JSONPath=`.object.name`
// +kubebuilder:printcolumn:name="Destinations",type=integer,JSONPath=`.destinations`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CombinedStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Object is the workload object whose status is combined.
	Object CombinedStatusObject `json:"object"`

	// Placement is the EdgePlacement whose collectors made the results.
	Placement string `json:"placement"`

	// Destinations is how many destinations the object has (each collector's filter then
	// decides which of them count: see Results[].Counted).
	Destinations int32 `json:"destinations"`

	// Results has one entry per StatusCollector the placement names.
	// +optional
	// +listType=map
	// +listMapKey=name
	Results []CollectorResult `json:"results,omitempty"`

	// LastUpdateTime is when the results last changed.
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
}

// The labels of a CombinedStatus.
const (
	// LabelCombinedStatusPlacement is the name of the EdgePlacement that made it.
	LabelCombinedStatusPlacement = "edge.kubestellar.io/placement"
	// LabelCombinedStatusObjectUID is the UID of the workload object it is about.
	LabelCombinedStatusObjectUID = "edge.kubestellar.io/object-uid"
)

// CombinedStatusObject names a workload object.
type CombinedStatusObject struct {
	// Group is the object's API group; "" is the core group.
	// +optional
	Group string `json:"group,omitempty"`
	// Version is the API version the object was read at.
	Version string `json:"version"`
	// Resource is the lowercase plural resource name.
	Resource string `json:"resource"`
	// Kind is the object's kind.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Namespace is the object's namespace; "" for a cluster-scoped object.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
	// UID is the object's UID.
	UID string `json:"uid"`
}

// CollectorResult is what one StatusCollector made of an object's reports.
type CollectorResult struct {
	// Name is the StatusCollector.
	Name string `json:"name"`
	// Counted is how many destinations passed the collector's filter.
	// +optional
	Counted int32 `json:"counted"`
	// ColumnNames are the names of the columns, in the collector's order.
	// +listType=atomic
	ColumnNames []string `json:"columnNames"`
	// Rows hold the values: one row per counted destination for a select, a single row for
	// combined fields. A value that could not be computed is null.
	// +optional
	// +listType=atomic
	Rows [][]apiextensionsv1.JSON `json:"rows,omitempty"`
	// Errors say which destination and expression failed, the first few of them.
	// +optional
	// +listType=atomic
	Errors []string `json:"errors,omitempty"`
}

// CombinedStatusList is a list of CombinedStatuses.
//
// +kubebuilder:object:root=true
type CombinedStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CombinedStatus `json:"items"`
}
