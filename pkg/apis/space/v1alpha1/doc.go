// Package v1alpha1 is the space API (space.kubestellar.io/v1alpha1): a Space object in the root
// space declares a child space, served by its own kube-apiserver behind the space server's
// front proxy.
//
// +kubebuilder:object:generate=true
// +groupName=space.kubestellar.io
package v1alpha1
