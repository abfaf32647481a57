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
	o := deploy.NewOptions()
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

The namespace is -n/--namespace, else the kubeconfig's current namespace, else
"kubestellar" (created unless --create-namespace=false). helm upgrade's flags apply and go
to Helm as they would with helm upgrade --install: --set, --set-string, --set-file,
--set-json, --set-literal, -f/--values, --atomic, --timeout, --version (checked against the
built-in chart), --description, --labels, --reuse-values, --dry-run and the others listed
below; the flags that fetch a chart from a repository do not apply. --wait (on by default)
is deploy's own wait: it prints progress until the core is ready and on timeout says which
container is not ready and why. Afterwards, get a kubeconfig with
kubectl kubestellar get-external-kubeconfig -o FILE (or get-internal-kubeconfig), and remove
the core with helm delete kubestellar (with the same namespace).`,
		Example: `  kubectl kubestellar deploy --external-endpoint kubestellar.example.com:443
  kubectl kubestellar deploy --openshift true
  kubectl kubestellar deploy --external-endpoint ks.example.com:443 --atomic --timeout 15m
  kubectl kubestellar deploy --external-endpoint ks.example.com:443 --set exposure.type=tlsroute \
      --set exposure.tlsRoute.gateway.name=gw --set exposure.tlsRoute.gateway.namespace=infra
  kubectl kubestellar deploy --external-endpoint ks.example.com:443 --dry-run > kubestellar.yaml`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			// The flags parsed; what is wrong from here on is said without the usage.
			cmd.SilenceUsage = true
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
			ns, fromKubeconfig, err := e.namespaceOr(deploy.DefaultNamespace)
			if err != nil {
				return err
			}
			o.Namespace = ns
			o.Getter = e.flags
			o.Out = e.streams.ErrOut
			if o.DryRun() {
				o.Out = e.streams.Out
			}
			if e.trace {
				o.Trace = e.streams.ErrOut
			}
			if _, err := deploy.Deploy(cmd.Context(), o); err != nil {
				return err
			}
			if !o.DryRun() {
				remove := "helm delete " + deploy.ReleaseName
				if !fromKubeconfig {
					remove += " -n " + ns
				}
				fmt.Fprintf(e.streams.ErrOut, "To remove it: %s\n", remove)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.ExternalEndpoint, "external-endpoint", "", "host:port by which clients outside the hosting cluster reach KubeStellar (required unless --openshift true)")
	fs.Var(&openShift, "openshift", "true when the hosting cluster is OpenShift: exposure by a Route, the restricted SCC's security context")
	fs.StringVar(&chartPath, "chart", "", "chart directory or archive to deploy instead of the built-in one")
	o.AddFlags(fs)
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
Secret "kubestellar" that the core publishes in its namespace (-n, else the kubeconfig's
namespace, else "kubestellar", as for deploy).
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
			ns, _, err := e.namespaceOr(deploy.DefaultNamespace)
			if err != nil {
				return err
			}
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

// namespaceOr returns the namespace given with -n, else the namespace of the kubeconfig's
// context, else def, and whether it is the kubeconfig's (so that commands typed without -n,
// such as helm delete, find the same one). It records the choice in the flags, so that every
// client made from them uses it.
func (e *env) namespaceOr(def string) (string, bool, error) {
	ns, fromKubeconfig := def, false
	if e.flags.Namespace != nil && *e.flags.Namespace != "" {
		ns = *e.flags.Namespace
	} else {
		raw, err := e.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return "", false, fmt.Errorf("reading the kubeconfig: %w", err)
		}
		name := raw.CurrentContext
		if e.flags.Context != nil && *e.flags.Context != "" {
			name = *e.flags.Context
		}
		if c, ok := raw.Contexts[name]; ok && c.Namespace != "" {
			ns, fromKubeconfig = c.Namespace, true
		}
	}
	if e.flags.Namespace != nil {
		*e.flags.Namespace = ns
	}
	return ns, fromKubeconfig, nil
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
