package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/attribution"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// observe gathers what the breach limits are checked against.
func (r *run) observe() policy.Observations {
	obs := policy.ObserveDrains(r.rollout.OldTimelines())
	for _, f := range r.rollout.NewPodFailures() {
		obs.NewPodRestarts += f.Count()
		obs.NewPodFailed, obs.NewPodFailure = f.Pod, describeFailure(f)
	}
	if r.Probe != nil {
		snap := r.Probe.Snapshot()
		obs.ProbeRunning, obs.ProbeRequests, obs.ProbeErrors = true, snap.Requests, snap.Errors
	}
	if r.Query != nil {
		obs.QueryValue, obs.QueryName = r.queryValue, r.Query.Name
	}
	return obs
}

// checkLimits acts on new breaches; it returns true when the guard must stop.
func (r *run) checkLimits(ctx context.Context) bool {
	for _, b := range r.Limits.Evaluate(r.observe(), r.breached, r.Clock.Now()) {
		r.breached[b.Budget] = true
		if r.act(ctx, b) {
			return true
		}
	}
	return false
}

// act carries out --on-breach for b and records it; it returns true when the
// guard stops (the rollout was stopped, rolled back, or the action failed).
func (r *run) act(ctx context.Context, b policy.Breach) bool {
	w := r.rollout.Workload
	kind := r.kindActions()
	action := r.OnBreach
	var previous *rollbackTarget
	if action == policy.ActionRollback || action == policy.ActionAuto {
		previous = kind.rollbackTarget()
		var previousTemplate *corev1.PodTemplateSpec
		if previous != nil {
			previousTemplate = previous.template
		}
		action = policy.Resolve(action, w.Template(), previousTemplate)
	}
	if r.phase == phaseProbeTail {
		action = policy.ActionNone // the rollout already completed: nothing to stop
	}
	r.emit(progress.BreachDetected{Header: r.header(), Budget: b.Budget, Message: b.Message, Pod: b.Pod})
	rep := r.report
	record := func(what string) {
		b.Action = what
		if what != "none" { // nothing was done: no latency to report
			latency := r.Clock.Since(b.At).Seconds()
			b.ActionLatencySeconds = &latency
		}
		rep.Breaches = append(rep.Breaches, b)
	}
	attempt := func(err error) {
		a := policy.Attempt{At: r.Clock.Now()}
		if err != nil {
			a.Error = err.Error()
		}
		b.Attempts = append(b.Attempts, a)
	}
	timeout := r.ActionTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch action {
	case policy.ActionPause:
		stopped, err := kind.stop(ctx, attempt)
		var refusal refused
		switch {
		case errors.As(err, &refusal):
			record("pause-refused")
			rep.Outcome, rep.Message = report.OutcomeFailed, b.Message+"; "+err.Error()+": nothing was changed"
			return true
		case err != nil:
			record("failed: " + err.Error())
			rep.Outcome, rep.Message = report.OutcomeFailed, b.Message+"; pausing failed: "+err.Error()
			return true
		}
		record(progress.ActionPaused)
		rep.Outcome = report.OutcomePaused
		rep.Message = b.Message + "; " + stopped
		r.emit(progress.ActionTaken{Header: r.header(), Action: progress.ActionPaused, Detail: stopped})
		return true
	case policy.ActionRollback:
		err := errors.New("no previous revision to roll back to")
		revision, note := "", ""
		if previous != nil {
			revision = previous.revision
			note, err = kind.rollback(ctx, previous, attempt)
		}
		var refusal refused
		switch {
		case errors.As(err, &refusal):
			record("rollback-refused")
			rep.Outcome, rep.Message = report.OutcomeFailed, b.Message+"; "+err.Error()+": nothing was changed"
		case err != nil:
			record("failed: " + err.Error())
			rep.Outcome, rep.Message = report.OutcomeFailed, b.Message+"; rollback failed: "+err.Error()
		default:
			record(progress.ActionRolledBack)
			rep.Outcome = report.OutcomeRolledBack
			done := fmt.Sprintf("rolled back to the template of revision %s (kubectl rollout history %s -n %s)", revision, workload.Ref(w), w.GetNamespace())
			if note != "" {
				done += "; " + note
			}
			rep.Message = b.Message + "; " + done
			r.emit(progress.ActionTaken{Header: r.header(), Action: progress.ActionRolledBack, Revision: revision, Detail: done})
		}
		return true
	}
	record("none")
	return false
}

