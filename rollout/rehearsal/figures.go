package rehearsal

import (
	"math"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// Figures are what a round (or the whole rehearsal) measured.
type Figures struct {
	// Probe is nil without --probe.
	Probe                  *ProbeFigures `json:"probe,omitempty"`
	OldPods                int           `json:"oldPods"`
	SIGKILLs               int           `json:"sigkills"`
	UncleanExits           int           `json:"uncleanExits"`
	ExitedBeforeNotServing int           `json:"exitedBeforeNotServing"`
	// Propagation is API-level: deletion to endpoint not ready, over the pods.
	Propagation report.Percentiles `json:"propagation"`
	// DataPlanePropagation is the data plane's figure when the rounds'
	// reports carry one; nil otherwise.
	DataPlanePropagation *report.Percentiles `json:"dataPlanePropagation,omitempty"`
}

// ProbeFigures are the probe traffic's figures.
type ProbeFigures struct {
	Requests      int            `json:"requests"`
	Errors        int            `json:"errors"`
	ErrorsByClass map[string]int `json:"errorsByClass"`
	// ErrorRate is Errors / Requests (0 without requests).
	ErrorRate float64           `json:"errorRate"`
	LatencyMs traffic.LatencyMs `json:"latencyMs"`
}

// NewProbeFigures are a probe report's figures.
func NewProbeFigures(p traffic.ProbeReport) *ProbeFigures {
	f := &ProbeFigures{Requests: p.Requests, Errors: p.Errors, ErrorsByClass: map[string]int{}, LatencyMs: p.LatencyMs}
	for k, v := range p.ErrorsByClass {
		f.ErrorsByClass[k] = v
	}
	if p.Requests > 0 {
		f.ErrorRate = math.Round(float64(p.Errors)/float64(p.Requests)*1e6) / 1e6
	}
	return f
}

// RoundFigures are one round's figures, from its guard's report: its probe
// section is the round's window of the rehearsal's traffic.
func RoundFigures(r *report.Rollout) Figures {
	f := Figures{
		OldPods: r.Summary.OldPods, SIGKILLs: r.Summary.SIGKILLs, UncleanExits: r.Summary.UncleanExits,
		ExitedBeforeNotServing: r.Summary.ExitedBeforeNotServing, Propagation: r.Propagation,
		DataPlanePropagation: dataPlane(r),
	}
	if r.Probe != nil {
		f.Probe = NewProbeFigures(r.Probe.ProbeReport)
	}
	return f
}

// Overall adds the rounds up. The pod counts are sums; propagation is
// recomputed over every round's pods (percentiles do not add); the probe
// figures are the whole rehearsal's traffic, probe (nil: none).
func Overall(rounds []*report.Rollout, probe *traffic.ProbeReport) Figures {
	var f Figures
	var notReady []float64
	for _, r := range rounds {
		f.OldPods += r.Summary.OldPods
		f.SIGKILLs += r.Summary.SIGKILLs
		f.UncleanExits += r.Summary.UncleanExits
		f.ExitedBeforeNotServing += r.Summary.ExitedBeforeNotServing
		for _, p := range r.Pods {
			// As report.Summarise: an evicted pod's drain is not the rollout's.
			if p.SecondsToNotReady != nil && p.Verdict != report.VerdictEvicted {
				notReady = append(notReady, *p.SecondsToNotReady)
			}
		}
	}
	f.Propagation = report.NewPercentiles(notReady)
	f.DataPlanePropagation = overallDataPlane(rounds)
	if probe != nil {
		f.Probe = NewProbeFigures(*probe)
	}
	return f
}

// dataPlane is a round report's data-plane propagation (endpoint not ready
// to the last request on a new connection, --probe-identity-header); nil
// without one.
func dataPlane(r *report.Rollout) *report.Percentiles { return r.DataPlanePropagation }

// overallDataPlane recomputes the data-plane propagation over every round's
// pods; nil when no round measured it.
func overallDataPlane(rounds []*report.Rollout) *report.Percentiles {
	measured := false
	var samples []float64
	for _, r := range rounds {
		if r.DataPlanePropagation == nil {
			continue
		}
		measured = true
		for _, p := range r.Pods {
			if p.DataPlanePropagationSeconds != nil {
				samples = append(samples, *p.DataPlanePropagationSeconds)
			}
		}
	}
	if !measured {
		return nil
	}
	pct := report.NewPercentiles(samples)
	return &pct
}
