package kubestellar

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/pkg/incluster"
	"github.com/kubestellar/kubestellar/pkg/localrun"
)

// serviceAccountNamespaceFile is where a pod finds its namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// newInitInClusterCommand is the work of the chart's init container.
func newInitInClusterCommand(streams genericiooptions.IOStreams, o *localrun.Options, prepare func(*cobra.Command, []string) error) *cobra.Command {
	io := incluster.Options{SecretName: deploy.SecretName, ServiceName: deploy.DeploymentName}
	var healthAddress, hostKubeconfig string
	cmd := &cobra.Command{
		Use:   "init-in-cluster",
		Short: "In the core's pod: init, then publish kubeconfigs in a Secret",
		Long: `init-in-cluster is what the init container of the KubeStellar chart runs, beside the space
server, in the hosting cluster. It waits for the space server (its admin.kubeconfig in
--root-dir), ensures the core space and the --ensure-imw/--ensure-wmw spaces, makes the
server's certificate cover <service>.<namespace>.svc and the external host, and writes the
Secret --secret-name (which must exist; the chart makes it) with:

  admin.kubeconfig     for use inside the pod (https://localhost:6443)
  cluster.kubeconfig   for clients in the hosting cluster (https://<service>.<namespace>.svc:6443)
  external.kubeconfig  for clients outside (--external-endpoint, or on OpenShift the host of
                       the Route --route-name, port 443)

Then it stays running; /readyz on --health-bind-address answers 200 once the Secret is
written. It is idempotent: a restart does it all again and changes nothing that is right.`,
		Args:    cobra.NoArgs,
		PreRunE: prepare,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if io.Namespace == "" {
				if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
					io.Namespace = strings.TrimSpace(string(b))
				}
			}
			if io.Namespace == "" {
				return fmt.Errorf("--namespace is required outside a pod (or set POD_NAMESPACE)")
			}
			if io.ExternalEndpoint != "" {
				if err := deploy.ValidateEndpoint(io.ExternalEndpoint, false); err != nil {
					return err
				}
			}
			hostConfig, err := hostRESTConfig(hostKubeconfig)
			if err != nil {
				return err
			}
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				return err
			}
			if err := routev1.AddToScheme(scheme); err != nil {
				return err
			}
			if io.Host, err = client.New(hostConfig, client.Options{Scheme: scheme}); err != nil {
				return fmt.Errorf("client for the hosting cluster: %w", err)
			}
			var ready atomic.Bool
			if healthAddress != "" {
				stop, err := controllerhost.ServeHealth(ctx, healthAddress, ready.Load)
				if err != nil {
					return err
				}
				defer stop()
			}
			io.RootDir = o.RootDir
			io.Bootstrap = bootstrap.Options{ESPWPath: o.ESPWPath, IMWs: o.IMWs, WMWs: o.WMWs, Timeout: o.Timeout}
			io.Progress = func(format string, args ...any) { fmt.Fprintf(streams.Out, format+"\n", args...) }
			if err := incluster.Publish(ctx, io); err != nil {
				return err
			}
			ready.Store(true)
			io.Progress("KubeStellar is initialized; staying up (ready) until stopped")
			<-ctx.Done()
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&io.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the Service, Secret and Route (default: $POD_NAMESPACE, else the pod's)")
	fs.StringVar(&io.SecretName, "secret-name", io.SecretName, "Secret to write the kubeconfigs into")
	fs.StringVar(&io.ServiceName, "service-name", io.ServiceName, "Service by which clients in the hosting cluster reach the core")
	fs.StringVar(&io.ExternalEndpoint, "external-endpoint", "", "host:port by which clients outside the hosting cluster reach the core")
	fs.StringVar(&io.RouteName, "route-name", "", "OpenShift Route whose host is the external host when --external-endpoint is empty")
	fs.StringVar(&healthAddress, "health-bind-address", ":10206", "address serving /healthz and /readyz, without authentication; empty for none")
	fs.StringVar(&hostKubeconfig, "host-kubeconfig", "", "kubeconfig of the hosting cluster (default: the pod's service account)")
	goflags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(goflags)
	fs.AddGoFlag(goflags.Lookup("v"))
	return cmd
}

func hostRESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("not in a pod (%w); give --host-kubeconfig", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--host-kubeconfig: %w", err)
	}
	return cfg, nil
}
