package rollout

// What happens to the workload besides the rollout the guard follows: the
// watch losing the API server for a while, someone else shipping a new pod
// template, the workload being deleted.

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// watchFailed opens a gap for the resource whose watch failed; its retries
// while the gap is open add nothing.
func (r *run) watchFailed(e watch.Error) {
	if _, open := r.openGaps[e.Resource]; open {
		return
	}
	now := r.Clock.Now()
	r.report.WatchGaps = append(r.report.WatchGaps, report.WatchGap{Resource: e.Resource, From: now, Error: e.Err.Error()})
	r.openGaps[e.Resource] = len(r.report.WatchGaps) - 1
	r.emit(progress.WatchRetrying{Header: r.header(), Resource: e.Resource, Message: e.Err.Error()})
}

// watchDelivered closes the resource's gap: after a failure the reflector
// relists, and its first delivery is the watch working again.
func (r *run) watchDelivered(resource string) {
	i, open := r.openGaps[resource]
	if !open {
		return
	}
	delete(r.openGaps, resource)
	now := r.Clock.Now()
	r.replayUntil = now.Add(replaySettle)
	gap := &r.report.WatchGaps[i]
	gap.To = &now
	r.emit(progress.WatchResumed{Header: r.header(), Resource: resource, Since: gap.From})
}

// replaySettle is how long after a gap closes the watches may still be
// replaying what happened during it (they resume from their last
// resourceVersion and deliver the missed changes at once).
const replaySettle = 2 * time.Second

// late tells whether a change received now may be a replay of the past.
func (r *run) late(now time.Time) bool {
	return len(r.openGaps) > 0 || now.Before(r.replayUntil)
}

// connectivity is the channel of the client's request failures and
// recoveries; nil (never ready) without a Connectivity.
func (r *run) connectivity() <-chan watch.Error {
	if r.Connectivity == nil {
		return nil
	}
	return r.Connectivity.Changes()
}

// connectivityChanged opens a resource's gap on its first failed request and
// closes it on the first that succeeds after it.
func (r *run) connectivityChanged(e watch.Error) {
	if e.Err != nil {
		r.watchFailed(e)
		return
	}
	r.watchDelivered(e.Resource)
}

// serviceSeen starts watching the EndpointSlices of a Service that selects
// the pods and is not watched yet: one created during the rollout.
func (r *run) serviceSeen(c watch.Change) {
	svc, ok := c.Object.(*corev1.Service)
	if !ok || c.Deleted || c.Unobserved || r.watches == nil {
		return
	}
	if len(workload.SelectingServices(r.rollout.Workload, []corev1.Service{*svc})) == 0 {
		return
	}
	added, err := r.watches.WatchServices([]string{svc.Name})
	if err != nil {
		r.emit(progress.WatchRetrying{Header: r.header(), Resource: "endpointslices", Message: err.Error()})
		return
	}
	for _, name := range added {
		r.emit(progress.ServiceWatched{Header: r.header(), Service: name})
	}
}

// checkWorkload ends the run when the workload was deleted, or when someone
// else's pod template replaced the guarded one and the guard does not follow
// it; with Follow, the guard takes the new revision as its target.
func (r *run) checkWorkload() (done bool) {
	w := r.rollout.Workload
	if r.rollout.WorkloadDeleted {
		r.emit(progress.WorkloadDeleted{Header: r.header()})
		r.report.Outcome = report.OutcomeDeleted
		r.report.Message = fmt.Sprintf("%s %s/%s was deleted while guarded", strings.ToLower(w.Kind()), w.GetNamespace(), w.GetName())
		r.finish()
		return true
	}
	// A new revision is known once the controller has observed the generation
	// that changed the template (the revision annotation is then its own).
	if w.GetGeneration() <= r.target || w.ObservedGeneration() < w.GetGeneration() ||
		apiequality.Semantic.DeepEqual(w.Template(), r.guarded) {
		return false
	}
	rev := w.Revision()
	r.report.Revisions = append(r.report.Revisions, report.RevisionChange{Revision: rev, Generation: w.GetGeneration(), At: r.Clock.Now(), Followed: r.Follow})
	r.emit(progress.NewRevision{Header: r.header(), Revision: rev, Generation: w.GetGeneration(), Followed: r.Follow})
	if r.Follow {
		r.target, r.guarded = w.GetGeneration(), w.Template().DeepCopy()
		r.phase, r.tail = phaseRolling, nil
		return false
	}
	if r.phase == phaseProbeTail {
		return false // the guarded rollout completed; the new one is not ours
	}
	r.report.Outcome = report.OutcomeSuperseded
	r.report.Message = fmt.Sprintf("revision %s (generation %d) replaced the guarded pod template: someone else rolled out a new release, which is not guarded (watch --follow guards each new revision)", rev, w.GetGeneration())
	r.finish()
	return true
}
