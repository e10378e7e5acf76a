package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// Trigger starts the rollout once the guard's watches are in place (restart);
// it returns the Deployment as the trigger left it. Watch passes nil.
type Trigger func(ctx context.Context) (*appsv1.Deployment, error)

// TrafficProbe is probe traffic sent through the Services during the rollout
// (verify.Prober); the guard attributes its errors to terminating pods.
type TrafficProbe interface {
	Run(ctx context.Context)
	Notify() <-chan struct{}
	Snapshot() verify.ProbeReport
	ErrorTimes() []time.Time
	ErrorsAt(t time.Time) int
}

// MetricQuery is an external signal checked every QueryInterval (Prometheus).
type MetricQuery struct {
	Name     string
	Value    func(ctx context.Context) (float64, error)
	Interval time.Duration
}

// Guard watches one Deployment's rollout, records every old pod's drain and acts
// (OnBreach) when a budget is breached.
type Guard struct {
	Client   kubernetes.Interface
	Clock    clock.Clock
	Progress io.Writer
	// Budget feeds the grace recommendation with the measured propagation.
	Budget   verify.Budget
	Budgets  Budgets
	OnBreach BreachAction // "" behaves as none
	// Timeout ends the guard (a progress breach); 0 means no limit.
	Timeout   time.Duration
	Probe     TrafficProbe
	ProbeTail time.Duration
	Query     *MetricQuery
}

type eventKind int

const (
	deploymentEvent eventKind = iota
	replicaSetEvent
	podEvent
	sliceEvent
	kubeEvent
)

type guardEvent struct {
	kind    eventKind
	obj     any
	deleted bool
}

// state is owned by the guard's single event loop: no locking needed.
type state struct {
	deployment  *appsv1.Deployment
	replicaSets map[string]*appsv1.ReplicaSet
	podHash     map[string]string // pod name -> pod-template-hash
	timelines   map[string]*PodTimeline
	slices      map[string]map[string]discoveryv1.EndpointConditions // slice -> pod -> conditions
	lastStatus  string
	// guarded is the pod template this rollout rolls out; rollback only replaces it.
	guarded    *corev1.PodTemplateSpec
	breached   map[string]bool
	queryValue *float64
	stopProbe  func()
}

