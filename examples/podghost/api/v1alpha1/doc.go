// Package v1alpha1 is the API of the podghost example (example.kubestellar.io/v1alpha1): a
// PodGhost stands, in one cluster, for a Pod of the same namespace and name in another.
//
// +kubebuilder:object:generate=true
// +groupName=example.kubestellar.io
package v1alpha1
