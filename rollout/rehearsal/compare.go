package rehearsal

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
)

// Comparison puts a previous rehearsal (before) beside this one (after):
// one row per figure of their overall figures.
type Comparison struct {
	// Before names the previous rehearsal: its workload and rounds.
	Before BeforeRef `json:"before"`
	Rows   []Row     `json:"rows"`
}

// BeforeRef says which rehearsal the comparison's before column is.
type BeforeRef struct {
	Workload  string `json:"workload"`
	Namespace string `json:"namespace"`
	Rounds    int    `json:"rounds"`
}

// Row is one figure before and after. A side without the figure (no probe
// traffic, no data-plane measurement) is nil, and so is the change.
type Row struct {
	Figure string   `json:"figure"`
	Unit   string   `json:"unit,omitempty"`
	Before *float64 `json:"before"`
	After  *float64 `json:"after"`
	// Change is after - before; RelativeChange is Change / before, only when
	// before is not 0.
	Change         *float64 `json:"change"`
	RelativeChange *float64 `json:"relativeChange"`
}

// Units of the rows.
const (
	UnitPercent = "%"
	UnitMs      = "ms"
	UnitSeconds = "s"
)

// Compare builds the before/after table of two rehearsals' overall figures.
func Compare(before, after *Report) *Comparison {
	c := &Comparison{Before: BeforeRef{Workload: before.Workload, Namespace: before.Namespace, Rounds: len(before.Rounds)}}
	add := func(figure, unit string, b, a *float64) {
		row := Row{Figure: figure, Unit: unit, Before: b, After: a}
		if b != nil && a != nil {
			row.Change = rounded(*a - *b)
			if *b != 0 {
				row.RelativeChange = rounded(*row.Change / *b)
			}
		}
		c.Rows = append(c.Rows, row)
	}
	count := func(v int) *float64 { f := float64(v); return &f }
	add("rounds", "", count(len(before.Rounds)), count(len(after.Rounds)))
	if bp, ap := before.Overall.Probe, after.Overall.Probe; bp != nil || ap != nil { // no traffic on either side: no probe rows
		probeRows(add, bp, ap)
	}
	b, a := before.Overall, after.Overall
	add("old pods", "", count(b.OldPods), count(a.OldPods))
	add("SIGKILLs", "", count(b.SIGKILLs), count(a.SIGKILLs))
	add("unclean exits", "", count(b.UncleanExits), count(a.UncleanExits))
	add("exits before not serving", "", count(b.ExitedBeforeNotServing), count(a.ExitedBeforeNotServing))
	add("propagation p95 (API)", UnitSeconds, b.Propagation.P95, a.Propagation.P95)
	add("propagation max (API)", UnitSeconds, b.Propagation.Max, a.Propagation.Max)
	if b.DataPlanePropagation != nil || a.DataPlanePropagation != nil {
		add("propagation p95 (data plane)", UnitSeconds, percentile(b.DataPlanePropagation, p95), percentile(a.DataPlanePropagation, p95))
		add("propagation max (data plane)", UnitSeconds, percentile(b.DataPlanePropagation, pmax), percentile(a.DataPlanePropagation, pmax))
	}
	return c
}

// probeRows adds the probe traffic's rows; a side without traffic has none.
func probeRows(add func(figure, unit string, b, a *float64), bp, ap *ProbeFigures) {
	probe := func(p *ProbeFigures, v func(*ProbeFigures) float64) *float64 {
		if p == nil {
			return nil
		}
		return rounded(v(p))
	}
	add("requests", "", probe(bp, func(p *ProbeFigures) float64 { return float64(p.Requests) }), probe(ap, func(p *ProbeFigures) float64 { return float64(p.Requests) }))
	add("errors", "", probe(bp, func(p *ProbeFigures) float64 { return float64(p.Errors) }), probe(ap, func(p *ProbeFigures) float64 { return float64(p.Errors) }))
	add("error rate", UnitPercent, probe(bp, func(p *ProbeFigures) float64 { return p.ErrorRate * 100 }), probe(ap, func(p *ProbeFigures) float64 { return p.ErrorRate * 100 }))
	for _, class := range errorClasses(bp, ap) {
		n := func(p *ProbeFigures) float64 { return float64(p.ErrorsByClass[class]) }
		add("errors "+class, "", probe(bp, n), probe(ap, n))
	}
	add("latency p50", UnitMs, probe(bp, func(p *ProbeFigures) float64 { return p.LatencyMs.P50 }), probe(ap, func(p *ProbeFigures) float64 { return p.LatencyMs.P50 }))
	add("latency p95", UnitMs, probe(bp, func(p *ProbeFigures) float64 { return p.LatencyMs.P95 }), probe(ap, func(p *ProbeFigures) float64 { return p.LatencyMs.P95 }))
	add("latency p99", UnitMs, probe(bp, func(p *ProbeFigures) float64 { return p.LatencyMs.P99 }), probe(ap, func(p *ProbeFigures) float64 { return p.LatencyMs.P99 }))
}

func p95(p *report.Percentiles) *float64  { return p.P95 }
func pmax(p *report.Percentiles) *float64 { return p.Max }

// percentile picks one figure of p, nil when p is.
func percentile(p *report.Percentiles, pick func(*report.Percentiles) *float64) *float64 {
	if p == nil {
		return nil
	}
	return pick(p)
}

// errorClasses are the error classes either side saw, sorted.
func errorClasses(sides ...*ProbeFigures) []string {
	seen := map[string]bool{}
	for _, p := range sides {
		if p == nil {
			continue
		}
		for k := range p.ErrorsByClass {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func rounded(v float64) *float64 {
	r := math.Round(v*1000) / 1000
	return &r
}

// ErrNotRehearsal: a --compare file that is not a rehearsal report.
var ErrNotRehearsal = errors.New("not a rehearsal report")

// Parse reads a rehearsal report saved with `rehearse -o json`; any other
// JSON (a restart's report, another schema version) is refused.
func Parse(data []byte) (*Report, error) {
	var head struct {
		Kind          string `json:"kind"`
		SchemaVersion int    `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w (want the JSON of rehearse -o json): %w", ErrNotRehearsal, err)
	}
	if head.Kind != Kind {
		return nil, fmt.Errorf("%w: kind %q, want %q (the JSON of rehearse -o json)", ErrNotRehearsal, head.Kind, Kind)
	}
	if head.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w of schemaVersion %d: this version reads %d", ErrNotRehearsal, head.SchemaVersion, SchemaVersion)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRehearsal, err)
	}
	return &r, nil
}
