// Package rehearsal restarts one workload several times back to back under
// probe traffic (each round a guarded restart, rollout.Guard) and sums up what
// the rounds measured: per round and overall figures, and a before/after
// comparison with a previous rehearsal. The JSON names are a contract with
// scripts: a report saved with -o json is the --compare input of the next.
package rehearsal

import (
	"context"
	"fmt"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/step"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// Kind and SchemaVersion identify a rehearsal report (--compare checks them).
const (
	Kind          = "Rehearsal"
	SchemaVersion = 1
)

// Report is a rehearsal's result; its JSON form is `rehearse -o json`.
type Report struct {
	Kind          string `json:"kind"`
	SchemaVersion int    `json:"schemaVersion"`
	Workload      string `json:"workload"`
	Namespace     string `json:"namespace"`
	// RoundsRequested is --rounds; Rounds holds those that ran.
	RoundsRequested int     `json:"roundsRequested"`
	OnBreach        string  `json:"onBreach"`
	Rounds          []Round `json:"rounds"`
	// Overall sums the rounds; its probe figures are the whole rehearsal's
	// traffic (the rounds' windows split it).
	Overall Figures        `json:"overall"`
	Outcome report.Outcome `json:"outcome"`
	Message string         `json:"message,omitempty"`
	// StoppedInRound is the round whose breach (or error) stopped the
	// rehearsal; 0 when every round ran.
	StoppedInRound int         `json:"stoppedInRound"`
	Compare        *Comparison `json:"compare,omitempty"`
}

// Round is one guarded restart: the guard's report and its figures.
type Round struct {
	Round   int             `json:"round"`
	Figures Figures         `json:"figures"`
	Report  *report.Rollout `json:"report"`
}

// RoundFunc restarts the workload once and guards the rollout (round counts from 1).
type RoundFunc func(ctx context.Context, round int) (*report.Rollout, error)

// Runner runs the rounds one after the other.
type Runner struct {
	Rounds int
	// KeepGoing runs every round although one breached (--on-breach=none:
	// measuring an app that breaks). A rollout that did not complete (timeout,
	// interruption, deletion) stops the rehearsal all the same.
	KeepGoing bool
	Round     RoundFunc
}

// Run runs the rounds until one stops the rehearsal; it returns the rounds'
// reports, the round that stopped it (0: none did) and the error of a round
// that could not run.
func (r Runner) Run(ctx context.Context) (rounds []*report.Rollout, stoppedIn int, err error) {
	for i := 1; i <= r.Rounds; i++ {
		rep, err := r.Round(ctx, i)
		if rep != nil {
			rounds = append(rounds, rep)
		}
		if err != nil {
			return rounds, i, fmt.Errorf("round %d: %w", i, err)
		}
		if Stops(rep.Outcome, r.KeepGoing) {
			return rounds, i, nil
		}
	}
	return rounds, 0, nil
}

// Stops tells whether a round's outcome ends the rehearsal: any breach, as it
// ends a restart, except a breach reported with no action (outcome failed on
// a completed rollout) when keepGoing.
func Stops(o report.Outcome, keepGoing bool) bool {
	if !step.Breached(o) {
		return false
	}
	return !(keepGoing && o == report.OutcomeFailed)
}

// New builds the report of the rounds that ran. probe is the whole
// rehearsal's traffic (nil without --probe); err is Runner.Run's.
func New(workload, namespace, onBreach string, requested int, rounds []*report.Rollout, probe *traffic.ProbeReport, stoppedIn int, err error) *Report {
	r := &Report{Kind: Kind, SchemaVersion: SchemaVersion, Workload: workload, Namespace: namespace,
		RoundsRequested: requested, OnBreach: onBreach, Rounds: []Round{}, StoppedInRound: stoppedIn}
	for i, rep := range rounds {
		r.Rounds = append(r.Rounds, Round{Round: i + 1, Figures: RoundFigures(rep), Report: rep})
	}
	r.Overall = Overall(rounds, probe)
	r.Outcome, r.Message = outcome(rounds, requested, stoppedIn, err)
	return r
}

// outcome is the rehearsal's: the first breached round's (the one that
// stopped it, or with --on-breach=none the first that breached), with a
// message naming the round.
func outcome(rounds []*report.Rollout, requested, stoppedIn int, err error) (report.Outcome, string) {
	notRun := ""
	if stoppedIn > 0 && stoppedIn < requested {
		notRun = fmt.Sprintf("; rounds %d-%d not run", stoppedIn+1, requested)
		if stoppedIn+1 == requested {
			notRun = fmt.Sprintf("; round %d not run", requested)
		}
	}
	if err != nil {
		return report.OutcomeFailed, err.Error() + notRun
	}
	for i, rep := range rounds {
		if step.Breached(rep.Outcome) {
			return rep.Outcome, fmt.Sprintf("round %d: %s%s", i+1, rep.Message, notRun)
		}
	}
	if len(rounds) == 0 {
		return report.OutcomeFailed, "no round ran"
	}
	return report.OutcomeSucceeded, fmt.Sprintf("%d rounds, every rollout complete within its limits", len(rounds))
}
