// Package v2alpha1 is the KubeStellar edge API (edge.kubestellar.io/v2alpha1): the inventory
// (SyncTarget, Location), the placement rules (EdgePlacement, SinglePlacementSlice, Customizer)
// and what travels through a mailbox (WrappedObject, SyncerConfig).
//
// +kubebuilder:object:generate=true
// +groupName=edge.kubestellar.io
package v2alpha1
