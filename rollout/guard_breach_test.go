package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// breachBudgets break on the first SIGKILL and on nothing else.
func breachBudgets() policy.BreachLimits {
	return policy.BreachLimits{MaxSIGKILLs: 0, MaxUncleanExits: -1, MaxGraceUsage: 0.9, MaxProbeErrors: -1, MaxProbeErrorRate: -1, MaxNewPodRestarts: -1}
}

// templatedRollout is a rollout in progress from revision 1 (prev) to revision 2
// (next): web-aaa-* are old pods, web-bbb-1 is new.
func templatedRollout(t *testing.T, next, prev corev1.PodTemplateSpec) (*cluster, *appsv1.Deployment) {
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
	d.Spec.Template = next
	c := newCluster(t, d, rollouttest.TemplatedReplicaSet("aaa", "1", prev), rollouttest.TemplatedReplicaSet("bbb", "2", next),
		rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-aaa-2", "aaa"), rollouttest.WebPod("web-bbb-1", "bbb"), rollouttest.WebService(),
		rollouttest.WebSlice(rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", true, true, false)))
	return c, d
}

// sigkill deletes pod with a 30 s grace and has it SIGKILLed at the deadline.
func (c *cluster) sigkill(pod string) {
	c.t.Helper()
	c.step(time.Second)
	c.DeletePodGracefully(pod, 30)
	c.log.waitFor(c.t, progress.PodDeleted{Pod: pod, Grace: 30 * time.Second})
	c.step(30 * time.Second)
	c.TerminateContainer(pod, 137, "Error")
}

func (c *cluster) deploymentActions(verb string) []k8stesting.Action {
	return rollouttest.DeploymentActions(c.client, verb)
}

func (c *cluster) stored() *appsv1.Deployment {
	c.t.Helper()
	return rollouttest.StoredDeployment(c.t, c.client)
}

func checkOneBreach(t *testing.T, r *report.Rollout, budget, action string) policy.Breach {
	t.Helper()
	if len(r.Breaches) != 1 {
		t.Fatalf("breaches = %+v, want one %s breach", r.Breaches, budget)
	}
	b := r.Breaches[0]
	// A latency when something was done; none for action none.
	if b.Budget != budget || b.Action != action || (b.ActionLatencySeconds == nil) != (action == "none") || b.At.IsZero() || b.Message == "" {
		t.Errorf("breach = %+v (latency %v), want budget %s, action %q, a latency unless none, and a time", b, b.ActionLatencySeconds, budget, action)
	}
	return b
}

func checkPausePatch(t *testing.T, c *cluster) {
	t.Helper()
	patches := c.deploymentActions("patch")
	if len(patches) != 1 {
		t.Fatalf("deployment patches = %v, want the one pause", patches)
	}
	p := patches[0].(k8stesting.PatchAction)
	if p.GetPatchType() != "application/merge-patch+json" || !strings.HasSuffix(string(p.GetPatch()), `,"spec":{"paused":true}}`) ||
		!strings.HasPrefix(string(p.GetPatch()), `{"metadata":{"resourceVersion":`) {
		t.Errorf("patch = %s %s, want the merge patch setting spec.paused, conditional on a resourceVersion", p.GetPatchType(), p.GetPatch())
	}
	if !c.stored().Spec.Paused {
		t.Error("the Deployment was not paused")
	}
	if n := len(c.deploymentActions("update")); n != 0 {
		t.Errorf("%d Deployment updates besides the pause", n)
	}
}

func TestGuardSIGKILLPauses(t *testing.T) {
	c, d := inProgress(t)
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionPause
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	c.sigkill("web-aaa-1")
	r := c.result(done)

	if r.Outcome != report.OutcomePaused || !strings.Contains(r.Message, "paused the rollout (resume: kubectl rollout resume deployment/web -n shop)") || !strings.Contains(r.Message, "SIGKILL") {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, report.OutcomePaused)
	}
	b := checkOneBreach(t, r, policy.BudgetSIGKILLs, "paused")
	if b.Pod != "web-aaa-1" || b.Observed != 1 || b.Limit != 0 || !b.At.Equal(rollouttest.At(31)) || *b.ActionLatencySeconds != 0 {
		t.Errorf("breach = %+v, want web-aaa-1's SIGKILL at +31s, acted on at once", b)
	}
	if r.OnBreach != string(policy.ActionPause) {
		t.Errorf("report onBreach = %q", r.OnBreach)
	}
	checkPausePatch(t, c)
	_, breached := c.log.find(func(e progress.Event) bool {
		b, ok := e.(progress.BreachDetected)
		return ok && b.Budget == policy.BudgetSIGKILLs
	})
	_, paused := c.log.find(func(e progress.Event) bool {
		a, ok := e.(progress.ActionTaken)
		return ok && a.Action == progress.ActionPaused
	})
	if !breached || !paused {
		t.Errorf("progress does not tell the breach and the pause:\n%s", c.log.String())
	}
	// The report is complete: the pods as far as they got.
	if len(r.Pods) != 2 || r.Pods[0].Name != "web-aaa-1" || r.Pods[0].Verdict != report.VerdictSIGKILL || r.Pods[1].Verdict != report.VerdictNotTerminated {
		t.Errorf("pods = %+v", r.Pods)
	}
}

func TestGuardBreachActions(t *testing.T) {
	restartedAt := func(stamp string) corev1.PodTemplateSpec {
		return rollouttest.PodTemplate("web:1", map[string]string{workload.RestartedAtAnnotation: stamp})
	}
	imageChange := [2]corev1.PodTemplateSpec{rollouttest.PodTemplate("web:2", nil), rollouttest.PodTemplate("web:1", nil)}
	restartOnly := [2]corev1.PodTemplateSpec{restartedAt("2025-03-04T10:00:00Z"), rollouttest.PodTemplate("web:1", nil)}
	restartAgain := [2]corev1.PodTemplateSpec{restartedAt("2025-03-04T10:00:00Z"), restartedAt("2025-03-01T08:00:00Z")}
	tests := []struct {
		name        string
		onBreach    policy.Action
		templates   [2]corev1.PodTemplateSpec // next, previous
		wantOutcome report.Outcome
		wantAction  string
	}{
		{"rollback of an image change", policy.ActionRollback, imageChange, report.OutcomeRolledBack, "rolled-back"},
		{"rollback of a restart, asked for", policy.ActionRollback, restartOnly, report.OutcomeRolledBack, "rolled-back"},
		{"auto rolls back an image change", policy.ActionAuto, imageChange, report.OutcomeRolledBack, "rolled-back"},
		{"auto pauses a restart", policy.ActionAuto, restartOnly, report.OutcomePaused, "paused"},
		{"auto pauses a second restart", policy.ActionAuto, restartAgain, report.OutcomePaused, "paused"},
		{"pause of an image change", policy.ActionPause, imageChange, report.OutcomePaused, "paused"},
		{"none", policy.ActionNone, imageChange, report.OutcomeFailed, "none"},
		{"empty behaves as none", "", imageChange, report.OutcomeFailed, "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, d := templatedRollout(t, tc.templates[0], tc.templates[1])
			g := c.guard(breachBudgets(), 0)
			g.OnBreach = tc.onBreach
			done := c.run(g, context.Background(), d, nil)
			c.log.waitFor(t, status("1 of 2 new pods updated"))
			c.sigkill("web-aaa-1")
			if tc.wantAction == "none" {
				// The guard goes on: finish the rollout.
				c.log.waitUntil(t, "a breach", isType[progress.BreachDetected])
				c.step(time.Second)
				c.RemovePod("web-aaa-1")
				c.RemovePod("web-aaa-2")
				c.completeRollout()
			}
			r := c.result(done)
			if r.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %q (%s), want %q", r.Outcome, r.Message, tc.wantOutcome)
			}
			checkOneBreach(t, r, policy.BudgetSIGKILLs, tc.wantAction)
			updates := c.deploymentActions("update")
			switch tc.wantAction {
			case "rolled-back":
				if len(updates) != 1 || len(c.deploymentActions("patch")) != 0 {
					t.Fatalf("deployment updates %v, patches %v; want one update", updates, c.deploymentActions("patch"))
				}
				sent := updates[0].(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
				want := tc.templates[1]
				if sent.Spec.Template.Spec.Containers[0].Image != want.Spec.Containers[0].Image ||
					sent.Spec.Template.Annotations[workload.RestartedAtAnnotation] != want.Annotations[workload.RestartedAtAnnotation] ||
					sent.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != "" {
					t.Errorf("rollback sent template %+v, want revision 1's %+v", sent.Spec.Template, want)
				}
				if !strings.Contains(r.Message, "rolled back to the template of revision 1") {
					t.Errorf("message %q", r.Message)
				}
			case "paused":
				checkPausePatch(t, c)
			case "none":
				if len(updates) != 0 || len(c.deploymentActions("patch")) != 0 {
					t.Errorf("--on-breach none changed the Deployment: %v", append(updates, c.deploymentActions("patch")...))
				}
				if !strings.Contains(r.Message, "rollout complete, but 1 container SIGKILLed") {
					t.Errorf("message %q", r.Message)
				}
			}
		})
	}
}

