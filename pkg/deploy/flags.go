package deploy

import (
	"github.com/spf13/pflag"
)

// AddFlags registers helm upgrade's flags that apply to a chart built in (not those that
// fetch a chart from a repository), bound to the Helm SDK's own settings: o.Helm's fields
// and o.Values. The defaults differ from helm's where deploy's job differs: the namespace
// is created, and the wait (deploy's own, with progress) is on and lasts up to 10 minutes.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	up := o.Helm
	fs.BoolVar(&o.CreateNamespace, "create-namespace", o.CreateNamespace, "create the release namespace if it does not exist")
	fs.BoolVar(&o.Wait, "wait", o.Wait, "wait until KubeStellar is ready, printing progress (at most --timeout)")
	fs.DurationVar(&up.Timeout, "timeout", up.Timeout, "how long to wait for each Kubernetes operation of Helm and then for readiness")
	fs.StringVar(&up.DryRunOption, "dry-run", "", "print the rendered manifests and change nothing; as with helm upgrade --install, the cluster is still read (the release's history, the kinds it serves); --dry-run=server also has it validate the objects")
	fs.Lookup("dry-run").NoOptDefVal = "client"
	fs.BoolVar(&up.HideSecret, "hide-secret", false, "with --dry-run, leave Secrets out of the manifests")
	fs.BoolVar(&up.Atomic, "atomic", false, "roll back (or, for a new release, uninstall) when the operation fails; makes Helm itself wait for the objects to be ready")
	fs.BoolVar(&up.WaitForJobs, "wait-for-jobs", false, "make Helm itself wait for Jobs to complete (and for the other objects to be ready)")
	fs.BoolVar(&up.CleanupOnFail, "cleanup-on-fail", false, "delete the objects this upgrade created when it fails")
	fs.BoolVar(&up.Force, "force", false, "update objects by replacing them")
	fs.BoolVar(&up.DisableHooks, "no-hooks", false, "skip the chart's hooks")
	fs.BoolVar(&up.SkipCRDs, "skip-crds", false, "do not install the chart's CRDs")
	fs.BoolVar(&up.SkipSchemaValidation, "skip-schema-validation", false, "do not check the values against the chart's values.schema.json")
	fs.BoolVar(&up.DisableOpenAPIValidation, "disable-openapi-validation", false, "do not validate the rendered objects against the cluster's OpenAPI schema")
	fs.BoolVar(&up.ResetValues, "reset-values", false, "on upgrade, start from the chart's values rather than the release's")
	fs.BoolVar(&up.ReuseValues, "reuse-values", false, "on upgrade, reuse the release's last values and merge --set and -f into them")
	fs.BoolVar(&up.ResetThenReuseValues, "reset-then-reuse-values", false, "on upgrade, start from the chart's values, apply the release's last values, then --set and -f")
	fs.IntVar(&up.MaxHistory, "history-max", up.MaxHistory, "most revisions kept for the release (0: no limit)")
	fs.StringVar(&up.Description, "description", "", "description of this revision, shown by helm history")
	fs.StringToStringVarP(&up.Labels, "labels", "l", nil, "labels of the release's metadata (key1=val1,key2=val2); merged with the release's, null unsets one")
	fs.BoolVar(&up.SubNotes, "render-subchart-notes", false, "render subcharts' notes too")
	fs.BoolVar(&up.HideNotes, "hide-notes", false, "do not print the chart's notes at the end")
	fs.BoolVar(&up.EnableDNS, "enable-dns", false, "allow DNS lookups while rendering the templates")
	fs.BoolVar(&up.TakeOwnership, "take-ownership", false, "adopt existing objects that Helm did not make")
	fs.StringVar(&up.Version, "version", "", "version constraint (1.2.3, ^1.2) the chart must meet; the chart is the built-in one or --chart's")
	fs.StringVar(&o.postRenderer, "post-renderer", "", "program that edits the rendered manifests (stdin to stdout) before they are applied")
	fs.StringArrayVar(&o.postRendererArgs, "post-renderer-args", nil, "an argument to the --post-renderer program (repeatable)")
	fs.StringSliceVarP(&o.Values.ValueFiles, "values", "f", nil, "values from a YAML file or URL (repeatable)")
	fs.StringArrayVar(&o.Values.Values, "set", nil, "set values: key1=val1,key2=val2 (repeatable)")
	fs.StringArrayVar(&o.Values.StringValues, "set-string", nil, "set STRING values: key1=val1,key2=val2 (repeatable)")
	fs.StringArrayVar(&o.Values.FileValues, "set-file", nil, "set values from files: key1=path1 (repeatable)")
	fs.StringArrayVar(&o.Values.JSONValues, "set-json", nil, "set JSON values: key1=jsonval1 (repeatable)")
	fs.StringArrayVar(&o.Values.LiteralValues, "set-literal", nil, "set a literal STRING value: key=value (repeatable)")
}
