// Package deploy installs, upgrades and waits for the KubeStellar core in a hosting cluster,
// with the Helm SDK, and reads the kubeconfigs the core publishes there.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
)

// Names of what the chart makes in the hosting cluster.
const (
	// ReleaseName is the Helm release of the core.
	ReleaseName = "kubestellar"
	// DefaultNamespace is where the core goes unless told otherwise.
	DefaultNamespace = "kubestellar"
	// DeploymentName names the Deployment whose pod runs the core.
	DeploymentName = "kubestellar"
	// SecretName names the Secret the init container fills with kubeconfigs.
	SecretName = "kubestellar"
	// OpenShiftPort is the port of the external endpoint on OpenShift, the router's.
	OpenShiftPort = 443
)

// Keys of the kubeconfigs in the Secret.
const (
	// KeyAdmin is the kubeconfig used inside the core's pod (https://localhost:6443).
	KeyAdmin = "admin.kubeconfig"
	// KeyCluster reaches the core from inside the hosting cluster, through its Service.
	KeyCluster = "cluster.kubeconfig"
	// KeyExternal reaches the core from outside, through the external endpoint.
	KeyExternal = "external.kubeconfig"
)

// Options say what to deploy where.
type Options struct {
	// Getter reaches the hosting cluster (kubectl's flags).
	Getter genericclioptions.RESTClientGetter
	// Namespace receives the release.
	Namespace string
	// CreateNamespace creates Namespace when missing.
	CreateNamespace bool
	// ExternalEndpoint is host:port by which clients outside the cluster reach the core.
	ExternalEndpoint string
	// OpenShift selects the OpenShift Route exposure and security context.
	OpenShift bool
	// Values are the usual Helm value flags; ExternalEndpoint and OpenShift are applied on top.
	Values values.Options
	// Chart is the chart to deploy.
	Chart *chart.Chart
	// Timeout bounds the Helm operation and then the wait for readiness.
	Timeout time.Duration
	// Wait waits, with progress lines, until the core is ready.
	Wait bool
	// DryRun renders the manifests to Out and changes nothing.
	DryRun bool
	// Out receives progress and, with DryRun, the manifests.
	Out io.Writer
	// Trace, when set, receives a line per action taken, Helm's included.
	Trace io.Writer
}

// ValidateEndpoint checks an external endpoint, host:port, as given to --external-endpoint;
// it may be empty only on OpenShift, where the Route's host is used.
func ValidateEndpoint(endpoint string, openShift bool) error {
	if endpoint == "" {
		if openShift {
			return nil
		}
		return errors.New("--external-endpoint is required (host:port by which clients outside the cluster reach KubeStellar, e.g. kubestellar.example.com:443), unless --openshift true")
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" {
		return fmt.Errorf("--external-endpoint %q must be host:port, e.g. kubestellar.example.com:443", endpoint)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--external-endpoint %q: the port must be a number from 1 to 65535", endpoint)
	}
	return nil
}

// Deploy installs the release, or upgrades it when it exists, then waits for readiness if
// asked. With DryRun it writes the rendered manifests to Out and changes nothing.
func Deploy(ctx context.Context, o Options) (*release.Release, error) {
	if err := ValidateEndpoint(o.ExternalEndpoint, o.OpenShift); err != nil {
		return nil, err
	}
	vals, err := o.Values.MergeValues(getter.All(cli.New()))
	if err != nil {
		return nil, fmt.Errorf("reading the values: %w", err)
	}
	if o.ExternalEndpoint != "" {
		vals["externalEndpoint"] = o.ExternalEndpoint
	}
	vals["openshift"] = o.OpenShift

	cfg := new(action.Configuration)
	if err := cfg.Init(o.Getter, o.Namespace, "secret", o.helmLog); err != nil {
		return nil, fmt.Errorf("connecting to the hosting cluster: %w", err)
	}
	history := action.NewHistory(cfg)
	history.Max = 1
	_, err = history.Run(ReleaseName)
	installed := true
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		installed = false
	case err != nil:
		return nil, fmt.Errorf("reading the history of release %s in namespace %s: %w", ReleaseName, o.Namespace, err)
	}

	var rel *release.Release
	if installed {
		o.say("Upgrading release %s in namespace %s (chart %s %s)", ReleaseName, o.Namespace, o.Chart.Name(), o.Chart.Metadata.Version)
		up := action.NewUpgrade(cfg)
		up.Namespace = o.Namespace
		up.Timeout = o.Timeout
		up.DryRun = o.DryRun
		if o.DryRun {
			up.DryRunOption = "client"
		}
		o.trace("helm upgrade %s --namespace %s", ReleaseName, o.Namespace)
		rel, err = up.RunWithContext(ctx, ReleaseName, o.Chart, vals)
	} else {
		o.say("Installing release %s into namespace %s (chart %s %s)", ReleaseName, o.Namespace, o.Chart.Name(), o.Chart.Metadata.Version)
		in := action.NewInstall(cfg)
		in.ReleaseName = ReleaseName
		in.Namespace = o.Namespace
		in.CreateNamespace = o.CreateNamespace && !o.DryRun
		in.Timeout = o.Timeout
		in.DryRun = o.DryRun
		if o.DryRun {
			in.DryRunOption = "client"
		}
		o.trace("helm install %s --namespace %s", ReleaseName, o.Namespace)
		rel, err = in.RunWithContext(ctx, o.Chart, vals)
	}
	if err != nil {
		return nil, explainHelmError(err)
	}
	if o.DryRun {
		fmt.Fprintf(o.Out, "---\n# Release %s, namespace %s (dry run: nothing was changed)\n", ReleaseName, o.Namespace)
		fmt.Fprint(o.Out, rel.Manifest)
		return rel, nil
	}
	o.say("Release %s is at revision %d", ReleaseName, rel.Version)
	if !o.Wait {
		return rel, nil
	}
	restConfig, err := o.Getter.ToRESTConfig()
	if err != nil {
		return rel, err
	}
	cs, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return rel, err
	}
	if err := WaitReady(ctx, cs, o.Namespace, o.Timeout, o.say); err != nil {
		return rel, err
	}
	if rel.Info != nil && rel.Info.Notes != "" {
		fmt.Fprintf(o.Out, "\n%s\n", strings.TrimSpace(rel.Info.Notes))
	}
	return rel, nil
}

// explainHelmError adds the fix to the errors users meet most.
func explainHelmError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "values don't meet the specifications of the schema"):
		return fmt.Errorf("the chart rejected the values (fix the --set/-f values named below): %w", err)
	case strings.Contains(msg, "another operation (install/upgrade/rollback) is in progress"):
		return fmt.Errorf("%w (a previous deploy was interrupted; `helm rollback %s -n NAMESPACE` or `helm delete %s -n NAMESPACE` clears it)", err, ReleaseName, ReleaseName)
	}
	return fmt.Errorf("helm: %w", err)
}

func (o *Options) say(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

func (o *Options) trace(format string, args ...any) {
	if o.Trace != nil {
		fmt.Fprintf(o.Trace, "+ "+format+"\n", args...)
	}
}

func (o *Options) helmLog(format string, args ...any) {
	if o.Trace != nil {
		fmt.Fprintf(o.Trace, "helm: "+format+"\n", args...)
	}
}
