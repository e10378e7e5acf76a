package rollout

import (
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/attribution"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// IdentityProbe is a TrafficProbe that knows which pod served each request
// (traffic.Prober with --probe-identity-header). The guard tells it when each
// pod's endpoint went not ready and not serving, so that it counts, per pod,
// new-connection requests after the first and late requests after the second
// with a few counters instead of keeping every request.
type IdentityProbe interface {
	MarkNotReady(pod string, at time.Time)
	MarkNotServing(pod string, at time.Time)
	MarkGone(pod string)
	Served() []traffic.PodServed
	AnonymousErrorBuckets() (refused, other []traffic.ErrorBucket)
}

// markProbe passes the endpoint changes among events on to an IdentityProbe,
// and the pods that went, so that a later pod of the same name is another one.
func (r *run) markProbe(events []progress.Event) {
	p, ok := r.Probe.(IdentityProbe)
	if !ok {
		return
	}
	for _, e := range events {
		switch e := e.(type) {
		case progress.PodGone:
			p.MarkGone(e.Pod)
		case progress.PodUnobserved:
			p.MarkGone(e.Pod)
		case progress.EndpointNotReady:
			if !r.rollout.Late { // replayed after a watch gap: receipt times are not event times
				p.MarkNotReady(e.Pod, e.At)
			}
		case progress.EndpointNotServing:
			if !r.rollout.Late {
				p.MarkNotServing(e.Pod, e.At)
			}
		}
	}
}

// addDataPlane adds the identity probe's per-pod figures to the report.
func (r *run) addDataPlane(rep *report.Rollout, timelines []*state.PodTimeline) {
	p, ok := r.Probe.(IdentityProbe)
	if !ok {
		return
	}
	refused, other := p.AnonymousErrorBuckets()
	rep.AddDataPlane(timelines, p.Served(), lateFailures(refused, other, timelines, rep.FinishedAt), r.GraceBudget)
}

// lateFailures blames the failures that carried no identity on the pods that
// had stopped serving when they happened: from its endpoint going not serving
// until it was gone, and for a refused connection from its deletion. A pod
// refuses only once nothing listens in it any more, so the refusal shows it
// had stopped serving even when its endpoint still said serving: an app that
// dies at once on SIGTERM stops long before the kubelet notices and flips it.
func lateFailures(refused, other []traffic.ErrorBucket, timelines []*state.PodTimeline, end time.Time) map[string]int {
	var sinceNotServing []attribution.Window
	for _, t := range timelines {
		if t.Deleting() && !t.NotServing.IsZero() {
			sinceNotServing = append(sinceNotServing, attribution.Window{Pod: t.Name, From: t.NotServing, To: goneOr(t, end)})
		}
	}
	late := attribution.Attribute(attributionBuckets(refused), terminatingWindows(timelines, end)).ByPod
	for pod, n := range attribution.Attribute(attributionBuckets(other), sinceNotServing).ByPod {
		late[pod] += n
	}
	return late
}
