// Package multicluster is a library for controllers that watch objects in many clusters
// (spaces), in the spirit of the Admiralty multicluster-controller, built from
// controller-runtime parts:
//
//   - a Manager holds the clusters and runs the controllers;
//   - a Cluster is one API endpoint with its own client, informer cache and RESTMapper
//     (a controller-runtime cluster.Cluster), named by the Source that added it;
//   - a Controller watches kinds in any number of clusters and feeds one rate-limited,
//     de-duplicating work queue of Requests {Cluster, GroupResource, Namespace, Name},
//     which a level-based Reconciler works off (a controller-runtime TypedController);
//   - Sources add and remove clusters at run time: SpaceSource follows Space objects,
//     StaticSource takes the contexts of a kubeconfig.
//
// Reads come from caches: a Cluster's client reads typed and unstructured objects from its
// informers, and its RESTMapper keeps discovery data until the cluster's CRDs change. The
// controllers of a manager share each cluster's informers; a watch is a handler of one
// controller on them, and an informer is dropped only once no watch uses it.
//
// A watch is started in a cluster only once that cluster serves the kind, so a space that
// gets a CRD later is picked up when the CRD is established. Everything run for a cluster
// runs on the cluster's own context. When a cluster is removed, it is first taken out of
// the manager, then every object a controller watched there is replayed as deleted, so
// reconcilers find the cluster gone and clean up what they made for it.
package multicluster