// Someone else changes the template during the rollout: rollback must not overwrite it.
func TestGuardRollbackRefused(t *testing.T) {
	c, d := templatedRollout(t, rollouttest.PodTemplate("web:2", nil), rollouttest.PodTemplate("web:1", nil))
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionRollback
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))

	deployments := c.client.AppsV1().Deployments(rollouttest.NS)
	theirs := c.stored()
	theirs.Spec.Template.Spec.Containers[0].Image = "web:3"
	theirs, err := deployments.Update(c.ctx, theirs, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theirs.Status.UpdatedReplicas = 0
	if _, err := deployments.UpdateStatus(c.ctx, theirs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.log.waitFor(t, status("0 of 2 new pods updated")) // the guard saw the change
	c.sigkill("web-aaa-1")
	r := c.result(done)

	if r.Outcome != report.OutcomeFailed || !strings.Contains(r.Message, "rollback refused") || !strings.Contains(r.Message, "nothing was changed") {
		t.Errorf("outcome %q (%s), want failed with the refusal", r.Outcome, r.Message)
	}
	checkOneBreach(t, r, policy.BudgetSIGKILLs, "rollback-refused")
	if n := len(c.deploymentActions("update")); n != 1 {
		t.Errorf("%d Deployment updates, want only the other writer's", n)
	}
	if img := c.stored().Spec.Template.Spec.Containers[0].Image; img != "web:3" {
		t.Errorf("image = %s, want the other writer's web:3", img)
	}
}

func TestGuardRollbackWithoutPreviousRevision(t *testing.T) {
	c, d := inProgress(t)
	// The old ReplicaSet still owns its pods but carries no revision to go back to.
	old, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Get(c.ctx, "web-aaa", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old.Annotations = nil
	if _, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Update(c.ctx, old, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionRollback
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	c.sigkill("web-aaa-1")
	r := c.result(done)
	if r.Outcome != report.OutcomeFailed || !strings.Contains(r.Message, "no previous revision") {
		t.Errorf("outcome %q (%s), want failed: no previous revision", r.Outcome, r.Message)
	}
	checkOneBreach(t, r, policy.BudgetSIGKILLs, "failed: no previous revision to roll back to")
	if n := len(c.deploymentActions("update")) + len(c.deploymentActions("patch")); n != 0 {
		t.Errorf("%d Deployment writes, want none", n)
	}
}

func TestGuardPauseFails(t *testing.T) {
	c, d := inProgress(t)
	c.client.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no patch for you"))
	})
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionPause
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	c.sigkill("web-aaa-1")
	r := c.result(done)
	if r.Outcome != report.OutcomeFailed || !strings.Contains(r.Message, "pausing failed") {
		t.Errorf("outcome %q (%s), want failed: pausing failed", r.Outcome, r.Message)
	}
	checkOneBreach(t, r, policy.BudgetSIGKILLs, `failed: pausing deployment shop/web: deployments.apps "web" is forbidden: no patch for you`)
}

func TestGuardProgressBreach(t *testing.T) {
	deadline := func(t *testing.T) (*cluster, *appsv1.Deployment) {
		d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-bbb" has timed out progressing.`}}})
		return newCluster(t, d, rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebReplicaSet("bbb", "2"), rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebService()), d
	}
	tests := []struct {
		name        string
		setup       func(t *testing.T) (*cluster, *appsv1.Deployment)
		timeout     time.Duration
		onBreach    policy.Action
		wantOutcome report.Outcome
		wantAction  string
		wantMessage string
	}{
		{"timeout, none", inProgress, time.Minute, policy.ActionNone, report.OutcomeTimeout, "none", "not complete after 1m0s: 1 of 2 new pods updated"},
		{"timeout, unset", inProgress, time.Minute, "", report.OutcomeTimeout, "none", "not complete after 1m0s"},
		{"timeout, pause", inProgress, time.Minute, policy.ActionPause, report.OutcomePaused, "paused", "not complete after 1m0s"},
		{"progress deadline, none", deadline, 0, policy.ActionNone, report.OutcomeTimeout, "none", `rollout exceeded its progress deadline: ReplicaSet "web-bbb" has timed out progressing.`},
		{"progress deadline, pause", deadline, 0, policy.ActionPause, report.OutcomePaused, "paused", "progress deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, d := tc.setup(t)
			g := c.guard(breachBudgets(), tc.timeout)
			g.OnBreach = tc.onBreach
			done := c.run(g, context.Background(), d, nil)
			if tc.timeout > 0 {
				waitUntil(t, "the guard's timeout timer", c.clock.HasWaiters)
				c.step(tc.timeout)
			}
			r := c.result(done)
			if r.Outcome != tc.wantOutcome || !strings.Contains(r.Message, tc.wantMessage) {
				t.Errorf("outcome %q (%s), want %q (~%s)", r.Outcome, r.Message, tc.wantOutcome, tc.wantMessage)
			}
			b := checkOneBreach(t, r, policy.BudgetProgress, tc.wantAction)
			if !strings.Contains(b.Message, tc.wantMessage) || !b.At.Equal(rollouttest.T0.Add(tc.timeout)) {
				t.Errorf("breach = %+v, want at +%s with %q", b, tc.timeout, tc.wantMessage)
			}
			if tc.wantAction == "paused" {
				checkPausePatch(t, c)
			} else if n := len(c.deploymentActions("patch")) + len(c.deploymentActions("update")); n != 0 {
				t.Errorf("%d Deployment writes with --on-breach none", n)
			}
		})
	}
}

