package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the edge API.
const GroupName = "edge.kubestellar.io"

// SchemeGroupVersion is the group and version of this package's types.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v2alpha1"}

var (
	// SchemeBuilder collects the functions that add this package's types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this package's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns the group-qualified resource of this API for an unqualified name.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&SyncTarget{}, &SyncTargetList{},
		&Location{}, &LocationList{},
		&EdgePlacement{}, &EdgePlacementList{},
		&SinglePlacementSlice{}, &SinglePlacementSliceList{},
		&SyncerConfig{}, &SyncerConfigList{},
		&Customizer{}, &CustomizerList{},
		&WrappedObject{}, &WrappedObjectList{},
		&StatusCollector{}, &StatusCollectorList{},
		&CombinedStatus{}, &CombinedStatusList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
