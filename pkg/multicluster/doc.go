// Package multicluster is a library for controllers that watch objects in many clusters
// (spaces), in the spirit of the Admiralty multicluster-controller, built from
// controller-runtime parts:
//
//   - a Manager holds the clusters and runs the controllers;
//   - a Cluster is one API endpoint with its own client and informer cache
//     (a controller-runtime cluster.Cluster), named by the Source that added it;
//   - a Controller watches kinds in any number of clusters and feeds one rate-limited,
//     de-duplicating work queue of Requests {Cluster, Namespace, Name}, which a level-based
//     Reconciler works off (a controller-runtime TypedController);
//   - Sources add and remove clusters at run time: SpaceSource follows Space objects,
//     StaticSource takes the contexts of a kubeconfig.
//
// A watch is started in a cluster only once that cluster serves the kind, so a space that
// gets a CRD later is picked up when the CRD is established. When a cluster is removed,
// every object a controller watched there is replayed as deleted, so reconcilers can clean
// up what they made for it.
package multicluster