// fakeProbe is a TrafficProbe whose errors the test sets.
type fakeProbe struct {
	notify chan struct{}

	mu               sync.Mutex
	requests, errs   int
	buckets          map[time.Time]int
	started, stopped bool
	// reads counts the Snapshot calls since the last set.
	reads int
}

func newFakeProbe() *fakeProbe {
	return &fakeProbe{notify: make(chan struct{}, 1), buckets: map[time.Time]int{}}
}

func (p *fakeProbe) Run(ctx context.Context) {
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

func (p *fakeProbe) Notify() <-chan struct{} { return p.notify }

func (p *fakeProbe) Snapshot() traffic.ProbeReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	byClass := map[string]int{}
	if p.errs > 0 {
		byClass[traffic.ErrClassRefused] = p.errs
	}
	return traffic.ProbeReport{Targets: []string{"http://web.shop/"}, Requests: p.requests, Errors: p.errs, ErrorsByClass: byClass}
}

func (p *fakeProbe) ErrorBuckets() []traffic.ErrorBucket {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []traffic.ErrorBucket
	for at, n := range p.buckets {
		out = append(out, traffic.ErrorBucket{Start: at, Width: 100 * time.Millisecond, Errors: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// set records requests and errors (errors in the 100 ms bucket at) and notifies.
func (p *fakeProbe) set(requests int, at time.Time, errs int) {
	p.mu.Lock()
	p.requests += requests
	p.errs += errs
	if errs > 0 {
		p.buckets[at] += errs
	}
	p.reads = 0
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// seen tells whether the guard read the counters since the last set.
func (p *fakeProbe) seen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads > 0
}

func TestGuardProbeErrorsAttributed(t *testing.T) {
	c, d := inProgress(t)
	probe := newFakeProbe()
	budgets := breachBudgets()
	budgets.MaxProbeErrors = 0
	g := c.guard(budgets, 0)
	g.OnBreach = policy.ActionNone
	g.Probe = probe
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))

	c.step(time.Second)
	probe.set(20, rollouttest.At(1), 1) // before any pod terminates
	c.log.waitFor(t, progress.BreachDetected{Budget: policy.BudgetProbeErrors, Message: "1 probe error in 20 requests (budget 0)"})

	c.step(4 * time.Second) // +5 s
	c.DeletePodGracefully("web-aaa-1", 30)
	c.log.waitFor(t, progress.PodDeleted{Pod: "web-aaa-1", Grace: 30 * time.Second})
	probe.set(30, rollouttest.At(4.8), 1) // the bucket [4.8, 4.9) ends before the deletion
	probe.set(0, rollouttest.At(6), 3)
	c.step(2 * time.Second) // +7 s
	c.TerminateContainer("web-aaa-1", 0, "Completed")
	c.log.waitUntil(t, "web-aaa-1's exit", podEvent[progress.ContainerExited]("web-aaa-1"))
	c.step(time.Second) // +8 s
	c.RemovePod("web-aaa-1")
	c.log.waitUntil(t, "web-aaa-1 gone", podEvent[progress.PodGone]("web-aaa-1"))
	probe.set(10, rollouttest.At(8.5), 1) // within a second of the exit: blamed on web-aaa-1
	probe.set(10, rollouttest.At(20), 1)  // nobody terminating

	c.step(22 * time.Second) // +30 s: web-aaa-2 is force-deleted
	c.RemovePod("web-aaa-2")
	c.log.waitUntil(t, "web-aaa-2 gone", podEvent[progress.PodGone]("web-aaa-2"))
	probe.set(10, rollouttest.At(30), 2)
	waitUntil(t, "the guard to read the probe", probe.seen)
	c.completeRollout()
	r := c.result(done)

	if r.Outcome != report.OutcomeFailed || !strings.Contains(r.Message, "rollout complete, but 1 probe error in 20 requests (budget 0)") {
		t.Errorf("outcome %q (%s), want failed for the probe errors", r.Outcome, r.Message)
	}
	b := checkOneBreach(t, r, policy.BudgetProbeErrors, "none")
	if b.Observed != 1 || b.Limit != 0 || b.Pod != "" || !b.At.Equal(rollouttest.At(1)) {
		t.Errorf("breach = %+v, want 1 error over budget 0 at +1s", b)
	}
	if r.Probe == nil {
		t.Fatal("no probe section in the report")
	}
	if r.Probe.Requests != 80 || r.Probe.Errors != 9 || r.Probe.ErrorsByClass[traffic.ErrClassRefused] != 9 || len(r.Probe.Targets) != 1 {
		t.Errorf("probe = %+v, want the probe's final snapshot", r.Probe.ProbeReport)
	}
	wantAttribution := []report.PodErrors{{Pod: "web-aaa-1", Errors: 4}, {Pod: "web-aaa-2", Errors: 2}}
	if len(r.Probe.Attribution) != 2 || r.Probe.Attribution[0] != wantAttribution[0] || r.Probe.Attribution[1] != wantAttribution[1] {
		t.Errorf("attribution = %+v, want %+v", r.Probe.Attribution, wantAttribution)
	}
	if r.Probe.UnattributedErrors != 3 {
		t.Errorf("unattributed errors = %d, want 3 (at +1 s, +4.8 s and +20 s)", r.Probe.UnattributedErrors)
	}
	byPod := map[string]int{}
	for _, p := range r.Pods {
		byPod[p.Name] = p.ProbeErrors
	}
	if byPod["web-aaa-1"] != 4 || byPod["web-aaa-2"] != 2 || len(byPod) != 2 {
		t.Errorf("pods' probeErrors = %v, want web-aaa-1: 4, web-aaa-2: 2", byPod)
	}
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if !probe.started || !probe.stopped {
		t.Errorf("probe started %v, stopped %v; want both", probe.started, probe.stopped)
	}
}

// A terminating pod that is still there when the guard stops is blamed for
// errors up to the end of the guard.
func TestGuardProbeErrorsOfPodStillTerminating(t *testing.T) {
	c, d := inProgress(t)
	probe := newFakeProbe()
	g := c.guard(breachBudgets(), 0) // no probe budget: errors only reported
	g.Probe = probe
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := c.run(g, ctx, d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	c.step(time.Second)
	c.DeletePodGracefully("web-aaa-2", 30)
	c.log.waitFor(t, progress.PodDeleted{Pod: "web-aaa-2", Grace: 30 * time.Second})
	probe.set(50, rollouttest.At(10), 5)
	probe.set(0, rollouttest.At(12.5), 1) // after the guard stopped (+11 s) plus a second
	c.step(10 * time.Second)
	waitUntil(t, "the guard to read the probe", probe.seen)
	cancel()
	r := c.result(done)
	if r.Outcome != report.OutcomeInterrupted || len(r.Breaches) != 0 {
		t.Fatalf("outcome %q, breaches %+v; want interrupted without breach", r.Outcome, r.Breaches)
	}
	if r.Probe == nil || len(r.Probe.Attribution) != 1 || r.Probe.Attribution[0] != (report.PodErrors{Pod: "web-aaa-2", Errors: 5}) || r.Probe.UnattributedErrors != 1 {
		t.Errorf("probe = %+v, want 5 errors on web-aaa-2 and 1 unattributed", r.Probe)
	}
}

// The guard does not judge a rate on fewer than 20 requests.
func TestGuardProbeErrorRateMinimumSample(t *testing.T) {
	c, d := inProgress(t)
	probe := newFakeProbe()
	budgets := breachBudgets()
	budgets.MaxProbeErrorRate = 0.1
	g := c.guard(budgets, 0)
	g.OnBreach = policy.ActionPause
	g.Probe = probe
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	probe.set(19, rollouttest.At(0), 19)
	waitUntil(t, "the guard to read 19 of 19", probe.seen)
	probe.set(1, rollouttest.At(0), 0)
	r := c.result(done)
	if r.Outcome != report.OutcomePaused {
		t.Fatalf("outcome %q (%s), want paused", r.Outcome, r.Message)
	}
	b := checkOneBreach(t, r, policy.BudgetProbeErrorRate, "paused")
	if !strings.Contains(b.Message, "(19 of 20)") || b.Observed != 0.95 || b.Limit != 0.1 {
		t.Errorf("breach = %+v, want it at the 20th request (19 of 20), not before", b)
	}
}

// Right after a restart the informer's copy of the Deployment can still be the
// pre-restart one (its MODIFIED event held back here for good): a breach then
// must act on the trigger's Deployment, finding revision 1 to roll back to. A
// probe that fails from its first request (a wrong port) breaches within
// milliseconds of the trigger, so the race is realistic.
func TestGuardBreachRightAfterTrigger(t *testing.T) {
	d := rollouttest.WebDeployment(1, 1, "1", rollouttest.CompleteStatus())
	d.Spec.Template = rollouttest.PodTemplate("web:1", nil)
	c := newCluster(t, d, rollouttest.TemplatedReplicaSet("aaa", "1", rollouttest.PodTemplate("web:1", nil)), rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebService())
	c.client.PrependWatchReactor("deployments", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := c.client.Tracker().Watch(action.GetResource(), action.GetNamespace(), action.(k8stesting.WatchActionImpl).ListOptions)
		if err != nil {
			return true, nil, err
		}
		return true, watch.Filter(w, func(ev watch.Event) (watch.Event, bool) { return ev, ev.Type != watch.Modified }), nil
	})
	probe := newFakeProbe()
	probe.set(20, rollouttest.At(0), 1) // failing from the start
	budgets := breachBudgets()
	budgets.MaxProbeErrors = 0
	g := c.guard(budgets, 0)
	g.OnBreach = policy.ActionRollback
	g.Probe = probe
	r := c.result(c.run(g, context.Background(), d.DeepCopy(), c.restartTrigger(d)))
	if r.Outcome != report.OutcomeRolledBack {
		t.Fatalf("outcome %q (%s), want rolled-back to revision 1", r.Outcome, r.Message)
	}
	checkOneBreach(t, r, policy.BudgetProbeErrors, "rolled-back")
	if stamp := c.stored().Spec.Template.Annotations[workload.RestartedAtAnnotation]; stamp != "" {
		t.Errorf("template still restarted at %s after the rollback", stamp)
	}
}

func TestBreachJSON(t *testing.T) {
	latency := 0.25
	b := policy.Breach{Budget: policy.BudgetSIGKILLs, Observed: 2, Limit: 1, Pod: "web-a", At: rollouttest.At(3), Message: "m", Action: "paused", ActionLatencySeconds: &latency}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"budget": "sigkills", "observed": 2.0, "limit": 1.0, "pod": "web-a", "at": "2025-03-04T10:00:03Z", "action": "paused", "actionLatencySeconds": 0.25} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (JSON %s)", key, got[key], want, raw)
		}
	}
	raw, _ = json.Marshal(policy.Breach{Budget: policy.BudgetProgress, At: rollouttest.At(0), Action: "none"})
	if !strings.Contains(string(raw), `"actionLatencySeconds":null`) || strings.Contains(string(raw), `"pod"`) {
		t.Errorf("progress breach JSON %s: want a null latency and no pod", raw)
	}
}

