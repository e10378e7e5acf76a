// Package rollout guards one workload's rollout: it wires the watches
// (rollout/watch) into the state reducer (rollout/state), checks the breach
// limits (rollout/policy), acts (rollout/actions) and builds the report
// (rollout/report). Progress leaves as typed events (rollout/progress).
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// Trigger starts the rollout once the guard's watches are in place (restart);
// it returns the workload as the trigger left it. Watch passes nil.
type Trigger func(ctx context.Context) (workload.Workload, error)

// TrafficProbe is probe traffic sent through the Services during the rollout
// (traffic.Prober); the guard attributes its errors to terminating pods.
type TrafficProbe interface {
	Run(ctx context.Context)
	Notify() <-chan struct{}
	Snapshot() traffic.ProbeReport
	ErrorBuckets() []traffic.ErrorBucket
}

// MetricQuery is an external signal evaluated every Interval (Prometheus).
type MetricQuery struct {
	Name     string
	Value    func(ctx context.Context) (float64, error)
	Interval time.Duration
}

// Guard watches one workload's rollout, records every old pod's drain and acts
// (OnBreach) when a breach limit is exceeded.
type Guard struct {
	Client kubernetes.Interface
	Clock  clock.Clock
	// Progress receives the typed progress events; nil discards them.
	Progress progress.Sink
	// GraceBudget feeds the grace recommendation with the measured propagation.
	GraceBudget verify.GraceBudget
	Limits      policy.BreachLimits
	OnBreach    policy.Action // "" behaves as none
	// Timeout ends the guard (a progress breach); 0 means no limit.
	Timeout time.Duration
	// ActionTimeout bounds a pause or rollback with its retries; 0: 30 s.
	ActionTimeout time.Duration
	// IgnoreContainers are reported but not judged, besides those the workload's
	// safe-rollout.io/ignore-containers annotation names.
	IgnoreContainers []string
	Probe            TrafficProbe
	ProbeTail        time.Duration
	Query            *MetricQuery
	// Follow goes on with each new revision someone else rolls out meanwhile,
	// until the workload is complete with no newer one; without it a new
	// revision ends the guard (outcome superseded).
	Follow bool
	// Connectivity, when the client's transport reports to one, tells the
	// guard when its API requests fail and recover (watch gaps); nil: only
	// the informers' own errors are seen.
	Connectivity *watch.Connectivity
	// Trace, when set, gets one JSON line per change the guard handled (the
	// hidden --debug-trace; make bench reads it).
	Trace io.Writer
}

// phase is where a run stands: rolling until the rollout completes, then, with a
// probe, probing for the tail.
type phase int

const (
	phaseRolling phase = iota
	phaseProbeTail
)

// run is one guarded rollout; it is owned by the goroutine of Guard.Run.
type run struct {
	*Guard
	rollout *state.Rollout
	report  *report.Rollout
	phase   phase
	// target is the generation that completes the rollout; guarded is the pod
	// template it rolls out (rollback only replaces that one).
	target     int64
	guarded    *corev1.PodTemplateSpec
	lastStatus string
	breached   map[string]bool
	// openGaps indexes report.WatchGaps by the resource whose watch is failing.
	openGaps map[string]int
	watches  *watch.Watches
	// replayUntil ends the time after a gap when changes may be replays.
	replayUntil time.Time
	tail        <-chan time.Time
	queryValue  *float64
	stopProbe   func()
}

// Run guards the rollout of w. With a trigger it starts the rollout itself once
// its watches are synced. It returns the report so far also on timeout and
// interruption (ctx cancelled).
func (g *Guard) Run(ctx context.Context, w workload.Workload, trigger Trigger) (*report.Rollout, error) {
	selector, err := metav1.LabelSelectorAsSelector(w.Selector())
	if err != nil {
		return nil, fmt.Errorf("%s -n %s has an invalid selector: %w", workload.Ref(w), w.GetNamespace(), err)
	}
	services, err := g.Client.CoreV1().Services(w.GetNamespace()).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	var serviceNames []string
	for _, s := range workload.SelectingServices(w, services.Items) {
		serviceNames = append(serviceNames, s.Name)
	}
	started := g.Clock.Now()
	rollout := state.New(w, started)
	rollout.Ignore = map[string]bool{}
	for _, name := range append(workload.IgnoredContainers(w), g.IgnoreContainers...) {
		rollout.Ignore[name] = true
	}
	r := &run{
		Guard:    g,
		rollout:  rollout,
		report:   report.New(w.Kind(), w.GetNamespace(), w.GetName(), started, trigger != nil, w.Revision()),
		breached: map[string]bool{},
		openGaps: map[string]int{},
	}
	watchCtx, stopWatches := context.WithCancel(ctx)
	watches, err := watch.Start(watchCtx, g.Client, watch.Target{Workload: w, Selector: selector, Services: serviceNames})
	if err != nil {
		stopWatches()
		return nil, err
	}
	defer func() { stopWatches(); watches.Stop() }()
	r.watches = watches
	if err := r.sync(ctx, watches); err != nil {
		return nil, err
	}
	g.emit(progress.WatchStarted{Header: r.header(), Services: serviceNames})

	r.target = r.rollout.Workload.GetGeneration()
	r.guarded = r.rollout.Workload.Template().DeepCopy()
	if trigger == nil {
		if _, done, err := r.rollout.Status(r.target); done && err == nil {
			r.report.Outcome, r.report.Message = report.OutcomeNoRollout, "no rollout in progress"
			return r.finish(), nil
		}
	}
	// Probe traffic starts just before the rollout and ends after it plus a tail.
	var probeNotify <-chan struct{}
	if g.Probe != nil {
		probeCtx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { g.Probe.Run(probeCtx); close(stopped) }()
		r.stopProbe = func() { cancel(); <-stopped }
		probeNotify = g.Probe.Notify()
	}
	defer r.stopProbeOnce()
	if trigger != nil {
		out, err := trigger(ctx)
		if err != nil {
			return nil, err
		}
		r.target = out.GetGeneration()
		r.guarded = out.Template().DeepCopy()
		// The watch may deliver this update later than a breach: act on it now.
		r.rollout.Workload = out
		g.emit(progress.RestartRequested{Header: r.header(), Generation: r.target})
	}
	return r.loop(ctx, watches, probeNotify)
}

