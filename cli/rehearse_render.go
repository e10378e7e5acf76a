package cli

import (
	"fmt"
	"io"
	"math"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rehearsal"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

const rehearsalHeader = "ROUND\tOUTCOME\tDURATION\tOLD-PODS\tREQUESTS\tERRORS\tERROR-RATE\tP50\tP95\tP99\tSIGKILLS\tUNCLEAN\tPROPAGATION-P95\tDATA-PLANE-P95\tERRORS-BY-CLASS"

// printRehearsal prints a rehearsal: JSON or YAML as a whole; text as a row
// per round and one overall, the breaches by round, the outcome, and with
// --compare the before/after table.
func printRehearsal(w io.Writer, r *rehearsal.Report, format string, colour bool) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "yaml":
		return writeYAML(w, r)
	}
	fmt.Fprintf(w, "Rehearsal of %s -n %s: %d of %d rounds, --on-breach=%s\n", r.Workload, r.Namespace, len(r.Rounds), r.RoundsRequested, r.OnBreach)
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, paintHeader(rehearsalHeader, "OUTCOME", colour))
	for _, round := range r.Rounds {
		rep := round.Report
		fmt.Fprintf(tw, "%d\t%s\t%.1fs\t%s\n", round.Round, paintCell(string(rep.Outcome), outcomeStatus(rep.Outcome), colour), rep.DurationSeconds, figureCells(round.Figures))
	}
	fmt.Fprintf(tw, "all\t%s\t%s\t%s\n", paintCell(string(r.Outcome), outcomeStatus(r.Outcome), colour), "-", figureCells(r.Overall))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, round := range r.Rounds {
		for _, b := range round.Report.Breaches {
			fmt.Fprintf(w, "Round %d breach: %s: %s -> %s\n", round.Round, b.Budget, b.Message, b.Action)
		}
	}
	fmt.Fprintf(w, "Outcome: %s (%s)\n", paint(string(r.Outcome), outcomeStatus(r.Outcome), colour), r.Message)
	if r.StoppedInRound > 0 {
		fmt.Fprintf(w, "Stopped in round %d of %d\n", r.StoppedInRound, r.RoundsRequested)
	}
	if c := r.Compare; c != nil {
		fmt.Fprintf(w, "\nBefore: %s -n %s, %d rounds. After: this rehearsal, %d rounds.\n", c.Before.Workload, c.Before.Namespace, c.Before.Rounds, len(r.Rounds))
		tw := printers.GetNewTabWriter(w)
		fmt.Fprintln(tw, "FIGURE\tBEFORE\tAFTER\tCHANGE")
		for _, row := range c.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Figure, figureValue(row.Before, row.Unit), figureValue(row.After, row.Unit), change(row))
		}
		return tw.Flush()
	}
	return nil
}

func outcomeStatus(o report.Outcome) verify.Status {
	if o == report.OutcomeSucceeded {
		return verify.StatusPass
	}
	return verify.StatusFail
}

// figureCells are a row's figure columns, from OLD-PODS on; "-" for what
// was not measured.
func figureCells(f rehearsal.Figures) string {
	requests, errs, rate, p50, p95, p99, classes := "-", "-", "-", "-", "-", "-", "-"
	if p := f.Probe; p != nil {
		requests, errs = fmt.Sprint(p.Requests), fmt.Sprint(p.Errors)
		rate = fmt.Sprintf("%.2f%%", p.ErrorRate*100)
		p50, p95, p99 = ms(p.LatencyMs.P50), ms(p.LatencyMs.P95), ms(p.LatencyMs.P99)
		if c := describeClasses(p.ErrorsByClass); c != "" {
			classes = strings.TrimSuffix(strings.TrimPrefix(c, " ("), ")")
		}
	}
	dataPlane := "-"
	if f.DataPlanePropagation != nil {
		dataPlane = secs3(f.DataPlanePropagation.P95)
	}
	return strings.Join([]string{fmt.Sprint(f.OldPods), requests, errs, rate, p50, p95, p99,
		fmt.Sprint(f.SIGKILLs), fmt.Sprint(f.UncleanExits), secs3(f.Propagation.P95), dataPlane, classes}, "\t")
}

func ms(v float64) string { return fmt.Sprintf("%.1fms", v) }

func secs3(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3fs", *v)
}

// figureValue shows a compared figure in its unit.
func figureValue(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	switch unit {
	case rehearsal.UnitPercent:
		return fmt.Sprintf("%.2f%%", *v)
	case rehearsal.UnitMs:
		return fmt.Sprintf("%.1fms", *v)
	case rehearsal.UnitSeconds:
		return fmt.Sprintf("%.3fs", *v)
	}
	return trimFloat(*v)
}

// change shows a row's change: absolute (percentage points for a rate),
// then relative where before was not 0.
func change(r rehearsal.Row) string {
	if r.Change == nil {
		return "-"
	}
	c := *r.Change
	sign := "+"
	if c < 0 {
		sign = "-"
	}
	magnitude := math.Abs(c)
	abs := figureValue(&magnitude, r.Unit)
	if r.Unit == rehearsal.UnitPercent {
		abs = strings.TrimSuffix(abs, "%") + " pp"
	}
	out := sign + abs
	if c == 0 {
		out = "0"
	}
	if r.RelativeChange != nil && c != 0 {
		out += fmt.Sprintf(" (%+.0f%%)", *r.RelativeChange*100)
	}
	return out
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
