package status

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/pkg/placement"
)

// Formats are the values of -o besides the default table.
var Formats = []string{"", "json", "yaml"}

// Write prints the report as a table (format ""), JSON or YAML; now dates the heartbeats.
func (r *Report) Write(w io.Writer, format string, now time.Time) error {
	switch format {
	case "json":
		raw, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	case "yaml":
		raw, err := yaml.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = w.Write(raw)
		return err
	case "":
		return r.writeTable(w, now)
	}
	return fmt.Errorf("output format %q: use json or yaml, or leave it out for a table", format)
}

func (r *Report) writeTable(w io.Writer, now time.Time) error {
	if len(r.Rows) == 0 {
		fmt.Fprintf(w, "No selected objects at any destination in %s.\n", r.Space)
	} else {
		tw := printers.GetNewTabWriter(w)
		fmt.Fprintln(tw, "PLACEMENT\tRESOURCE\tNAMESPACE\tNAME\tWEC\tSTATE\tREASON\tHEARTBEAT")
		for _, row := range r.Rows {
			resource := row.Resource
			if row.Group != "" {
				resource += "." + row.Group
			}
			heartbeat := "<none>"
			if row.LastSyncerHeartbeatTime != nil {
				heartbeat = duration.HumanDuration(now.Sub(row.LastSyncerHeartbeatTime.Time)) + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Placement, resource, orNone(row.Namespace), row.Name,
				row.SyncTarget, row.State, orNone(row.Reason), heartbeat)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, row := range r.Rows {
		if row.State == placement.StateFailed {
			fmt.Fprintf(w, "%s %s at %s failed: %s\n", row.Resource, objectName(row), row.SyncTarget, row.Message)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "placement %s: %s\n", p.Placement, p.Message)
	}
	return nil
}

func objectName(row Row) string {
	if row.Namespace == "" {
		return row.Name
	}
	return row.Namespace + "/" + row.Name
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
