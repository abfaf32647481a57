package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/deploy"
)

// newDeploy is `kubectl kubestellar deploy`: Helm upgrade --install of the core.
func newDeploy(e *env, loadChart ChartLoader) *cobra.Command {
	o := deploy.Options{CreateNamespace: true, Wait: true, Timeout: 10 * time.Minute}
	openShift := console.BoolFlag{}
	var chartPath string
	cmd := &cobra.Command{
		Use:   "deploy --external-endpoint HOST:PORT | --openshift true",
		Short: "Install or upgrade the KubeStellar core in the hosting cluster (Helm release kubestellar)",
		Long: `deploy installs the KubeStellar core into the hosting cluster that the kubeconfig reaches, as
the Helm release "kubestellar" of the chart built into this command (--chart gives another),
or upgrades it in place when it is there: the space server's state is on a volume, so
nothing is lost and the kubeconfigs handed out stay valid.

--external-endpoint HOST:PORT is how clients outside the cluster will reach KubeStellar (the
ingress or gateway in front of it passes TLS through to it). On OpenShift give --openshift
true instead; the Route's host and port 443 are used unless --external-endpoint is given.

The usual helm upgrade flags apply (-n/--namespace, default "kubestellar";
--create-namespace, default true; --set, --set-string, --set-file, --set-json, -f/--values,
--timeout, --wait, --dry-run). deploy then waits until the core is ready, printing progress,
and on timeout says which container is not ready and why. Afterwards, get a kubeconfig with
kubectl kubestellar get-external-kubeconfig -o FILE (or get-internal-kubeconfig).`,
		Example: `  kubectl kubestellar deploy --external-endpoint kubestellar.example.com:443
  kubectl kubestellar deploy --openshift true
  kubectl kubestellar deploy --external-endpoint ks.example.com:443 --set exposure.type=tlsroute \
      --set exposure.tlsRoute.gateway.name=gw --set exposure.tlsRoute.gateway.namespace=infra
  kubectl kubestellar deploy --external-endpoint ks.example.com:443 --dry-run > kubestellar.yaml`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			o.OpenShift = openShift.Value
			return deploy.ValidateEndpoint(o.ExternalEndpoint, o.OpenShift)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			var err error
			if chartPath != "" {
				o.Chart, err = loader.Load(chartPath)
				if err != nil {
					return fmt.Errorf("--chart %s: %w", chartPath, err)
				}
			} else if o.Chart, err = loadChart(); err != nil {
				return fmt.Errorf("the built-in chart: %w", err)
			}
			o.Namespace = e.namespaceOr(deploy.DefaultNamespace)
			o.Getter = e.flags
			o.Out = e.streams.ErrOut
			if o.DryRun {
				o.Out = e.streams.Out
			}
			if e.trace {
				o.Trace = e.streams.ErrOut
			}
			_, err = deploy.Deploy(cmd.Context(), o)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.ExternalEndpoint, "external-endpoint", "", "host:port by which clients outside the hosting cluster reach KubeStellar (required unless --openshift true)")
	fs.Var(&openShift, "openshift", "true when the hosting cluster is OpenShift: exposure by a Route, the restricted SCC's security context")
	fs.StringVar(&chartPath, "chart", "", "chart directory or archive to deploy instead of the built-in one")
	fs.BoolVar(&o.CreateNamespace, "create-namespace", o.CreateNamespace, "create the namespace if it does not exist")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the Helm operation and then for readiness")
	fs.BoolVar(&o.Wait, "wait", o.Wait, "wait until KubeStellar is ready, printing progress")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the rendered manifests and change nothing")
	fs.StringSliceVarP(&o.Values.ValueFiles, "values", "f", nil, "values from a YAML file or URL (repeatable)")
	fs.StringArrayVar(&o.Values.Values, "set", nil, "set values: key1=val1,key2=val2 (repeatable)")
	fs.StringArrayVar(&o.Values.StringValues, "set-string", nil, "set STRING values: key1=val1,key2=val2 (repeatable)")
	fs.StringArrayVar(&o.Values.FileValues, "set-file", nil, "set values from files: key1=path1 (repeatable)")
	fs.StringArrayVar(&o.Values.JSONValues, "set-json", nil, "set JSON values: key1=jsonval1 (repeatable)")
	e.addTrace(cmd)
	return cmd
}

// newGetKubeconfig is get-internal-kubeconfig or get-external-kubeconfig: the kubeconfig in
// key of the Secret the core publishes.
func newGetKubeconfig(e *env, use, key, forWhom string) *cobra.Command {
	output := &onceString{name: "-o/--output"}
	timeout := 5 * time.Minute
	cmd := &cobra.Command{
		Use:   use + " -o FILE",
		Short: "Write the kubeconfig for " + forWhom,
		Long: use + ` writes to FILE (mode 0600) the kubeconfig for ` + forWhom + `, from the
Secret "kubestellar" that the core publishes in its namespace (-n, default "kubestellar").
It waits, printing progress, until the core has written it (at most --timeout). It needs only
permission to read that Secret. The kubeconfig verifies the server's certificate with the
core's own CA and has contexts "root" (the root space) and "base".`,
		Example: "  kubectl kubestellar " + use + " -o ks.kubeconfig\n  kubectl kubestellar " + use + " -n kubestellar -o - | less",
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if output.value == "" {
				return fmt.Errorf("-o/--output FILE is required (- for stdout)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			ns := e.namespaceOr(deploy.DefaultNamespace)
			cfg, err := e.flags.ToRESTConfig()
			if err != nil {
				return err
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			e.step("read key %s of Secret %s in namespace %s", key, deploy.SecretName, ns)
			data, err := deploy.FetchKubeconfig(cmd.Context(), cs, ns, key, timeout, e.progress)
			if err != nil {
				return err
			}
			if output.value == "-" {
				_, err = e.streams.Out.Write(data)
				return err
			}
			e.step("write %s", output.value)
			if err := deploy.WriteKubeconfig(output.value, data); err != nil {
				return err
			}
			fmt.Fprintf(e.streams.ErrOut, "Wrote %s\n", output.value)
			return nil
		},
	}
	cmd.Flags().VarP(output, "output", "o", "file to write the kubeconfig to, - for stdout (required, once)")
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the kubeconfig")
	e.addTrace(cmd)
	return cmd
}

// namespaceOr returns the namespace given with -n, else def (not the kubeconfig's namespace:
// the core has a home of its own).
func (e *env) namespaceOr(def string) string {
	if e.flags.Namespace != nil && *e.flags.Namespace != "" {
		return *e.flags.Namespace
	}
	if e.flags.Namespace != nil {
		*e.flags.Namespace = def
	}
	return def
}

// onceString is a string flag that may be given only once.
type onceString struct {
	name  string
	value string
	set   bool
}

func (o *onceString) String() string { return o.value }
func (o *onceString) Type() string   { return "FILE" }
func (o *onceString) Set(s string) error {
	if o.set {
		return fmt.Errorf("%s may be given only once", o.name)
	}
	if s == "" {
		return fmt.Errorf("%s needs a file name (- for stdout)", o.name)
	}
	o.value, o.set = s, true
	return nil
}