// Run guards the rollout of d. With a trigger it starts the rollout itself once
// its watches are synced. It returns the report so far also on timeout and
// interruption (ctx cancelled).
func (g *Guard) Run(ctx context.Context, d *appsv1.Deployment, trigger Trigger) (*Report, error) {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has an invalid selector: %w", d.Namespace, d.Name, err)
	}
	services, err := g.Client.CoreV1().Services(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	var serviceNames []string
	for _, s := range verify.MatchingServices(d, services.Items) {
		serviceNames = append(serviceNames, s.Name)
	}

	started := g.Clock.Now()
	report := &Report{Namespace: d.Namespace, Deployment: d.Name, StartedAt: started, Triggered: trigger != nil, FromRevision: d.Annotations[RevisionAnnotation]}
	st := &state{
		deployment:  d,
		replicaSets: map[string]*appsv1.ReplicaSet{},
		podHash:     map[string]string{},
		timelines:   map[string]*PodTimeline{},
		slices:      map[string]map[string]discoveryv1.EndpointConditions{},
		breached:    map[string]bool{},
	}

	watchCtx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	events := make(chan guardEvent, 256)
	watchFailed := make(chan error, 1)
	synced, err := g.startWatches(watchCtx, d, selector, serviceNames, events, watchFailed)
	if err != nil {
		return nil, err
	}
	// Fold the initial lists while waiting for the sync: handlers block on a full
	// channel, and a registration only counts as synced once its handler has
	// received every initial object.
	syncDone := make(chan bool, 1)
	go func() { syncDone <- cache.WaitForCacheSync(watchCtx.Done(), synced...) }()
	for waiting := true; waiting; {
		select {
		case ev := <-events:
			g.apply(st, ev, started)
		case ok := <-syncDone:
			if !ok {
				return nil, fmt.Errorf("watches did not sync: %w", context.Cause(ctx))
			}
			waiting = false
		case err := <-watchFailed:
			return nil, err
		}
	}
	for drained := false; !drained; {
		select {
		case ev := <-events:
			g.apply(st, ev, started)
		default:
			drained = true
		}
	}
	g.progressf("watching deployment %s/%s: ReplicaSets, pods, Events, EndpointSlices of %s", d.Namespace, d.Name, describeServices(serviceNames))

	targetGeneration := st.deployment.Generation
	st.guarded = st.deployment.Spec.Template.DeepCopy()
	if trigger == nil {
		if _, done, err := g.status(st, targetGeneration); done && err == nil {
			report.Outcome, report.Message = OutcomeNoRollout, "no rollout in progress"
			return g.finish(report, st), nil
		}
	}
	// Probe traffic starts just before the rollout and ends after it plus a tail.
	var probeNotify <-chan struct{}
	if g.Probe != nil {
		probeCtx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { g.Probe.Run(probeCtx); close(stopped) }()
		st.stopProbe = func() { cancel(); <-stopped }
		probeNotify = g.Probe.Notify()
	}
	defer st.stopProbeOnce()
	if trigger != nil {
		out, err := trigger(ctx)
		if err != nil {
			return nil, err
		}
		targetGeneration = out.Generation
		st.guarded = out.Spec.Template.DeepCopy()
		// The watch may deliver this update later than a breach: act on it now.
		st.deployment = out
		g.progressf("restart requested (generation %d)", targetGeneration)
	}

	var timeout, tail, queryDue <-chan time.Time
	if g.Timeout > 0 {
		timeout = g.Clock.After(g.Timeout)
	}
	if g.Query != nil {
		queryDue = g.Clock.After(0)
	}
	completed := false
	for {
		if !completed {
			msg, done, err := g.status(st, targetGeneration)
			var deadline *ErrProgressDeadline
			switch {
			case errors.As(err, &deadline):
				return g.progressBreach(ctx, st, report, deadline.Error()), nil
			case done:
				completed = true
				report.Outcome, report.Message = OutcomeSucceeded, msg
				if g.Probe == nil || g.ProbeTail <= 0 {
					return g.complete(report, st), nil
				}
				g.progressf("%s; probing for %s more", msg, g.ProbeTail)
				tail = g.Clock.After(g.ProbeTail)
			case msg != st.lastStatus:
				st.lastStatus = msg
				g.progressf("%s", msg)
			}
		}
		select {
		case ev := <-events:
			g.apply(st, ev, started)
		case <-probeNotify:
		case <-queryDue:
			g.runQuery(ctx, st)
			queryDue = g.Clock.After(g.Query.Interval)
		case <-tail:
			return g.complete(report, st), nil
		case <-timeout:
			return g.progressBreach(ctx, st, report, fmt.Sprintf("not complete after %s: %s", g.Timeout, st.lastStatus)), nil
		case <-ctx.Done():
			report.Outcome, report.Message = OutcomeInterrupted, "stopped guarding; the rollout continues in the cluster"
			return g.finish(report, st), nil
		case err := <-watchFailed:
			return nil, err
		}
		if g.checkBudgets(ctx, st, report) {
			return g.finish(report, st), nil
		}
	}
}

// complete ends a rollout that finished: failed when a budget was breached with no action.
func (g *Guard) complete(r *Report, st *state) *Report {
	if len(r.Breaches) > 0 {
		r.Outcome = OutcomeFailed
		msgs := make([]string, 0, len(r.Breaches))
		for _, b := range r.Breaches {
			msgs = append(msgs, b.Message)
		}
		r.Message = "rollout complete, but " + strings.Join(msgs, "; ")
	}
	return g.finish(r, st)
}

// progressBreach handles a rollout that stopped progressing: a breach like the
// others, and outcome timeout when no action is taken.
func (g *Guard) progressBreach(ctx context.Context, st *state, r *Report, msg string) *Report {
	b := Breach{Budget: BudgetProgress, At: g.Clock.Now(), Message: msg}
	st.breached[BudgetProgress] = true
	if !g.act(ctx, st, r, b) {
		r.Outcome, r.Message = OutcomeTimeout, msg
	}
	return g.finish(r, st)
}