// A crash-looping release is a breach as soon as a new pod restarts, long before
// the progress deadline.
func TestGuardNewPodCrashPauses(t *testing.T) {
	c, d := inProgress(t)
	limits := breachBudgets()
	limits.MaxNewPodRestarts = 0
	g := c.guard(limits, 0)
	g.OnBreach = policy.ActionPause
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	c.step(3 * time.Second)
	c.UpdatePod("web-bbb-1", func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = 1
		cs.Ready = false
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}
	})
	r := c.result(done)
	if r.Outcome != report.OutcomePaused {
		t.Fatalf("outcome %q (%s), want paused", r.Outcome, r.Message)
	}
	b := checkOneBreach(t, r, policy.BudgetNewPodRestarts, "paused")
	if b.Pod != "web-bbb-1" || b.Observed != 1 || !strings.Contains(b.Message, "pod web-bbb-1 container app exited 3 (Error), 1 restarts") {
		t.Errorf("breach = %+v, want web-bbb-1's restart with its exit code", b)
	}
	checkPausePatch(t, c)
}

// Someone else changes the template during the rollout: the pause would stop
// their rollout, so it is refused and nothing is written.
func TestGuardPauseRefusedOverSomeoneElsesRollout(t *testing.T) {
	c, d := templatedRollout(t, rollouttest.PodTemplate("web:2", nil), rollouttest.PodTemplate("web:1", nil))
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionPause
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	theirs := c.stored()
	theirs.Spec.Template.Spec.Containers[0].Image = "web:3"
	theirs, err := c.client.AppsV1().Deployments(rollouttest.NS).Update(c.ctx, theirs, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theirs.Status.UpdatedReplicas = 0
	if _, err := c.client.AppsV1().Deployments(rollouttest.NS).UpdateStatus(c.ctx, theirs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.log.waitFor(t, status("0 of 2 new pods updated"))
	c.sigkill("web-aaa-1")
	r := c.result(done)
	if r.Outcome != report.OutcomeFailed || !strings.Contains(r.Message, "pause refused") {
		t.Errorf("outcome %q (%s), want failed with the refusal", r.Outcome, r.Message)
	}
	checkOneBreach(t, r, policy.BudgetSIGKILLs, "pause-refused")
	if n := len(c.deploymentActions("patch")); n != 0 || c.stored().Spec.Paused {
		t.Errorf("%d patches, paused %v: want the other rollout left alone", n, c.stored().Spec.Paused)
	}
}
