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

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/postrender"
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

// Options say what to deploy where. Make them with NewOptions.
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
	// Helm holds helm upgrade's own settings (Timeout, Atomic, Version, DryRunOption,
	// Description, ...), which AddFlags binds to helm upgrade's flags; they apply to the
	// install as well when the release is new, as with helm upgrade --install. Its
	// Timeout also bounds the wait for readiness.
	Helm *action.Upgrade
	// Chart is the chart to deploy.
	Chart *chart.Chart
	// Wait waits, with progress lines, until the core is ready.
	Wait bool
	// Out receives progress and, with a dry run, the manifests.
	Out io.Writer
	// Trace, when set, receives a line per action taken, Helm's included.
	Trace io.Writer

	// helmConfig is the configuration Helm was made with; Deploy connects it.
	helmConfig *action.Configuration
	// postRenderer and its arguments, from --post-renderer and --post-renderer-args.
	postRenderer     string
	postRendererArgs []string
}

// NewOptions returns the defaults: create the namespace, wait for readiness, 10 minutes.
func NewOptions() *Options {
	cfg := new(action.Configuration)
	up := action.NewUpgrade(cfg)
	up.Timeout = 10 * time.Minute
	// helm's own default for --history-max.
	up.MaxHistory = 10
	return &Options{CreateNamespace: true, Wait: true, Helm: up, helmConfig: cfg}
}

// DryRun reports whether the options ask for a dry run (Helm.DryRunOption client or server).
func (o *Options) DryRun() bool {
	switch o.Helm.DryRunOption {
	case "", "none", "false":
		return false
	}
	return true
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
// asked. With a dry run it writes the rendered manifests to Out and changes nothing.
func Deploy(ctx context.Context, o *Options) (*release.Release, error) {
	if o.Helm == nil || o.helmConfig == nil {
		return nil, errors.New("deploy options must be made with NewOptions")
	}
	if err := ValidateEndpoint(o.ExternalEndpoint, o.OpenShift); err != nil {
		return nil, err
	}
	up := o.Helm
	switch up.DryRunOption {
	case "", "none", "false":
		up.DryRunOption, up.DryRun = "", false
	case "client", "true":
		up.DryRunOption, up.DryRun = "client", true
	case "server":
		up.DryRun = true
	default:
		return nil, fmt.Errorf("--dry-run=%s: want client or server (or none)", up.DryRunOption)
	}
	if err := checkChartVersion(o.Chart, up.Version); err != nil {
		return nil, err
	}
	// helm waits for Jobs only while it waits for the rest.
	up.Wait = up.Wait || up.WaitForJobs
	if o.postRenderer != "" {
		var err error
		if up.PostRenderer, err = postrender.NewExec(o.postRenderer, o.postRendererArgs...); err != nil {
			return nil, fmt.Errorf("--post-renderer %s: %w", o.postRenderer, err)
		}
	} else if len(o.postRendererArgs) > 0 {
		return nil, errors.New("--post-renderer-args needs --post-renderer")
	}
	vals, err := o.Values.MergeValues(getter.All(cli.New()))
	if err != nil {
		return nil, fmt.Errorf("reading the values: %w", err)
	}
	if o.ExternalEndpoint != "" {
		vals["externalEndpoint"] = o.ExternalEndpoint
	}
	vals["openshift"] = o.OpenShift

	cfg := o.helmConfig
	if err := cfg.Init(o.Getter, o.Namespace, "secret", o.helmLog); err != nil {
		return nil, fmt.Errorf("connecting to the hosting cluster: %w", err)
	}
	history := action.NewHistory(cfg)
	history.Max = 1
	versions, err := history.Run(ReleaseName)
	installed := true
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		installed = false
	case err != nil:
		return nil, fmt.Errorf("reading the history of release %s in namespace %s: %w", ReleaseName, o.Namespace, err)
	}
	// A release uninstalled with --keep-history is installed afresh, as helm does.
	uninstalled := installed && len(versions) > 0 && versions[len(versions)-1].Info != nil &&
		versions[len(versions)-1].Info.Status == release.StatusUninstalled

	up.Namespace = o.Namespace
	up.Install = true
	var rel *release.Release
	if installed && !uninstalled {
		o.say("Upgrading release %s in namespace %s (chart %s %s)", ReleaseName, o.Namespace, o.Chart.Name(), o.Chart.Metadata.Version)
		o.trace("helm upgrade %s --namespace %s", ReleaseName, o.Namespace)
		rel, err = up.RunWithContext(ctx, ReleaseName, o.Chart, vals)
	} else {
		o.say("Installing release %s into namespace %s (chart %s %s)", ReleaseName, o.Namespace, o.Chart.Name(), o.Chart.Metadata.Version)
		in := installFor(cfg, up)
		in.ReleaseName = ReleaseName
		in.CreateNamespace = o.CreateNamespace && !up.DryRun
		in.Replace = uninstalled
		o.trace("helm install %s --namespace %s", ReleaseName, o.Namespace)
		rel, err = in.RunWithContext(ctx, o.Chart, vals)
	}
	if err != nil {
		return nil, explainHelmError(err)
	}
	if up.DryRun {
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
	if err := WaitReady(ctx, cs, o.Namespace, up.Timeout, o.say); err != nil {
		return rel, err
	}
	if rel.Info != nil && rel.Info.Notes != "" && !up.HideNotes {
		fmt.Fprintf(o.Out, "\n%s\n", strings.TrimSpace(rel.Info.Notes))
	}
	return rel, nil
}

// installFor is the install that helm upgrade --install runs for a new release: the
// upgrade's settings, as helm itself copies them.
func installFor(cfg *action.Configuration, up *action.Upgrade) *action.Install {
	in := action.NewInstall(cfg)
	in.ChartPathOptions = up.ChartPathOptions
	in.Force = up.Force
	in.DryRun = up.DryRun
	in.DryRunOption = up.DryRunOption
	in.DisableHooks = up.DisableHooks
	in.SkipCRDs = up.SkipCRDs
	in.Timeout = up.Timeout
	in.Wait = up.Wait
	in.WaitForJobs = up.WaitForJobs
	in.Devel = up.Devel
	in.Namespace = up.Namespace
	in.Atomic = up.Atomic
	in.PostRenderer = up.PostRenderer
	in.DisableOpenAPIValidation = up.DisableOpenAPIValidation
	in.SubNotes = up.SubNotes
	in.HideNotes = up.HideNotes
	in.SkipSchemaValidation = up.SkipSchemaValidation
	in.Description = up.Description
	in.DependencyUpdate = up.DependencyUpdate
	in.Labels = up.Labels
	in.EnableDNS = up.EnableDNS
	in.HideSecret = up.HideSecret
	in.TakeOwnership = up.TakeOwnership
	return in
}

// checkChartVersion checks the chart against a --version constraint, as helm does when it
// picks a chart from a repository; the chart here is the built-in one (or --chart's).
func checkChartVersion(c *chart.Chart, constraint string) error {
	if constraint == "" {
		return nil
	}
	want, err := semver.NewConstraint(constraint)
	if err != nil {
		return fmt.Errorf("--version %q is not a version constraint such as 1.2.3 or ^1.2: %w", constraint, err)
	}
	have, err := semver.NewVersion(c.Metadata.Version)
	if err != nil {
		return fmt.Errorf("the chart's version %q is not a semantic version: %w", c.Metadata.Version, err)
	}
	if !want.Check(have) {
		return fmt.Errorf("--version %q: the chart here is version %s (use a kubectl-kubestellar of that release, or --chart)", constraint, have)
	}
	return nil
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
