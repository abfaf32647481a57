// Command deploymentcopy shows a controller spanning two clusters: it keeps, in the cluster of
// --to-context, a copy of every Deployment in namespace default of the cluster of
// --from-context, and deletes copies whose original is gone.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"syscall"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// CopiedFrom labels each copy with the context it was copied from.
const CopiedFrom = "example.kubestellar.io/copied-from"

const namespace = "default"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	from := flag.String("from-context", "cluster1", "context of the cluster whose Deployments are copied")
	to := flag.String("to-context", "cluster2", "context of the cluster that receives the copies")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, *from, *to); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, from, to string) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	r := &copier{mgr: mgr, from: from, to: to}
	c, err := multicluster.NewController("deploymentcopy", r, multicluster.ControllerOptions{Concurrency: 2})
	if err != nil {
		return err
	}
	inNamespace := multicluster.Filter(func(o client.Object) bool { return o.GetNamespace() == namespace })
	// Originals.
	if err := c.Watch(&appsv1.Deployment{}, inNamespace,
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Name == from })); err != nil {
		return err
	}
	// Copies: a change to a copy is reconciled as its original.
	if err := c.Watch(&appsv1.Deployment{}, inNamespace,
		multicluster.InClusters(func(cl *multicluster.Cluster) bool { return cl.Name == to }),
		multicluster.Filter(func(o client.Object) bool { return o.GetLabels()[CopiedFrom] == from }),
		multicluster.MapTo(func(_ context.Context, _ *multicluster.Cluster, o client.Object) []multicluster.Request {
			return []multicluster.Request{{Cluster: from, NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}}
		})); err != nil {
		return err
	}
	mgr.AddController(c)
	mgr.AddSource(&multicluster.StaticSource{Kubeconfig: kubeconfig, Contexts: []string{from, to}})
	return mgr.Start(ctx)
}

type copier struct {
	mgr      *multicluster.Manager
	from, to string
}

func (r *copier) Reconcile(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	src, ok1 := r.mgr.Cluster(r.from)
	dst, ok2 := r.mgr.Cluster(r.to)
	if !ok1 || !ok2 {
		return reconcile.Result{}, fmt.Errorf("clusters %s and %s are not both known", r.from, r.to)
	}
	original := &appsv1.Deployment{}
	err := src.GetClient().Get(ctx, req.NamespacedName, original)
	if apierrors.IsNotFound(err) {
		copied := &appsv1.Deployment{}
		if err := dst.GetClient().Get(ctx, req.NamespacedName, copied); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		if copied.Labels[CopiedFrom] != r.from {
			return reconcile.Result{}, nil // not ours: never touch it
		}
		return reconcile.Result{}, client.IgnoreNotFound(dst.GetClient().Delete(ctx, copied))
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	copied := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: original.Namespace, Name: original.Name}}
	_, err = controllerutil.CreateOrUpdate(ctx, dst.GetClient(), copied, func() error {
		if copied.CreationTimestamp.IsZero() || copied.Labels[CopiedFrom] == r.from {
			copied.Labels = maps.Clone(original.Labels)
			if copied.Labels == nil {
				copied.Labels = map[string]string{}
			}
			copied.Labels[CopiedFrom] = r.from
			copied.Annotations = original.Annotations
			copied.Spec = original.Spec
			return nil
		}
		return fmt.Errorf("deployment %s exists in %s and is not a copy; leaving it alone", req.NamespacedName, r.to)
	})
	return reconcile.Result{}, err
}
