// Package step guards a release step: several workloads restarted (or
// watched) in one run, at most Concurrency at a time, in the given order. With
// the step's budget scope the first breach stops the step: the breaching
// workload gets its own --on-breach action (its guard takes it), workloads not
// yet started are not started, and those in flight finish under guard.
package step

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// Scope says what a breach stops.
type Scope string

const (
	// ScopeStep: the first breach stops the whole step.
	ScopeStep Scope = "step"
	// ScopeWorkload: a breach acts on its workload only; the others go on.
	ScopeWorkload Scope = "workload"
)

// Scopes lists the values --budget-scope accepts.
func Scopes() []Scope { return []Scope{ScopeStep, ScopeWorkload} }

// Report is a step's result; its JSON form is the plugin's `-o json` output
// for several workloads.
type Report struct {
	Outcome report.Outcome `json:"outcome"`
	Message string         `json:"message,omitempty"`
	// Workloads are the reports of the workloads guarded, in the given order.
	Workloads []*report.Rollout `json:"workloads"`
	// Skipped are the workloads not started because the step stopped.
	Skipped []Skipped `json:"skipped"`
	// Probe is the step's probe traffic, when there was some: it ran once
	// for the whole step; each workload's report attributes the errors of
	// its own rollout to its pods.
	Probe *traffic.ProbeReport `json:"probe,omitempty"`
}

// Skipped is a workload the step did not start.
type Skipped struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
}

// GuardFunc restarts (or watches) one workload and guards its rollout.
type GuardFunc func(ctx context.Context, w workload.Workload) (*report.Rollout, error)

// Runner runs a step.
type Runner struct {
	// Concurrency bounds the workloads guarded at once; below 1 means 1.
	Concurrency int
	Scope       Scope
	Guard       GuardFunc
}

// Run guards every target in order. A guard's error (the API refused the
// restart, a watch could not start) stops the step like a breach; Run then
// returns the report so far with the errors.
func (r Runner) Run(ctx context.Context, targets []workload.Workload) (*Report, error) {
	slots := make(chan struct{}, max(r.Concurrency, 1))
	results := make([]*report.Rollout, len(targets))
	errs := make([]error, len(targets))
	var (
		mu       sync.Mutex
		stopping string // why the step stopped; "" while it goes on
		wg       sync.WaitGroup
	)
	rep := &Report{Skipped: []Skipped{}}
	for i, w := range targets {
		slots <- struct{}{}
		mu.Lock()
		why := stopping
		mu.Unlock()
		if why == "" && ctx.Err() != nil {
			why = "interrupted before it started"
		}
		if why != "" {
			<-slots
			rep.Skipped = append(rep.Skipped, Skipped{Kind: w.Kind(), Namespace: w.GetNamespace(), Name: w.GetName(), Reason: why})
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			res, err := r.Guard(ctx, w)
			results[i], errs[i] = res, err
			var stop string
			switch {
			case err != nil:
				stop = fmt.Sprintf("not started: %s failed: %v", workload.Ref(w), err)
			case r.Scope != ScopeWorkload && Breached(res.Outcome):
				stop = fmt.Sprintf("not started: %s ended %s", workload.Ref(w), res.Outcome)
			}
			if stop != "" {
				mu.Lock()
				if stopping == "" {
					stopping = stop
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Workloads = []*report.Rollout{}
	for _, res := range results {
		if res != nil {
			rep.Workloads = append(rep.Workloads, res)
		}
	}
	rep.Outcome, rep.Message = summarise(rep)
	err := errors.Join(errs...)
	if err != nil && severity(rep.Outcome) < severity(report.OutcomeFailed) {
		rep.Outcome = report.OutcomeFailed
		rep.Message = strings.TrimPrefix(rep.Message+"; "+err.Error(), "; ")
	}
	return rep, err
}

// Breached tells whether an outcome stops a step: anything but a rollout that
// completed cleanly or was not needed.
func Breached(o report.Outcome) bool {
	return o != report.OutcomeSucceeded && o != report.OutcomeNoRollout
}

// severity orders outcomes for the step's: the worst decides its exit code.
// An interruption or a deleted workload says the least about the release;
// a rollback undid it; a stop or a breach left it half done.
func severity(o report.Outcome) int {
	switch o {
	case report.OutcomeSucceeded, report.OutcomeNoRollout:
		return 0
	case report.OutcomeSuperseded:
		return 1
	case report.OutcomeTimeout:
		return 2
	case report.OutcomeFailed, report.OutcomePaused:
		return 3
	case report.OutcomeRolledBack:
		return 4
	case report.OutcomeDeleted:
		return 5
	}
	return 6 // interrupted, or unknown
}

// summarise is the step's worst outcome and a message naming what happened.
func summarise(rep *Report) (report.Outcome, string) {
	outcome := report.OutcomeSucceeded
	if len(rep.Workloads) > 0 && !slices.ContainsFunc(rep.Workloads, func(w *report.Rollout) bool { return w.Outcome != report.OutcomeNoRollout }) {
		outcome = report.OutcomeNoRollout
	}
	var parts []string
	for _, w := range rep.Workloads {
		if severity(w.Outcome) > severity(outcome) {
			outcome = w.Outcome
		}
		if Breached(w.Outcome) {
			parts = append(parts, w.Workload()+": "+w.Message)
		}
	}
	if n := len(rep.Skipped); n > 0 {
		names := make([]string, 0, n)
		for _, s := range rep.Skipped {
			names = append(names, strings.ToLower(s.Kind)+"/"+s.Name)
		}
		parts = append(parts, fmt.Sprintf("not started: %s", strings.Join(names, ", ")))
	}
	return outcome, strings.Join(parts, "; ")
}
