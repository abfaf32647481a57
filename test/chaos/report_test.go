//go:build chaos

package chaos

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// maxReportedDetails bounds the lines the report repeats per failed round.
const maxReportedDetails = 12

// report prints the run's table (every round, then the totals) and fails the test when an
// invariant was violated.
func report(t *testing.T, seed uint64, replay string, results []roundResult, took time.Duration) {
	t.Helper()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "round\tfault\tchanges\tconverged\tafter healing\tlost\tstale\textra\tuntouched-violations\tmailbox-deletions\tspace-notfound\terror\n")
	byKind := map[faultKind]int{}
	var lost, stale, extra, untouched, mailboxes, notFound, failed int
	var times []time.Duration
	for _, r := range results {
		byKind[r.fault.kind]++
		lost += len(r.lost)
		stale += len(r.stale)
		extra += len(r.extra)
		untouched += len(r.untouched)
		mailboxes += len(r.mailboxIssues)
		notFound += len(r.spuriousNotFound)
		if r.failed() {
			failed++
		}
		if r.converged {
			times = append(times, r.converge)
		}
		errText := ""
		if r.err != nil {
			errText = r.err.Error()
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%t\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.n, r.fault, r.ops, r.converged, r.converge.Round(100*time.Millisecond),
			len(r.lost), len(r.stale), len(r.extra), len(r.untouched), len(r.mailboxIssues), len(r.spuriousNotFound), errText)
	}
	_ = tw.Flush()
	slices.Sort(times)
	p50, maxTime := "-", "-"
	if len(times) > 0 {
		p50 = times[(len(times)+1)/2-1].Round(100 * time.Millisecond).String()
		maxTime = times[len(times)-1].Round(100 * time.Millisecond).String()
	}
	var kinds []string
	for _, k := range faultKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, byKind[k]))
	}
	fmt.Fprintf(&b, "\nseed %d, %d rounds in %s (replay: %s)\n", seed, len(results), took.Round(time.Second), replay)
	fmt.Fprintf(&b, "%-24s %d\n", "rounds", len(results))
	fmt.Fprintf(&b, "%-24s %s\n", "faults by kind", strings.Join(kinds, " "))
	fmt.Fprintf(&b, "%-24s %d\n", "lost", lost)
	fmt.Fprintf(&b, "%-24s %d\n", "stale", stale)
	fmt.Fprintf(&b, "%-24s %d\n", "extra", extra)
	fmt.Fprintf(&b, "%-24s %d\n", "untouched-violations", untouched)
	fmt.Fprintf(&b, "%-24s %d\n", "mailbox-deletions", mailboxes)
	fmt.Fprintf(&b, "%-24s %d\n", "space-notfound", notFound)
	fmt.Fprintf(&b, "%-24s %s\n", "converge p50", p50)
	fmt.Fprintf(&b, "%-24s %s\n", "converge max", maxTime)
	fmt.Fprintf(&b, "%-24s %d\n", "failed rounds", failed)
	// What went wrong comes last, so that the end of the output shows it.
	for _, r := range results {
		if !r.failed() {
			continue
		}
		fmt.Fprintf(&b, "\nround %d failed (%s):\n", r.n, r.fault)
		if r.err != nil {
			fmt.Fprintf(&b, "  error: %v\n", r.err)
		}
		for i, d := range r.details {
			if i == maxReportedDetails {
				fmt.Fprintf(&b, "  ... and %d more lines above\n", len(r.details)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	t.Logf("chaos report\n%s", b.String())
	// Printed on standard output as well, so the table shows without -v.
	fmt.Print("\n" + b.String())
	if failed > 0 {
		t.Errorf("%d of %d rounds violated an invariant (seed %d; replay with %s); see the rounds above", failed, len(results), seed, replay)
	}
}
