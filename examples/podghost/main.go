// Command podghost shows a controller whose objects are of a custom resource: for every Pod
// in the clusters of --contexts it keeps, in the cluster of --ghost-context, a PodGhost of the
// same namespace and name that says which cluster the Pod is in, its node and its phase, and
// it deletes the PodGhost once the Pod is gone. When Pods of the same namespace and name are
// in several of those clusters, the PodGhost stands for one of them at a time.
//
// The PodGhost CRD must be in the ghost cluster first:
//
//	kubectl create -f examples/podghost/config/crd.yaml --context cluster2
//	go run ./examples/podghost --contexts cluster1 --ghost-context cluster2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubestellar/kubestellar/examples/podghost/api/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	contexts := flag.String("contexts", "cluster1", "comma-separated contexts of the clusters whose Pods get ghosts")
	ghosts := flag.String("ghost-context", "cluster2", "context of the cluster that holds the PodGhosts (the PodGhost CRD must be installed there)")
	flag.Parse()
	sources := strings.Split(*contexts, ",")
	if slices.Contains(sources, "") || *ghosts == "" {
		fmt.Fprintln(os.Stderr, "--contexts and --ghost-context need context names, for example --contexts cluster1,cluster3 --ghost-context cluster2")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, sources, *ghosts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig string, sources []string, ghosts string) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	r := &ghoster{mgr: mgr, ghosts: ghosts}
	c, err := multicluster.NewController("podghost", r, multicluster.ControllerOptions{Concurrency: 2})
	if err != nil {
		return err
	}
	// Pods, reconciled as themselves.
	if err := c.Watch(&corev1.Pod{},
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return slices.Contains(sources, cl.Name) })); err != nil {
		return err
	}
	// PodGhosts: a ghost that changes or goes is looked at again as the Pod of its name in
	// every source cluster, so that an edited ghost is put back, a ghost left behind is
	// deleted, and a Pod waiting for a ghost held by another cluster's Pod gets it.
	if err := c.Watch(&v1alpha1.PodGhost{},
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Name == ghosts }),
		multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
			reqs := make([]multicluster.Request, 0, len(sources))
			for _, s := range sources {
				reqs = append(reqs, multicluster.Request{Cluster: s, NamespacedName: client.ObjectKeyFromObject(o)})
			}
			return reqs
		})); err != nil {
		return err
	}
	mgr.AddController(c)
	contexts := slices.Clone(sources)
	if !slices.Contains(contexts, ghosts) {
		contexts = append(contexts, ghosts)
	}
	mgr.AddSource(&multicluster.StaticSource{Kubeconfig: kubeconfig, Contexts: contexts})
	return mgr.Start(ctx)
}

type ghoster struct {
	mgr    *multicluster.Manager
	ghosts string
}

// Reconcile makes the ghost of the Pod req names, in req.Cluster, what it should be.
func (r *ghoster) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	src, ok1 := r.mgr.Cluster(req.Cluster)
	dst, ok2 := r.mgr.Cluster(r.ghosts)
	if !ok1 || !ok2 {
		return reconcile.Result{}, fmt.Errorf("clusters %s and %s are not both known", req.Cluster, r.ghosts)
	}
	served, err := dst.Serves(&v1alpha1.PodGhost{})
	if err != nil {
		return reconcile.Result{}, err
	}
	if !served {
		return reconcile.Result{}, fmt.Errorf("cluster %s does not serve PodGhosts; install the CRD: kubectl create -f examples/podghost/config/crd.yaml --context %s", r.ghosts, r.ghosts)
	}

	ghost := &v1alpha1.PodGhost{}
	err = dst.GetClient().Get(ctx, req.NamespacedName, ghost)
	haveGhost := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	pod := &corev1.Pod{}
	err = src.GetClient().Get(ctx, req.NamespacedName, pod)
	if apierrors.IsNotFound(err) {
		if !haveGhost || ghost.Spec.Cluster != req.Cluster {
			return reconcile.Result{}, nil // no ghost, or that of another cluster's Pod
		}
		return reconcile.Result{}, client.IgnoreNotFound(dst.GetClient().Delete(ctx, ghost, client.Preconditions{UID: &ghost.UID}))
	}
	if err != nil {
		return reconcile.Result{}, err
	}

	want := v1alpha1.PodGhostSpec{Cluster: req.Cluster, PodUID: pod.UID, NodeName: pod.Spec.NodeName, Phase: pod.Status.Phase}
	switch {
	case !haveGhost:
		ghost = &v1alpha1.PodGhost{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}, Spec: want}
		if err := dst.GetClient().Create(ctx, ghost); err != nil {
			return reconcile.Result{}, fmt.Errorf("creating the ghost of %s in %s (its namespace must exist there): %w", req, r.ghosts, err)
		}
	case ghost.Spec.Cluster != req.Cluster:
		// The ghost stands for the Pod of this name in another cluster; this Pod gets it once
		// that one is gone (the ghost's deletion brings this Pod back here).
		return reconcile.Result{}, nil
	case ghost.Spec != want:
		ghost.Spec = want
		if err := dst.GetClient().Update(ctx, ghost); err != nil {
			return reconcile.Result{}, fmt.Errorf("updating the ghost of %s in %s: %w", req, r.ghosts, err)
		}
	}
	return reconcile.Result{}, nil
}