// observe gathers what the budgets are checked against.
func (g *Guard) observe(st *state) Observations {
	var obs Observations
	for _, t := range g.oldTimelines(st) {
		exit, ok := t.Exit()
		if !ok {
			continue
		}
		switch exit.Class {
		case ExitSIGKILL:
			obs.SIGKILLs++
			obs.LastSIGKILLPod = t.Name
		case ExitUnclean:
			obs.UncleanExits++
			obs.LastUncleanPod = t.Name
		}
		if u := t.GraceUsage(); u > obs.GraceUsage {
			obs.GraceUsage, obs.GraceUsagePod = u, t.Name
		}
	}
	if g.Probe != nil {
		snap := g.Probe.Snapshot()
		obs.ProbeRunning, obs.ProbeRequests, obs.ProbeErrors = true, snap.Requests, snap.Errors
		obs.ProbeErrorRateMinSample = probeErrorRateMinSample
	}
	if g.Query != nil {
		obs.QueryValue, obs.QueryName = st.queryValue, g.Query.Name
	}
	return obs
}

// probeErrorRateMinSample keeps the first unlucky request from breaching a rate budget.
const probeErrorRateMinSample = 20

// checkBudgets acts on new breaches; it returns true when the guard must stop.
func (g *Guard) checkBudgets(ctx context.Context, st *state, r *Report) bool {
	for _, b := range g.Budgets.Evaluate(g.observe(st), st.breached, g.Clock.Now()) {
		st.breached[b.Budget] = true
		if g.act(ctx, st, r, b) {
			return true
		}
	}
	return false
}

func (g *Guard) runQuery(ctx context.Context, st *state) {
	qctx, cancel := context.WithTimeout(ctx, max(g.Query.Interval, time.Second))
	defer cancel()
	v, err := g.Query.Value(qctx)
	if err != nil {
		g.progressf("warning: %s: %v", g.Query.Name, err)
		return
	}
	st.queryValue = &v
}

// act carries out --on-breach for b and records it; it returns true when the
// guard stops (the Deployment was paused, rolled back, or the action failed).
func (g *Guard) act(ctx context.Context, st *state, r *Report, b Breach) bool {
	action := g.OnBreach
	var previous *appsv1.ReplicaSet
	if action == ActionRollback || action == ActionAuto {
		previous = RollbackTarget(st.deployment, st.replicaSetList(), st.guarded)
		if action == ActionAuto {
			action = ActionPause
			if previous != nil && !OnlyRestarted(&st.deployment.Spec.Template, &previous.Spec.Template) {
				action = ActionRollback
			}
		}
	}
	g.progressf("budget breached: %s", b.Message)
	record := func(what string) {
		latency := g.Clock.Since(b.At).Seconds()
		b.Action, b.ActionLatencySeconds = what, &latency
		r.Breaches = append(r.Breaches, b)
	}
	name, ns := st.deployment.Name, st.deployment.Namespace
	switch action {
	case ActionPause:
		if err := Pause(ctx, g.Client, ns, name); err != nil {
			record("failed: " + err.Error())
			r.Outcome, r.Message = OutcomeFailed, b.Message+"; pausing failed: "+err.Error()
			return true
		}
		record("paused")
		r.Outcome = OutcomePaused
		r.Message = fmt.Sprintf("%s; paused the rollout (resume: kubectl rollout resume deployment/%s -n %s)", b.Message, name, ns)
		g.progressf("paused deployment %s/%s", ns, name)
		return true
	case ActionRollback:
		err := errors.New("no previous revision to roll back to")
		if previous != nil {
			err = Rollback(ctx, g.Client, st.deployment, previous, st.guarded)
		}
		switch {
		case errors.Is(err, ErrRollbackRefused):
			record("rollback-refused")
			r.Outcome, r.Message = OutcomeFailed, b.Message+"; "+err.Error()+": nothing was changed"
		case err != nil:
			record("failed: " + err.Error())
			r.Outcome, r.Message = OutcomeFailed, b.Message+"; rollback failed: "+err.Error()
		default:
			record("rolled-back")
			r.Outcome = OutcomeRolledBack
			r.Message = fmt.Sprintf("%s; rolled back to the template of revision %s (kubectl rollout history deployment/%s -n %s)",
				b.Message, previous.Annotations[RevisionAnnotation], name, ns)
			g.progressf("rolled back deployment %s/%s to revision %s", ns, name, previous.Annotations[RevisionAnnotation])
		}
		return true
	}
	record("none")
	return false
}

