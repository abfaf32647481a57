package plugin

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/status"
)

// statusWatchInterval is how often --watch looks again.
const statusWatchInterval = 2 * time.Second

func newStatus(e *env) *cobra.Command {
	var wmw, espw, output string
	var watch bool
	cmd := &cobra.Command{
		Use:   "status [PLACEMENT...]",
		Short: "Show where each object of the placements is: one row per object and workload execution cluster",
		Long: `status reads the EdgePlacements of the workload management space (--wmw, by default the
current space; all of them unless some are named) and prints one row per selected object and
destination (a SyncTarget, shown as WEC):

  STATE      NotDelivered  no wrapper of the object is in the destination's mailbox yet
             Pending       the wrapper is there; the syncer has not applied its current version
             Applied       the syncer applied the object as wrapped
             Available     applied, and the object says it is available (a Deployment whose
                           Available condition is True, a StatefulSet or DaemonSet with every
                           replica ready and updated, a Job that completed)
             Failed        the syncer could not apply it; REASON says why, and the reasons'
                           messages follow the table
             Stale         the destination's syncer has not reported in for three heartbeat
                           intervals: what it last said may be out of date
  REASON     the reason of the syncer's last Synced condition on the wrapper
  HEARTBEAT  how long ago the destination's syncer last reported in

Problems of a placement as a whole (selectors that cannot be resolved, objects that could
not be delivered, a Conflict: another placement sending an object to the same cluster with
other content, or the cluster having it already) follow the table. The exit status is 1 when an object failed or a placement
has a problem, 0 otherwise. -o json or -o yaml print the same as a structured report; new
fields may be added, none is renamed. --watch prints the report again whenever it changes,
until interrupted.

A warning (on standard error) precedes the report when a certificate the command sees expires
within 30 days: the client certificate of your kubeconfig, or the serving certificate of the
space server. It gives the date and what to do; nothing is printed when all is well.`,
		Example: "  kubectl kubestellar ws root:wmw1\n  kubectl kubestellar status\n" +
			"  kubectl kubestellar status edge-placement-c --wmw wmw1 -o yaml\n  kubectl kubestellar status --watch",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(status.Formats, output) {
				return fmt.Errorf("--output %q: use json or yaml, or leave it out for a table", output)
			}
			cmd.SilenceUsage = true
			c, path, err := e.workloadSpace(cmd.Context(), wmw)
			if err != nil {
				return err
			}
			espwPath, err := spaces.ResolvePath(espw)
			if err != nil {
				return fmt.Errorf("--espw %q: %w", espw, err)
			}
			e.step("status of %v in %s", args, path)
			e.warnOfCertificates(cmd.Context(), c.Config(path))
			collect := func(ctx context.Context) (*status.Report, error) {
				return status.Collect(ctx, c, path, espwPath, args)
			}
			if watch {
				return e.watchStatus(cmd.Context(), collect, output)
			}
			report, err := collect(cmd.Context())
			if err != nil {
				return err
			}
			if err := report.Write(e.streams.Out, output, time.Now()); err != nil {
				return err
			}
			return failure(report)
		},
	}
	cmd.Flags().StringVar(&wmw, "wmw", "", "workload management space: a path (root:wmw1) or a name under root (wmw1); default the current space")
	cmd.Flags().StringVar(&espw, "espw", spaces.DefaultESPW, "path of the KubeStellar core space, where the mailboxes are")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default a table)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print the report again whenever it changes, until interrupted")
	e.addTrace(cmd)
	return cmd
}

// warnOfCertificates prints a warning for each certificate the client sees that expires soon.
// Not being able to look is no reason to fail the command: the report says what is wrong
// with the connection, and --trace says why the certificates could not be checked.
func (e *env) warnOfCertificates(ctx context.Context, cfg *rest.Config) {
	warnings, err := status.CheckCertificates(ctx, cfg, time.Now())
	if err != nil {
		e.step("checking certificates: %v", err)
		return
	}
	if err := status.WriteCertificateWarnings(e.streams.ErrOut, warnings); err != nil {
		e.step("printing certificate warnings: %v", err)
	}
}

// watchStatus prints the report, then again whenever it changes; when interrupted, its
// result is that of the last report.
func (e *env) watchStatus(ctx context.Context, collect func(context.Context) (*status.Report, error), output string) error {
	var last *status.Report
	ticker := time.NewTicker(statusWatchInterval)
	defer ticker.Stop()
	for {
		report, err := collect(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			// A failed look is said and tried again: a watch outlives a moment of unavailability.
			e.progress("reading the status: %v (trying again)", err)
		case last == nil || !reflect.DeepEqual(withoutHeartbeats(last), withoutHeartbeats(report)):
			if last != nil && output == "" {
				e.say("")
			}
			if err := report.Write(e.streams.Out, output, time.Now()); err != nil {
				return err
			}
			last = report
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return ctx.Err()
			}
			return failure(last)
		case <-ticker.C:
		}
	}
}

// withoutHeartbeats is the report with its heartbeats left out: a new heartbeat alone is no
// change worth printing.
func withoutHeartbeats(r *status.Report) status.Report {
	out := *r
	out.Rows = slices.Clone(r.Rows)
	for i := range out.Rows {
		out.Rows[i].LastSyncerHeartbeatTime = nil
	}
	return out
}

// failure is the command's error when the report says something failed.
func failure(r *status.Report) error {
	if !r.Failed() {
		return nil
	}
	failed := 0
	for _, row := range r.Rows {
		if row.State == placement.StateFailed {
			failed++
		}
	}
	return fmt.Errorf("%d object(s) failed at their destinations, %d placement problem(s)", failed, len(r.Problems))
}