// progressBreach handles a rollout that stopped progressing: a breach like the
// others, and outcome timeout when no action is taken.
func (r *run) progressBreach(ctx context.Context, msg string) *report.Rollout {
	b := policy.Breach{Budget: policy.BudgetProgress, At: r.Clock.Now(), Message: msg}
	r.breached[policy.BudgetProgress] = true
	if !r.act(ctx, b) {
		r.report.Outcome, r.report.Message = report.OutcomeTimeout, msg
	}
	return r.finish()
}

// complete ends a rollout that finished: failed when a limit was breached with no action.
func (r *run) complete() *report.Rollout {
	if len(r.report.Breaches) > 0 {
		msgs := make([]string, 0, len(r.report.Breaches))
		for _, b := range r.report.Breaches {
			msgs = append(msgs, b.Message)
		}
		r.report.Outcome, r.report.Message = report.OutcomeFailed, "rollout complete, but "+strings.Join(msgs, "; ")
	}
	return r.finish()
}

// finish stops the probe and fills in the report.
func (r *run) finish() *report.Rollout {
	r.stopProbeOnce()
	rep := r.report
	rep.FinishedAt = r.Clock.Now()
	rep.ToRevision = r.rollout.Workload.Revision()
	rep.OnBreach = string(r.OnBreach)
	if rep.Breaches == nil {
		rep.Breaches = []policy.Breach{}
	}
	timelines := r.rollout.OldTimelines()
	rep.Summarise(timelines, r.GraceBudget)
	for i := range rep.Pods {
		if u := rep.Pods[i].GraceUsage; u != nil && r.Limits.MaxGraceUsage > 0 && *u > r.Limits.MaxGraceUsage {
			rep.Pods[i].GraceUsageExceeded = true
		}
	}
	if r.Probe != nil {
		rep.AttributeProbe(r.Probe.Snapshot(), attribute(r.Probe, timelines, rep.FinishedAt))
		if s, ok := r.Probe.(interface{ Series() []traffic.SecondStat }); ok {
			rep.Probe.Series = s.Series()
		}
		r.addDataPlane(rep, timelines)
	}
	rep.NewPods = r.rollout.NewPods()
	return rep
}

// attribute blames the probe's errors on the pods terminating when they happened.
func attribute(p TrafficProbe, timelines []*state.PodTimeline, end time.Time) attribution.Result {
	return attribution.Attribute(attributionBuckets(p.ErrorBuckets()), terminatingWindows(timelines, end))
}

// terminatingWindows are the old pods' windows of blame: from the deletion
// until the pod was gone (or end, when it was still there).
func terminatingWindows(timelines []*state.PodTimeline, end time.Time) []attribution.Window {
	var windows []attribution.Window
	for _, t := range timelines {
		if !t.Deleting() {
			continue
		}
		windows = append(windows, attribution.Window{Pod: t.Name, From: t.DeletionObserved, To: goneOr(t, end)})
	}
	return windows
}

// goneOr is when the pod was gone, or end when it was still there.
func goneOr(t *state.PodTimeline, end time.Time) time.Time {
	if t.Gone.IsZero() {
		return end
	}
	return t.Gone
}

func attributionBuckets(errs []traffic.ErrorBucket) []attribution.ErrorBucket {
	out := make([]attribution.ErrorBucket, 0, len(errs))
	for _, b := range errs {
		out = append(out, attribution.ErrorBucket{Start: b.Start, Width: b.Width, Errors: b.Errors})
	}
	return out
}

// describeFailure says what failed in a new pod, e.g.
// "pod web-abc container app exited 1 (Error), 2 restarts".
func describeFailure(f state.PodFailure) string {
	msg := "pod " + f.Pod + " container " + f.Container
	switch {
	case f.ExitCode != nil:
		msg += fmt.Sprintf(" exited %d (%s)", *f.ExitCode, f.Reason)
	case f.Reason != "":
		msg += " " + f.Reason
	}
	if f.Restarts > 0 {
		msg += fmt.Sprintf(", %d restarts", f.Restarts)
	}
	return msg
}