// sync folds the initial lists while waiting for the informers to sync: their
// handlers block on a full channel, and a registration only counts as synced
// once its handler has received every initial object.
func (r *run) sync(ctx context.Context, w *watch.Watches) error {
	synced := w.Synced(ctx)
	for {
		select {
		case c := <-w.Changes:
			r.apply(c)
		case ok := <-synced:
			if !ok {
				return fmt.Errorf("watches did not sync: %w", context.Cause(ctx))
			}
			for {
				select {
				case c := <-w.Changes:
					r.apply(c)
				default:
					return nil
				}
			}
		case err := <-w.Retrying:
			r.watchFailed(err)
		case e := <-r.connectivity():
			r.connectivityChanged(e)
		case err := <-w.Failed:
			return err
		}
	}
}

// loop follows the rollout until it ends and returns the report.
func (r *run) loop(ctx context.Context, w *watch.Watches, probeNotify <-chan struct{}) (*report.Rollout, error) {
	var timeout <-chan time.Time
	if r.Timeout > 0 {
		timeout = r.Clock.After(r.Timeout)
	}
	queryResults := r.startQuery(ctx)
	for {
		if r.checkWorkload() {
			return r.report, nil
		}
		if r.phase == phaseRolling {
			if done, tailStart := r.checkStatus(ctx); done {
				return r.report, nil
			} else if tailStart {
				r.tail = r.Clock.After(r.ProbeTail)
			}
		}
		select {
		case c := <-w.Changes:
			r.apply(c)
			r.applyQueued(w)
		case <-probeNotify:
		case q := <-queryResults:
			r.queryResult(q)
		case <-r.tail:
			return r.complete(), nil
		case <-timeout:
			return r.progressBreach(ctx, fmt.Sprintf("not complete after %s: %s", r.Timeout, r.lastStatus)), nil
		case <-ctx.Done():
			r.report.Outcome, r.report.Message = report.OutcomeInterrupted, "stopped guarding; the rollout continues in the cluster"
			return r.finish(), nil
		case err := <-w.Retrying:
			r.watchFailed(err)
		case e := <-r.connectivity():
			r.connectivityChanged(e)
		case err := <-w.Failed:
			return nil, err
		}
		if r.checkLimits(ctx) {
			return r.finish(), nil
		}
	}
}

// applyQueued folds the changes already queued behind the one just applied, so
// that a burst (a 500-replica rollout delivers hundreds at once) costs one
// status and limit check, not one per change: those walk every pod. A change
// that arrives alone is checked at once, as before.
func (r *run) applyQueued(w *watch.Watches) {
	for range cap(w.Changes) {
		select {
		case c := <-w.Changes:
			r.apply(c)
		default:
			return
		}
	}
}

// checkStatus moves the run on from the rollout's status: done when the guard
// ends now, tailStart when the rollout completed and the probe tail begins.
func (r *run) checkStatus(ctx context.Context) (done, tailStart bool) {
	msg, complete, err := r.rollout.Status(r.target)
	var deadline *workload.ProgressDeadlineError
	switch {
	case errors.As(err, &deadline):
		r.progressBreach(ctx, deadline.Error())
		return true, false
	case complete:
		r.report.Outcome, r.report.Message = report.OutcomeSucceeded, msg
		if r.Probe == nil || r.ProbeTail <= 0 {
			r.complete()
			return true, false
		}
		r.phase = phaseProbeTail
		r.emit(progress.ProbingTail{Header: r.header(), Status: msg, Tail: r.ProbeTail})
		return false, true
	case msg != r.lastStatus:
		r.lastStatus = msg
		r.emit(progress.StatusChanged{Header: r.header(), Message: msg})
	}
	return false, false
}

func (r *run) apply(c watch.Change) {
	r.watchDelivered(c.Resource)
	r.serviceSeen(c)
	now := r.Clock.Now()
	r.rollout.Late = r.late(now)
	var events []progress.Event
	if c.Unobserved {
		events = r.rollout.ApplyUnobserved(c.Object, now)
	} else {
		events = r.rollout.Apply(c.Object, c.Deleted, now)
	}
	for _, e := range events {
		r.emit(e)
	}
	r.markProbe(events)
	if r.Trace != nil {
		trace(r.Trace, c, r.Clock.Now())
	}
}

func (r *run) header() progress.Header {
	return progress.Header{Workload: r.rollout.Ref(), At: r.Clock.Now()}
}

func (g *Guard) emit(e progress.Event) {
	if g.Progress != nil {
		g.Progress(e)
	}
}

func (r *run) stopProbeOnce() {
	if r.stopProbe != nil {
		r.stopProbe()
		r.stopProbe = nil
	}
}
