package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats are the output formats Write knows; "" is the text for people.
var Formats = []string{"", "json", "yaml"}

// Write writes the report in format: "" (lines for people), "json" or "yaml".
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "":
		_, err := io.WriteString(w, r.Text())
		return err
	case "json":
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	case "yaml":
		data, err := yaml.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("unknown output format %q: use json or yaml, or no -o for text", format)
}

// Text is the report as lines for people: a header, then one line per Location and one per
// workload object.
func (r *Report) Text() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("EdgePlacement %q in %s", r.Placement, r.Space)
	if c := r.Resolved; c != nil {
		line("Resolved: %s %s: %s", c.Status, c.Reason, c.Message)
	} else {
		line("Resolved: not set yet (is the where-resolver running?)")
	}

	selected := 0
	for _, l := range r.Locations {
		if l.Selected {
			selected++
		}
	}
	line("")
	switch {
	case r.LocationSelectorError != "":
		line("Locations: none selected, the location selectors are invalid: %s", r.LocationSelectorError)
	case r.LocationSelectors == 0:
		line("Locations: none selected, spec.locationSelectors is empty")
	default:
		line("Locations: %d of %d selected, %d %s", selected, len(r.Locations), r.Destinations, plural(r.Destinations, "destination"))
	}
	if len(r.Locations) == 0 && r.LocationSelectorError == "" {
		line("  no Location in any inventory space")
	}
	for _, e := range r.UnreadableSpaces {
		line("  space %s: could not be read, its Locations are not known: %s", e.Space, e.Error)
	}
	for _, l := range r.Locations {
		var verdict string
		if l.Selected {
			verdict = "selected by " + indexes("locationSelectors", l.SelectedBy)
		} else {
			reasons := make([]string, 0, len(l.NotSelected))
			for _, m := range l.NotSelected {
				reasons = append(reasons, m.String())
			}
			verdict = "not selected"
			if len(reasons) > 0 {
				verdict += ": " + strings.Join(reasons, "; ")
			}
		}
		targets := "SyncTargets: " + strings.Join(l.SyncTargets, " ")
		if l.SyncTargetProblem != "" {
			targets = l.SyncTargetProblem
		}
		line("  location %q in %s: %s; %s", l.Name, l.Space, verdict, targets)
	}

	selected = 0
	for _, o := range r.Objects {
		if o.Selected {
			selected++
		}
	}
	line("")
	if r.DownsyncTests == 0 {
		line("Objects: none selected, spec.downsync is empty")
	} else {
		line("Objects: %d of %d selected", selected, len(r.Objects))
	}
	if len(r.Objects) == 0 && r.DownsyncTests > 0 {
		line("  no object in %s is of a resource, namespace, name or labels that a downsync test names", r.Space)
	}
	for _, o := range r.Objects {
		name := o.Name
		if o.Namespace != "" {
			name = o.Namespace + "/" + o.Name
		}
		resource := o.Resource
		if o.Group != "" {
			resource += "." + o.Group
		}
		switch {
		case o.WithSelectedObjects:
			line("  %s %s: selected, with the objects selected in it", resource, name)
		case o.Selected:
			line("  %s %s: selected by %s", resource, name, indexes("downsync", o.SelectedBy))
		default:
			reasons := make([]string, 0, len(o.NotSelected))
			for _, m := range o.NotSelected {
				reasons = append(reasons, fmt.Sprintf("downsync[%d].%s: %s", m.Test, m.Field, m.Reason))
			}
			line("  %s %s: not selected: %s", resource, name, strings.Join(reasons, "; "))
		}
	}
	return b.String()
}

// indexes names list entries, as in "downsync[0], downsync[2]".
func indexes(field string, idx []int) string {
	out := make([]string, 0, len(idx))
	for _, i := range idx {
		out = append(out, fmt.Sprintf("%s[%d]", field, i))
	}
	return strings.Join(out, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