func (st *state) replicaSetList() []*appsv1.ReplicaSet {
	out := make([]*appsv1.ReplicaSet, 0, len(st.replicaSets))
	for _, rs := range st.replicaSets {
		out = append(out, rs)
	}
	return out
}

func (st *state) stopProbeOnce() {
	if st.stopProbe != nil {
		st.stopProbe()
		st.stopProbe = nil
	}
}

func (g *Guard) finish(r *Report, st *state) *Report {
	st.stopProbeOnce()
	r.FinishedAt = g.Clock.Now()
	r.ToRevision = st.deployment.Annotations[RevisionAnnotation]
	r.OnBreach = string(g.OnBreach)
	if r.Breaches == nil {
		r.Breaches = []Breach{}
	}
	timelines := g.oldTimelines(st)
	r.Summarise(timelines, g.Budget)
	for i := range r.Pods {
		if u := r.Pods[i].GraceUsage; u != nil && g.Budgets.MaxGraceUsage > 0 && *u > g.Budgets.MaxGraceUsage {
			r.Pods[i].GraceUsageExceeded = true
		}
	}
	if g.Probe != nil {
		r.Probe = attributeProbeErrors(g.Probe, timelines, r)
	}
	return r
}

// attributeTail extends a pod's window a little past its exit: clients notice a
// closed connection only on their next request.
const attributeTail = time.Second

// attributeProbeErrors blames each probe error on the pods that were terminating
// when its request started.
func attributeProbeErrors(p TrafficProbe, timelines []*PodTimeline, r *Report) *ProbeSection {
	sec := &ProbeSection{ProbeReport: p.Snapshot()}
	byPod := map[string]int{}
	for _, at := range p.ErrorTimes() {
		n := p.ErrorsAt(at)
		blamed := false
		for _, t := range timelines {
			if t.DeletionObserved.IsZero() {
				continue
			}
			end := t.Gone
			if end.IsZero() {
				end = r.FinishedAt
			}
			// Buckets are 100 ms wide: count one that overlaps the window.
			if !at.Add(100*time.Millisecond).Before(t.DeletionObserved) && !at.After(end.Add(attributeTail)) {
				byPod[t.Name] += n
				blamed = true
			}
		}
		if !blamed {
			sec.UnattributedErrors += n
		}
	}
	for i := range r.Pods {
		if n := byPod[r.Pods[i].Name]; n > 0 {
			r.Pods[i].ProbeErrors = n
			sec.Attribution = append(sec.Attribution, PodErrors{Pod: r.Pods[i].Name, Errors: n})
		}
	}
	return sec
}

