// Package placement is the placement translator: for every destination of every
// SinglePlacementSlice it puts into that SyncTarget's mailbox one WrappedObject per workload
// object selected by the placement's downsync tests (customized for the destination), removes
// wrappers no longer wanted, writes each mailbox's SyncerConfig, and brings reported state
// back to the workload objects (the kubestellar.io/executing-count annotation, and the status
// of singletons).
package placement
