package rollout

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/actions"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// recorder collects the guard's progress events; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

func (r *recorder) record(e progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// withoutHeader zeroes an event's Header (time and workload) for comparison.
func withoutHeader(e progress.Event) progress.Event {
	v := reflect.New(reflect.TypeOf(e)).Elem()
	v.Set(reflect.ValueOf(e))
	v.FieldByName("Header").SetZero()
	return v.Interface().(progress.Event)
}

// find returns the first event that match accepts.
func (r *recorder) find(match func(progress.Event) bool) (progress.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if match(e) {
			return e, true
		}
	}
	return nil, false
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "%T %+v\n", e, withoutHeader(e))
	}
	return b.String()
}

// waitFor waits until the guard emitted want (its Header aside).
func (r *recorder) waitFor(t *testing.T, want progress.Event) {
	t.Helper()
	r.waitUntil(t, fmt.Sprintf("%T %+v", want, want), func(e progress.Event) bool {
		return reflect.DeepEqual(withoutHeader(e), want)
	})
}

// waitUntil waits until the guard emitted an event that match accepts.
func (r *recorder) waitUntil(t *testing.T, what string, match func(progress.Event) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { _, ok := r.find(match); return ok, nil })
	if err != nil {
		t.Fatalf("guard never emitted %s; events so far:\n%s", what, r.String())
	}
}

// status is the event of a rollout status message.
func status(msg string) progress.Event { return progress.StatusChanged{Message: msg} }

// podEvent matches any event of type T about pod.
func podEvent[T progress.Event](pod string) func(progress.Event) bool {
	return func(e progress.Event) bool {
		ev, ok := e.(T)
		return ok && reflect.ValueOf(ev).FieldByName("Pod").String() == pod
	}
}

// isType matches any event of type T.
func isType[T progress.Event](e progress.Event) bool { _, ok := e.(T); return ok }

// waitUntil polls cond with a generous deadline; it never asserts on timing.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// cluster is the fake API server's state for one Deployment "web".
type cluster struct {
	rollouttest.FakeAPI
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	log    *recorder

	mu sync.Mutex
	// hidden pods' MODIFIED events are dropped by the pod watch, as when the
	// kubelet's last status update and the removal reach a watcher together.
	hidden map[string]bool
}

func newCluster(t *testing.T, objects ...runtime.Object) *cluster {
	c := &cluster{
		t: t, ctx: context.Background(),
		client: fake.NewClientset(objects...),
		clock:  clocktesting.NewFakeClock(rollouttest.T0),
		log:    &recorder{},
		hidden: map[string]bool{},
	}
	c.FakeAPI = rollouttest.FakeAPI{T: t, Client: c.client, Clock: c.clock}
	c.client.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := c.client.Tracker().Watch(action.GetResource(), action.GetNamespace(), action.(k8stesting.WatchActionImpl).ListOptions)
		if err != nil {
			return true, nil, err
		}
		return true, watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
			pod, ok := ev.Object.(*corev1.Pod)
			c.mu.Lock()
			defer c.mu.Unlock()
			return ev, !(ok && ev.Type == watch.Modified && c.hidden[pod.Name])
		}), nil
	})
	return c
}

func (c *cluster) guard(limits policy.BreachLimits, timeout time.Duration) *Guard {
	return &Guard{Client: c.client, Clock: c.clock, Progress: c.log.record, GraceBudget: verify.DefaultGraceBudget(), Limits: limits, Timeout: timeout}
}

type runResult struct {
	report *report.Rollout
	err    error
}

// run starts g.Run in a goroutine.
func (c *cluster) run(g *Guard, ctx context.Context, d *appsv1.Deployment, trigger Trigger) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		r, err := g.Run(ctx, workload.Deployment{Deployment: d}, trigger)
		done <- runResult{r, err}
	}()
	return done
}

func (c *cluster) result(done <-chan runResult) *report.Rollout {
	c.t.Helper()
	select {
	case res := <-done:
		if res.err != nil {
			c.t.Fatalf("Run: %v\nprogress:\n%s", res.err, c.log.String())
		}
		return res.report
	case <-time.After(30 * time.Second):
		c.t.Fatalf("guard did not finish; progress:\n%s", c.log.String())
	}
	return nil
}

func (c *cluster) step(d time.Duration) { c.clock.Step(d) }

func (c *cluster) hide(pod string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hidden[pod] = true
}