// newHash is the pod-template-hash of the ReplicaSet of the Deployment's current revision.
func (st *state) newHash() string {
	rev := st.deployment.Annotations[RevisionAnnotation]
	if rev == "" || st.deployment.Status.ObservedGeneration < st.deployment.Generation {
		return ""
	}
	for _, rs := range st.replicaSets {
		if rs.Annotations[RevisionAnnotation] == rev {
			return rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	return ""
}

// oldTimelines are the pods that do not belong to the new ReplicaSet.
func (g *Guard) oldTimelines(st *state) []*PodTimeline {
	newHash := st.newHash()
	var out []*PodTimeline
	for name, t := range st.timelines {
		if h, ok := st.podHash[name]; ok && h == newHash && newHash != "" {
			continue
		}
		if _, known := st.podHash[name]; !known {
			continue // only an Event or an endpoint mentioned it: not this Deployment's pod
		}
		out = append(out, t)
	}
	return out
}

func (g *Guard) status(st *state, targetGeneration int64) (string, bool, error) {
	newHash := st.newHash()
	left := 0
	for name, t := range st.timelines {
		if h, ok := st.podHash[name]; ok && h != newHash && t.Gone.IsZero() {
			left++
		}
	}
	msg, done, err := Status(st.deployment, targetGeneration, left)
	if done && newHash == "" {
		return "waiting for the new ReplicaSet", false, nil
	}
	return msg, done, err
}

func (g *Guard) timeline(st *state, name, uid string) *PodTimeline {
	t, ok := st.timelines[name]
	if !ok {
		t = &PodTimeline{Name: name, UID: uid}
		st.timelines[name] = t
	}
	return t
}

// apply folds one watch event into the state and reports what changed.
func (g *Guard) apply(st *state, ev guardEvent, started time.Time) {
	now := g.Clock.Now()
	switch ev.kind {
	case deploymentEvent:
		if d, ok := ev.obj.(*appsv1.Deployment); ok && !ev.deleted {
			st.deployment = d
		}
	case replicaSetEvent:
		if rs, ok := ev.obj.(*appsv1.ReplicaSet); ok {
			if ev.deleted {
				delete(st.replicaSets, rs.Name)
			} else {
				st.replicaSets[rs.Name] = rs
			}
		}
	case podEvent:
		pod, ok := ev.obj.(*corev1.Pod)
		if !ok {
			return
		}
		st.podHash[pod.Name] = pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		t := g.timeline(st, pod.Name, string(pod.UID))
		before := *t
		t.ObservePod(pod, now, ev.deleted)
		g.reportChanges(&before, t)
	case sliceEvent:
		slice, ok := ev.obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return
		}
		g.applySlice(st, slice, ev.deleted, now)
	case kubeEvent:
		e, ok := ev.obj.(*corev1.Event)
		if !ok || ev.deleted || !interestingEvent(e.Reason) || eventTime(e).Before(started.Add(-time.Second)) {
			return
		}
		if t, ok := st.timelines[e.InvolvedObject.Name]; ok && t.Deleting() {
			if !t.HasEvent(e.Reason) { // probes repeat every period: say it once
				g.progressf("pod %s: event %s: %s", t.Name, e.Reason, strings.TrimSpace(e.Message))
			}
			t.ObserveEvent(e.Reason, e.Message, now)
		}
	}
}

// interestingEvent tells which pod Events belong in a drain timeline.
func interestingEvent(reason string) bool {
	switch reason {
	case "Killing", "Unhealthy", "FailedPreStopHook", "FailedKillPod", "ExceededGracePeriod":
		return true
	}
	return false
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func (g *Guard) applySlice(st *state, slice *discoveryv1.EndpointSlice, deleted bool, now time.Time) {
	previous := st.slices[slice.Name]
	current := map[string]discoveryv1.EndpointConditions{}
	if !deleted {
		for _, ep := range slice.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				current[ep.TargetRef.Name] = ep.Conditions
			}
		}
		st.slices[slice.Name] = current
	} else {
		delete(st.slices, slice.Name)
	}
	touched := map[string]bool{}
	for pod := range previous {
		touched[pod] = true
	}
	for pod := range current {
		touched[pod] = true
	}
	names := make([]string, 0, len(touched))
	for pod := range touched {
		names = append(names, pod)
	}
	sort.Strings(names)
	for _, pod := range names {
		t := g.timeline(st, pod, "")
		before := *t
		if cond, ok := current[pod]; ok {
			t.ObserveEndpoint(&cond, true, now)
		} else if cond, ok := st.anySlice(pod); ok {
			t.ObserveEndpoint(&cond, true, now)
		} else {
			t.ObserveEndpoint(nil, false, now)
		}
		g.reportChanges(&before, t)
	}
}

func (st *state) anySlice(pod string) (discoveryv1.EndpointConditions, bool) {
	for _, s := range st.slices {
		if c, ok := s[pod]; ok {
			return c, true
		}
	}
	return discoveryv1.EndpointConditions{}, false
}

