// Command helloworld shows the multicluster library at its smallest: it logs
// "context / namespace / name" for every pod event in each cluster given by --contexts.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	contexts := flag.String("contexts", "", "comma-separated kubeconfig contexts, one per cluster to watch (required)")
	flag.Parse()
	if *contexts == "" {
		fmt.Fprintln(os.Stderr, "--contexts is required, for example --contexts c1,c2")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, strings.Split(*contexts, ","), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run watches pods in the clusters of the given contexts and writes one line per event to out.
func run(ctx context.Context, kubeconfig string, contexts []string, out io.Writer) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := multicluster.NewManager(multicluster.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	logPod := multicluster.ReconcilerFunc(func(_ context.Context, req multicluster.Request) (reconcile.Result, error) {
		fmt.Fprintf(out, "%s / %s / %s\n", req.Cluster, req.Namespace, req.Name)
		return reconcile.Result{}, nil
	})
	c, err := multicluster.NewController("helloworld", logPod, multicluster.ControllerOptions{})
	if err != nil {
		return err
	}
	if err := c.Watch(&corev1.Pod{}); err != nil {
		return err
	}
	mgr.AddController(c)
	mgr.AddSource(&multicluster.StaticSource{Kubeconfig: kubeconfig, Contexts: contexts})
	return mgr.Start(ctx)
}