func (c *cluster) event(pod, reason, message string) {
	c.t.Helper()
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod + "." + strings.ToLower(reason), Namespace: rollouttest.NS},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: rollouttest.NS, Name: pod},
		Reason:         reason, Message: message, Type: corev1.EventTypeNormal,
		LastTimestamp: metav1.NewTime(c.clock.Now()),
	}
	if _, err := c.client.CoreV1().Events(rollouttest.NS).Create(c.ctx, e, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// restartTrigger restarts "web" and then does what the Deployment controller
// would: bump the generation and revision, create the new ReplicaSet and its pods.
func (c *cluster) restartTrigger(d *appsv1.Deployment) Trigger {
	return func(ctx context.Context) (workload.Workload, error) {
		out, err := actions.Restart(ctx, c.client, d, c.clock.Now(), actions.DryRunNone)
		if err != nil {
			return nil, err
		}
		out.Generation = 2
		out.Annotations[workload.RevisionAnnotation] = "2"
		out, err = c.client.AppsV1().Deployments(rollouttest.NS).Update(ctx, out, metav1.UpdateOptions{})
		if err != nil {
			return nil, err
		}
		if _, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Create(ctx, rollouttest.WebReplicaSet("bbb", "2"), metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		for _, name := range []string{"web-bbb-1", "web-bbb-2"} {
			if _, err := c.client.CoreV1().Pods(rollouttest.NS).Create(ctx, rollouttest.WebPod(name, "bbb"), metav1.CreateOptions{}); err != nil {
				return nil, err
			}
		}
		return workload.Deployment{Deployment: out}, nil
	}
}

func (c *cluster) completeRollout() {
	c.t.Helper()
	deployments := c.client.AppsV1().Deployments(rollouttest.NS)
	d, err := deployments.Get(c.ctx, "web", metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	d.Status = rollouttest.CompleteStatus()
	d.Status.ObservedGeneration = d.Generation
	if _, err := deployments.UpdateStatus(c.ctx, d, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func TestGuardRestart(t *testing.T) {
	tests := []struct {
		name        string
		budgets     policy.BreachLimits
		wantOutcome report.Outcome
		wantMessage string
	}{
		{"within budget", policy.BreachLimits{MaxSIGKILLs: 1, MaxUncleanExits: -1}, report.OutcomeSucceeded, "every old pod gone"},
		{"SIGKILL budget breached", policy.BreachLimits{MaxSIGKILLs: 0, MaxUncleanExits: -1}, report.OutcomeFailed, "budget 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := rollouttest.WebDeployment(1, 1, "1", rollouttest.CompleteStatus())
			c := newCluster(t, d, rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-aaa-2", "aaa"), rollouttest.WebService(),
				rollouttest.WebSlice(rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", true, true, false)))
			done := c.run(c.guard(tc.budgets, 0), context.Background(), d.DeepCopy(), c.restartTrigger(d))
			c.log.waitFor(t, progress.WatchStarted{Services: []string{"web"}})
			c.log.waitFor(t, progress.RestartRequested{Generation: 2})

			// web-aaa-1 drains by the contract: not ready, not serving, removed, exits 0, gone.
			c.step(time.Second)
			c.DeletePodGracefully("web-aaa-1", 30)
			c.log.waitFor(t, progress.PodDeleted{Pod: "web-aaa-1", Grace: 30 * time.Second})
			c.step(time.Second)
			c.SetSlice(rollouttest.EP("web-aaa-1", false, true, true), rollouttest.EP("web-aaa-2", true, true, false))
			c.log.waitFor(t, progress.EndpointNotReady{Pod: "web-aaa-1", After: secs(1.0)})
			c.step(time.Second)
			c.SetSlice(rollouttest.EP("web-aaa-1", false, false, true), rollouttest.EP("web-aaa-2", true, true, false))
			c.log.waitFor(t, progress.EndpointNotServing{Pod: "web-aaa-1", After: secs(2.0)})
			c.step(2 * time.Second)
			c.SetSlice(rollouttest.EP("web-aaa-2", true, true, false), rollouttest.EP("web-bbb-1", true, true, false), rollouttest.EP("web-bbb-2", true, true, false))
			c.log.waitFor(t, progress.EndpointRemoved{Pod: "web-aaa-1", After: secs(4.0)})
			c.step(time.Second)
			c.TerminateContainer("web-aaa-1", 0, "Completed")
			c.log.waitFor(t, progress.ContainerExited{Pod: "web-aaa-1", Container: "app", ExitCode: 0, Reason: "Completed", After: secs(5.0), Class: "clean"})
			c.step(time.Second)
			c.RemovePod("web-aaa-1")
			c.log.waitFor(t, progress.PodGone{Pod: "web-aaa-1", After: secs(6.0)})

			// web-aaa-2: the EndpointSlice reports the termination first, the app
			// hangs until SIGKILL, and its exit status only arrives with the removal.
			c.step(time.Second)
			c.SetSlice(rollouttest.EP("web-aaa-2", false, true, true), rollouttest.EP("web-bbb-1", true, true, false), rollouttest.EP("web-bbb-2", true, true, false))
			c.log.waitFor(t, progress.EndpointNotReady{Pod: "web-aaa-2", After: secs(0.0)})
			c.step(time.Second)
			c.UpdatePod("web-aaa-2", func(p *corev1.Pod) {
				p.DeletionTimestamp = ptr.To(metav1.NewTime(c.clock.Now().Add(29 * time.Second)))
				p.DeletionGracePeriodSeconds = ptr.To[int64](30)
			})
			c.log.waitFor(t, progress.PodDeleted{Pod: "web-aaa-2", Grace: 30 * time.Second})
			c.step(time.Second)
			c.SetSlice(rollouttest.EP("web-aaa-2", false, false, true), rollouttest.EP("web-bbb-1", true, true, false), rollouttest.EP("web-bbb-2", true, true, false))
			c.log.waitFor(t, progress.EndpointNotServing{Pod: "web-aaa-2", After: secs(2.0)})
			c.event("web-aaa-2", "Killing", "Stopping container app")
			c.log.waitFor(t, progress.PodEventObserved{Pod: "web-aaa-2", Reason: "Killing", Message: "Stopping container app"})
			c.step(28 * time.Second) // the grace deadline
			c.hide("web-aaa-2")
			c.TerminateContainer("web-aaa-2", 137, "Error")
			c.step(time.Second)
			c.SetSlice(rollouttest.EP("web-bbb-1", true, true, false), rollouttest.EP("web-bbb-2", true, true, false))
			c.log.waitFor(t, progress.EndpointRemoved{Pod: "web-aaa-2", After: secs(31.0)})
			if _, ok := c.log.find(podEvent[progress.ContainerExited]("web-aaa-2")); ok {
				t.Fatalf("the hidden status update reached the guard:\n%s", c.log.String())
			}
			c.step(time.Second)
			c.RemovePod("web-aaa-2")
			c.log.waitFor(t, progress.ContainerExited{Pod: "web-aaa-2", Container: "app", ExitCode: 137, Reason: "Error", After: secs(30.0), Class: "sigkill"}) // estimated from finishedAt: seen only in the DELETED object
			c.log.waitFor(t, progress.PodGone{Pod: "web-aaa-2", After: secs(32.0)})

			c.step(time.Second)
			c.completeRollout()
			r := c.result(done)

			if r.Outcome != tc.wantOutcome || !strings.Contains(r.Message, tc.wantMessage) {
				t.Errorf("outcome %q (%s), want %q (~%s)", r.Outcome, r.Message, tc.wantOutcome, tc.wantMessage)
			}
			if tc.wantOutcome == report.OutcomeFailed {
				if len(r.Breaches) != 1 || r.Breaches[0].Budget != policy.BudgetSIGKILLs || r.Breaches[0].Pod != "web-aaa-2" || r.Breaches[0].Observed != 1 {
					t.Errorf("breaches = %+v, want the one SIGKILL of web-aaa-2", r.Breaches)
				}
				if !strings.Contains(r.Message, "SIGKILL") {
					t.Errorf("message %q does not name the SIGKILL", r.Message)
				}
			} else if len(r.Breaches) != 0 {
				t.Errorf("breaches = %+v, want none", r.Breaches)
			}
			if !r.Triggered || r.FromRevision != "1" || r.ToRevision != "2" || r.Namespace != rollouttest.NS || r.Deployment != "web" {
				t.Errorf("report header = %+v", r)
			}
			if !r.StartedAt.Equal(rollouttest.T0) || !r.FinishedAt.Equal(rollouttest.At(41)) || r.DurationSeconds != 41 {
				t.Errorf("started %s finished %s duration %v", rollouttest.FmtInstant(r.StartedAt), rollouttest.FmtInstant(r.FinishedAt), r.DurationSeconds)
			}
			if len(r.Pods) != 2 {
				t.Fatalf("%d pods reported, want the 2 old ones: %+v", len(r.Pods), r.Pods)
			}
			p1, p2 := r.Pods[0], r.Pods[1]
			if p1.Name != "web-aaa-1" || p2.Name != "web-aaa-2" {
				t.Fatalf("pods %s, %s", p1.Name, p2.Name)
			}
			if p1.Exit != progress.ExitClean || p1.SIGKILL || p1.ExitCode == nil || *p1.ExitCode != 0 || p1.Verdict != report.VerdictOK || !p1.ServingFalseBeforeExit || p1.GraceSeconds != 30 {
				t.Errorf("web-aaa-1 = %+v", p1)
			}
			rollouttest.AssertSeconds(t, "web-aaa-1 SecondsToNotReady", p1.SecondsToNotReady, 1)
			rollouttest.AssertSeconds(t, "web-aaa-1 SecondsToNotServing", p1.SecondsToNotServing, 2)
			rollouttest.AssertSeconds(t, "web-aaa-1 SecondsToEndpointRemoval", p1.SecondsToEndpointRemoval, 4)
			rollouttest.AssertSeconds(t, "web-aaa-1 TerminationSeconds", p1.TerminationSeconds, 5)
			rollouttest.AssertSeconds(t, "web-aaa-1 SecondsToGone", p1.SecondsToGone, 6)

			if p2.Exit != progress.ExitSIGKILL || !p2.SIGKILL || p2.ExitCode == nil || *p2.ExitCode != 137 || p2.Reason != "Error" || p2.Verdict != report.VerdictSIGKILL || p2.GraceSeconds != 30 {
				t.Errorf("web-aaa-2 = %+v", p2)
			}
			rollouttest.AssertSeconds(t, "web-aaa-2 SecondsToNotReady", p2.SecondsToNotReady, 0)
			rollouttest.AssertSeconds(t, "web-aaa-2 SecondsToNotServing", p2.SecondsToNotServing, 2)
			rollouttest.AssertSeconds(t, "web-aaa-2 SecondsToEndpointRemoval", p2.SecondsToEndpointRemoval, 31)
			rollouttest.AssertSeconds(t, "web-aaa-2 TerminationSeconds", p2.TerminationSeconds, 30) // from finishedAt
			if len(p2.Events) != 1 || p2.Events[0].Reason != "Killing" {
				t.Errorf("web-aaa-2 events = %+v", p2.Events)
			}
			if len(p2.Containers) != 1 || !p2.Containers[0].FinishedAt.Equal(rollouttest.At(38)) {
				t.Errorf("web-aaa-2 containers = %+v", p2.Containers)
			}

			want := report.Summary{OldPods: 2, Gone: 2, Clean: 1, SIGKILLs: 1}
			if r.Summary != want {
				t.Errorf("summary = %+v, want %+v", r.Summary, want)
			}
			if r.Propagation.Samples != 2 || *r.Propagation.Max != 1 || *r.Propagation.P50 != 0 {
				t.Errorf("propagation = %d samples p50 %s max %s", r.Propagation.Samples, rollouttest.FmtPtr(r.Propagation.P50), rollouttest.FmtPtr(r.Propagation.Max))
			}
			// The configured 5 s propagation (the API-level 1 s never lowers it) + 5 s
			// drain + 15 s request + 5 s margin.
			if r.RecommendedGraceSeconds == nil || *r.RecommendedGraceSeconds != 30 || r.RecommendationPropagation != "configured" {
				t.Errorf("recommended grace = %v (%s), want 30 from the configured propagation", r.RecommendedGraceSeconds, r.RecommendationPropagation)
			}

			// The restart itself went through as kubectl's would.
			got, err := c.client.AppsV1().Deployments(rollouttest.NS).Get(c.ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Template.Annotations[workload.RestartedAtAnnotation] != rollouttest.T0.Format(time.RFC3339) {
				t.Errorf("template annotations = %v", got.Spec.Template.Annotations)
			}
		})
	}
}

func TestGuardWatchNoRollout(t *testing.T) {
	d := rollouttest.WebDeployment(3, 3, "3", rollouttest.CompleteStatus())
	c := newCluster(t, d, rollouttest.WebReplicaSet("ccc", "3"), rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebPod("web-ccc-1", "ccc"), rollouttest.WebPod("web-ccc-2", "ccc"), rollouttest.WebService(),
		rollouttest.WebSlice(rollouttest.EP("web-ccc-1", true, true, false), rollouttest.EP("web-ccc-2", true, true, false)))
	r := c.result(c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, time.Minute), context.Background(), d, nil))
	if r.Outcome != report.OutcomeNoRollout || r.Triggered {
		t.Errorf("outcome %q (%s), triggered %v; want %q", r.Outcome, r.Message, r.Triggered, report.OutcomeNoRollout)
	}
	if len(r.Pods) != 0 || r.Summary.OldPods != 0 {
		t.Errorf("current pods reported as old: %+v", r.Pods)
	}
	if c.clock.HasWaiters() {
		t.Error("no-rollout left a timer behind")
	}
}

// inProgress is a rollout the controller has started: one of two pods updated.
func inProgress(t *testing.T) (*cluster, *appsv1.Deployment) {
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
	c := newCluster(t, d, rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebReplicaSet("bbb", "2"),
		rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-aaa-2", "aaa"), rollouttest.WebPod("web-bbb-1", "bbb"), rollouttest.WebService(),
		rollouttest.WebSlice(rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", true, true, false)))
	return c, d
}

func TestGuardWatchTimeout(t *testing.T) {
	c, d := inProgress(t)
	done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, time.Minute), context.Background(), d, nil)
	waitUntil(t, "the guard's timeout timer", c.clock.HasWaiters)
	c.step(time.Minute)
	r := c.result(done)
	if r.Outcome != report.OutcomeTimeout || !strings.Contains(r.Message, "not complete after 1m0s: 1 of 2 new pods updated") {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, report.OutcomeTimeout)
	}
	if r.Triggered || r.DurationSeconds != 60 {
		t.Errorf("triggered %v, duration %v", r.Triggered, r.DurationSeconds)
	}
	if len(r.Pods) != 2 {
		t.Fatalf("pods = %+v, want the 2 old ones", r.Pods)
	}
	for _, p := range r.Pods {
		if !strings.HasPrefix(p.Name, "web-aaa-") || p.Verdict != report.VerdictNotTerminated {
			t.Errorf("pod %s verdict %q, want %q", p.Name, p.Verdict, report.VerdictNotTerminated)
		}
	}
}

func TestGuardProgressDeadlineExceeded(t *testing.T) {
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-bbb" has timed out progressing.`}}})
	c := newCluster(t, d, rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebReplicaSet("bbb", "2"), rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebService())
	r := c.result(c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0), context.Background(), d, nil))
	if r.Outcome != report.OutcomeTimeout || !strings.Contains(r.Message, "progress deadline") || !strings.Contains(r.Message, "web-bbb") {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, report.OutcomeTimeout)
	}
}

func TestGuardInterrupted(t *testing.T) {
	c, d := inProgress(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0), ctx, d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	cancel()
	r := c.result(done)
	if r.Outcome != report.OutcomeInterrupted || len(r.Pods) != 2 {
		t.Errorf("outcome %q (%s), %d pods; want %q", r.Outcome, r.Message, len(r.Pods), report.OutcomeInterrupted)
	}
}

func TestGuardTriggerError(t *testing.T) {
	d := rollouttest.WebDeployment(1, 1, "1", rollouttest.CompleteStatus())
	d.Spec.Paused = true
	c := newCluster(t, d, rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebPod("web-aaa-1", "aaa"))
	done := c.run(c.guard(policy.BreachLimits{}, 0), context.Background(), d, func(ctx context.Context) (workload.Workload, error) {
		out, err := actions.Restart(ctx, c.client, d, c.clock.Now(), actions.DryRunNone)
		if err != nil {
			return nil, err
		}
		return workload.Deployment{Deployment: out}, nil
	})
	select {
	case res := <-done:
		if !errors.Is(res.err, actions.ErrPaused) || res.report != nil {
			t.Errorf("Run = %v, %v; want actions.ErrPaused", res.report, res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("guard did not return")
	}
	if _, ok := c.log.find(func(e progress.Event) bool { w, ok := e.(progress.WatchStarted); return ok && len(w.Services) == 0 }); !ok {
		t.Errorf("progress does not say no Service selects the pods:\n%s", c.log.String())
	}
}

// secs is a duration of s seconds.
func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