// reportChanges prints one progress line per step of a pod's drain.
func (g *Guard) reportChanges(before, after *PodTimeline) {
	step := func(was, is time.Time, what string) {
		if was.IsZero() && !is.IsZero() {
			g.progressf("pod %s: %s after %.1fs", after.Name, what, is.Sub(after.DeletionObserved).Seconds())
		}
	}
	if before.DeletionRequested.IsZero() && !after.DeletionRequested.IsZero() {
		g.progressf("pod %s: deletion requested (grace %s)", after.Name, after.Grace)
	}
	step(before.NotReady, after.NotReady, "endpoint not ready")
	step(before.NotServing, after.NotServing, "endpoint not serving")
	step(before.EndpointRemoved, after.EndpointRemoved, "endpoint removed")
	for _, c := range after.Containers[len(before.Containers):] {
		g.progressf("pod %s: container %s exited %d (%s) after %.1fs: %s", after.Name, c.Name, c.ExitCode, c.Reason, after.ContainerExited.Sub(after.DeletionObserved).Seconds(), c.Class)
	}
	step(before.Gone, after.Gone, "gone")
}

func (g *Guard) progressf(format string, args ...any) {
	if g.Progress == nil {
		return
	}
	fmt.Fprintf(g.Progress, format+"\n", args...)
}

func describeServices(names []string) string {
	if len(names) == 0 {
		return "no Service (nothing selects the pods)"
	}
	return "service " + strings.Join(names, ", ")
}

// startWatches starts the informers and returns their HasSynced functions.
func (g *Guard) startWatches(ctx context.Context, d *appsv1.Deployment, selector labels.Selector, services []string, events chan<- guardEvent, failed chan<- error) ([]cache.InformerSynced, error) {
	ns := d.Namespace
	send := func(kind eventKind) cache.ResourceEventHandlerFuncs {
		push := func(obj any, deleted bool) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			select {
			case events <- guardEvent{kind: kind, obj: obj, deleted: deleted}:
			case <-ctx.Done():
			}
		}
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { push(obj, false) },
			UpdateFunc: func(_, obj any) { push(obj, false) },
			// The DELETED event's object carries the final container statuses.
			DeleteFunc: func(obj any) { push(obj, true) },
		}
	}
	factory := func(tweak func(*metav1.ListOptions)) informers.SharedInformerFactory {
		return informers.NewSharedInformerFactoryWithOptions(g.Client, 0, informers.WithNamespace(ns), informers.WithTweakListOptions(tweak))
	}
	byName := factory(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", d.Name).String()
	})
	bySelector := factory(func(o *metav1.ListOptions) { o.LabelSelector = selector.String() })
	podEvents := factory(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("involvedObject.kind", "Pod").String()
	})

	informersToSync := []cache.SharedIndexInformer{
		byName.Apps().V1().Deployments().Informer(),
		bySelector.Apps().V1().ReplicaSets().Informer(),
		bySelector.Core().V1().Pods().Informer(),
		podEvents.Core().V1().Events().Informer(),
	}
	kinds := []eventKind{deploymentEvent, replicaSetEvent, podEvent, kubeEvent}
	factories := []informers.SharedInformerFactory{byName, bySelector, podEvents}
	if len(services) > 0 {
		bySlice := factory(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + " in (" + strings.Join(services, ",") + ")"
		})
		informersToSync = append(informersToSync, bySlice.Discovery().V1().EndpointSlices().Informer())
		kinds = append(kinds, sliceEvent)
		factories = append(factories, bySlice)
	}
	synced := make([]cache.InformerSynced, 0, len(informersToSync))
	for i, inf := range informersToSync {
		// A missing permission never heals: fail with the API's message instead of
		// retrying forever. Other errors are retried by the reflector.
		if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				select {
				case failed <- fmt.Errorf("watching: %w (the guard needs list and watch on it)", err):
				default:
				}
				return
			}
			g.progressf("warning: watch: %v (retrying)", err)
		}); err != nil {
			return nil, fmt.Errorf("watching: %w", err)
		}
		reg, err := inf.AddEventHandler(send(kinds[i]))
		if err != nil {
			return nil, fmt.Errorf("watching: %w", err)
		}
		synced = append(synced, reg.HasSynced)
	}
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	return synced, nil
}
