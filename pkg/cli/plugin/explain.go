package plugin

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/kubestellar/kubestellar/pkg/explain"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

func newExplain(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Say why KubeStellar places what it places",
	}
	cmd.AddCommand(newExplainPlacement(e))
	return cmd
}

func newExplainPlacement(e *env) *cobra.Command {
	var wmw, output string
	cmd := &cobra.Command{
		Use:   "placement NAME",
		Short: "Say which Locations and objects an EdgePlacement selects, and why the others are not",
		Long: `explain placement reads the EdgePlacement NAME in the workload management space (--wmw, by
default the current space) and says, with the same matching rules the where-resolver and the
placement translator use, where it puts what.

Text output, line by line:

  EdgePlacement "NAME" in root:wmw1
      the placement and its space.
  Resolved: STATUS REASON: MESSAGE
      the where-resolver's condition on the placement (False NoLocationMatched when the
      selectors match no Location; False InvalidSelector when one cannot be parsed).
  Locations: N of M selected, D destinations
      M Locations exist in all inventory spaces; N are chosen; their SyncTargets make D
      destinations.
  location "L" in root:imw1: selected by locationSelectors[i]; SyncTargets: A B
      the Location is chosen by the selectors named, and its instanceSelector picks the
      SyncTargets named (or the line says why it picks none).
  location "L" in root:imw1: not selected: locationSelectors[i]: REASON; ...
      no selector matches; for each, the first part that fails and the label it looks at:
        label K: want "V", has "W"        a matchLabels entry, the label has another value
        label K: want "V", absent         a matchLabels entry, the Location lacks the label
        matchExpressions key=K operator=OP values=[...]: label K absent | label K is "W"
                                          a matchExpressions entry and what the label is
  space root:imw2: could not be read, its Locations are not known: ERROR
      that space did not answer; the where-resolver keeps what it last found there.
  Objects: N of M selected
      M workload objects concern the downsync tests: selected ones, and ones that a test's
      apiGroup and resources cover, or that a test fails only by apiGroup or resources.
      Objects every cluster makes for itself (default ServiceAccounts, kube-root-ca.crt,
      KubeStellar's own kinds, ...) are never downsynced and are not listed.
  RESOURCE[.GROUP] [NAMESPACE/]NAME: selected by downsync[i]
      the tests named select the object.
  namespaces NAME: selected, with the objects selected in it
      a Namespace goes wherever objects selected in it go.
  RESOURCE[.GROUP] [NAMESPACE/]NAME: not selected: downsync[i].FIELD: REASON; ...
      for each test, the first field that fails: apiGroup, resources, namespaces,
      namespaceSelectors, objectNames or labelSelectors, and what the object has.

-o json or -o yaml print the same as a structured report (placement, space, resolved,
locations[], destinations, objects[]); new fields may be added, none is renamed.`,
		Example: "  kubectl kubestellar ws root:wmw1\n  kubectl kubestellar explain placement edge-placement-c\n" +
			"  kubectl kubestellar explain placement edge-placement-c --wmw wmw1 -o yaml",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(explain.Formats, output) {
				return fmt.Errorf("--output %q: use json or yaml, or leave it out for text", output)
			}
			cmd.SilenceUsage = true
			c, path, err := e.workloadSpace(cmd.Context(), wmw)
			if err != nil {
				return err
			}
			e.step("explain placement %s in %s", args[0], path)
			report, err := explain.Placement(cmd.Context(), c, path, args[0])
			if err != nil {
				return err
			}
			return report.Write(e.streams.Out, output)
		},
	}
	cmd.Flags().StringVar(&wmw, "wmw", "", "workload management space: a path (root:wmw1) or a name under root (wmw1); default the current space")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default text)")
	e.addTrace(cmd)
	return cmd
}

// workloadSpace returns a client for the space server and the path of the workload
// management space that --wmw names (the current space when it names none), checked to exist.
func (e *env) workloadSpace(ctx context.Context, wmw string) (*spaces.Client, string, error) {
	c, current, err := e.spaces()
	if err != nil {
		return nil, "", err
	}
	path, err := wmwFlagPath(wmw, current)
	if err != nil {
		return nil, "", err
	}
	if _, err := c.Get(ctx, path); err != nil {
		return nil, "", fmt.Errorf("--wmw %s: %w", path, err)
	}
	return c, path, nil
}

// wmwFlagPath returns the space --wmw names, or the current space when it names none.
func wmwFlagPath(flag, current string) (string, error) {
	if flag == "" {
		if current == "" {
			return "", fmt.Errorf("the current context addresses no space: name the workload management space with --wmw (e.g. --wmw root:wmw1), or enter it first with `kubectl kubestellar ws root:wmw1`")
		}
		return current, nil
	}
	path, err := spaces.ResolvePath(flag)
	if err != nil {
		return "", fmt.Errorf("--wmw %q: %w", flag, err)
	}
	return path, nil
}
