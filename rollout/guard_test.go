package rollout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

const guardNS = "shop"

// progressLog collects the guard's progress lines; safe for concurrent use.
type progressLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *progressLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitFor polls until the guard printed a progress line containing want.
func (p *progressLog) waitFor(t *testing.T, want string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return strings.Contains(p.String(), want), nil })
	if err != nil {
		t.Fatalf("guard never reported %q; progress so far:\n%s", want, p.String())
	}
}

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
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	log    *progressLog

	mu sync.Mutex
	// hidden pods' MODIFIED events are dropped by the pod watch, as when the
	// kubelet's last status update and the removal reach a watcher together.
	hidden map[string]bool
}

func webDeployment(generation, observed int64, revision string, status appsv1.DeploymentStatus) *appsv1.Deployment {
	status.ObservedGeneration = observed
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: guardNS, Generation: generation, UID: "dep-uid",
			Annotations: map[string]string{RevisionAnnotation: revision}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Containers:                    []corev1.Container{{Name: "app", Image: "web:1"}},
				},
			},
		},
		Status: status,
	}
}

func completeStatus() appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}
}

func webReplicaSet(hash, revision string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: guardNS,
			Labels:          map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash},
			Annotations:     map[string]string{RevisionAnnotation: revision},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2)},
	}
}

func webPod(name, hash string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: guardNS, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30), Containers: []corev1.Container{{Name: "app", Image: "web:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
}

func webService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: guardNS},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

type endpoint struct {
	pod                         string
	ready, serving, terminating bool
}

func webSlice(endpoints ...endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x1y2z", Namespace: guardNS, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i, e := range endpoints {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"10.0.0." + string(rune('1'+i))},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: guardNS, Name: e.pod},
		})
	}
	return s
}

func newCluster(t *testing.T, objects ...runtime.Object) *cluster {
	c := &cluster{
		t: t, ctx: context.Background(),
		client: fake.NewClientset(objects...),
		clock:  clocktesting.NewFakeClock(t0),
		log:    &progressLog{},
		hidden: map[string]bool{},
	}
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

func (c *cluster) guard(budgets Budgets, timeout time.Duration) *Guard {
	return &Guard{Client: c.client, Clock: c.clock, Progress: c.log, Budget: verify.DefaultBudget(), Budgets: budgets, Timeout: timeout}
}

type runResult struct {
	report *Report
	err    error
}

// run starts g.Run in a goroutine.
func (c *cluster) run(g *Guard, ctx context.Context, d *appsv1.Deployment, trigger Trigger) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		r, err := g.Run(ctx, d, trigger)
		done <- runResult{r, err}
	}()
	return done
}

func (c *cluster) result(done <-chan runResult) *Report {
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

func (c *cluster) updatePod(name string, mutate func(*corev1.Pod)) {
	c.t.Helper()
	pods := c.client.CoreV1().Pods(guardNS)
	p, err := pods.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	mutate(p)
	if _, err := pods.Update(c.ctx, p, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// deletePodGracefully sets what the API server sets on a graceful delete.
func (c *cluster) deletePodGracefully(name string, grace int64) {
	c.updatePod(name, func(p *corev1.Pod) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(c.clock.Now().Add(time.Duration(grace) * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To(grace)
	})
}

func (c *cluster) terminateContainer(name string, code int32, reason string) {
	c.updatePod(name, func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].Ready = false
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(c.clock.Now()),
		}}
	})
}

func (c *cluster) removePod(name string) {
	c.t.Helper()
	if err := c.client.CoreV1().Pods(guardNS).Delete(c.ctx, name, metav1.DeleteOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) setSlice(endpoints ...endpoint) {
	c.t.Helper()
	if _, err := c.client.DiscoveryV1().EndpointSlices(guardNS).Update(c.ctx, webSlice(endpoints...), metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) hide(pod string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hidden[pod] = true
}

func (c *cluster) event(pod, reason, message string) {
	c.t.Helper()
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod + "." + strings.ToLower(reason), Namespace: guardNS},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: guardNS, Name: pod},
		Reason:         reason, Message: message, Type: corev1.EventTypeNormal,
		LastTimestamp: metav1.NewTime(c.clock.Now()),
	}
	if _, err := c.client.CoreV1().Events(guardNS).Create(c.ctx, e, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// restartTrigger restarts "web" and then does what the Deployment controller
// would: bump the generation and revision, create the new ReplicaSet and its pods.
func (c *cluster) restartTrigger(d *appsv1.Deployment) Trigger {
	return func(ctx context.Context) (*appsv1.Deployment, error) {
		out, err := Restart(ctx, c.client, d, c.clock.Now(), DryRunNone)
		if err != nil {
			return nil, err
		}
		out.Generation = 2
		out.Annotations[RevisionAnnotation] = "2"
		out, err = c.client.AppsV1().Deployments(guardNS).Update(ctx, out, metav1.UpdateOptions{})
		if err != nil {
			return nil, err
		}
		if _, err := c.client.AppsV1().ReplicaSets(guardNS).Create(ctx, webReplicaSet("bbb", "2"), metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		for _, name := range []string{"web-bbb-1", "web-bbb-2"} {
			if _, err := c.client.CoreV1().Pods(guardNS).Create(ctx, webPod(name, "bbb"), metav1.CreateOptions{}); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

func (c *cluster) completeRollout() {
	c.t.Helper()
	deployments := c.client.AppsV1().Deployments(guardNS)
	d, err := deployments.Get(c.ctx, "web", metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	d.Status = completeStatus()
	d.Status.ObservedGeneration = d.Generation
	if _, err := deployments.UpdateStatus(c.ctx, d, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func TestGuardRestart(t *testing.T) {
	tests := []struct {
		name        string
		budgets     Budgets
		wantOutcome Outcome
		wantMessage string
	}{
		{"within budget", Budgets{MaxSIGKILLs: 1, MaxUncleanExits: -1}, OutcomeSucceeded, "every old pod gone"},
		{"SIGKILL budget breached", Budgets{MaxSIGKILLs: 0, MaxUncleanExits: -1}, OutcomeFailed, "budget 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := webDeployment(1, 1, "1", completeStatus())
			c := newCluster(t, d, webReplicaSet("aaa", "1"), webPod("web-aaa-1", "aaa"), webPod("web-aaa-2", "aaa"), webService(),
				webSlice(endpoint{"web-aaa-1", true, true, false}, endpoint{"web-aaa-2", true, true, false}))
			done := c.run(c.guard(tc.budgets, 0), context.Background(), d.DeepCopy(), c.restartTrigger(d))
			c.log.waitFor(t, "of service web")
			c.log.waitFor(t, "restart requested (generation 2)")

			// web-aaa-1 drains by the contract: not ready, not serving, removed, exits 0, gone.
			c.step(time.Second)
			c.deletePodGracefully("web-aaa-1", 30)
			c.log.waitFor(t, "pod web-aaa-1: deletion requested (grace 30s)")
			c.step(time.Second)
			c.setSlice(endpoint{"web-aaa-1", false, true, true}, endpoint{"web-aaa-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-1: endpoint not ready after 1.0s")
			c.step(time.Second)
			c.setSlice(endpoint{"web-aaa-1", false, false, true}, endpoint{"web-aaa-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-1: endpoint not serving after 2.0s")
			c.step(2 * time.Second)
			c.setSlice(endpoint{"web-aaa-2", true, true, false}, endpoint{"web-bbb-1", true, true, false}, endpoint{"web-bbb-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-1: endpoint removed after 4.0s")
			c.step(time.Second)
			c.terminateContainer("web-aaa-1", 0, "Completed")
			c.log.waitFor(t, "pod web-aaa-1: container app exited 0 (Completed) after 5.0s: clean")
			c.step(time.Second)
			c.removePod("web-aaa-1")
			c.log.waitFor(t, "pod web-aaa-1: gone after 6.0s")

			// web-aaa-2: the EndpointSlice reports the termination first, the app
			// hangs until SIGKILL, and its exit status only arrives with the removal.
			c.step(time.Second)
			c.setSlice(endpoint{"web-aaa-2", false, true, true}, endpoint{"web-bbb-1", true, true, false}, endpoint{"web-bbb-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-2: endpoint not ready after 0.0s")
			c.step(time.Second)
			c.updatePod("web-aaa-2", func(p *corev1.Pod) {
				p.DeletionTimestamp = ptr.To(metav1.NewTime(c.clock.Now().Add(29 * time.Second)))
				p.DeletionGracePeriodSeconds = ptr.To[int64](30)
			})
			c.log.waitFor(t, "pod web-aaa-2: deletion requested (grace 30s)")
			c.step(time.Second)
			c.setSlice(endpoint{"web-aaa-2", false, false, true}, endpoint{"web-bbb-1", true, true, false}, endpoint{"web-bbb-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-2: endpoint not serving after 2.0s")
			c.event("web-aaa-2", "Killing", "Stopping container app")
			c.log.waitFor(t, "pod web-aaa-2: event Killing: Stopping container app")
			c.step(28 * time.Second) // the grace deadline
			c.hide("web-aaa-2")
			c.terminateContainer("web-aaa-2", 137, "Error")
			c.step(time.Second)
			c.setSlice(endpoint{"web-bbb-1", true, true, false}, endpoint{"web-bbb-2", true, true, false})
			c.log.waitFor(t, "pod web-aaa-2: endpoint removed after 31.0s")
			if strings.Contains(c.log.String(), "web-aaa-2: container") {
				t.Fatalf("the hidden status update reached the guard:\n%s", c.log.String())
			}
			c.step(time.Second)
			c.removePod("web-aaa-2")
			c.log.waitFor(t, "pod web-aaa-2: container app exited 137 (Error) after 30.0s: sigkill") // estimated from finishedAt: seen only in the DELETED object
			c.log.waitFor(t, "pod web-aaa-2: gone after 32.0s")

			c.step(time.Second)
			c.completeRollout()
			r := c.result(done)

			if r.Outcome != tc.wantOutcome || !strings.Contains(r.Message, tc.wantMessage) {
				t.Errorf("outcome %q (%s), want %q (~%s)", r.Outcome, r.Message, tc.wantOutcome, tc.wantMessage)
			}
			if tc.wantOutcome == OutcomeFailed {
				if len(r.Breaches) != 1 || r.Breaches[0].Budget != BudgetSIGKILLs || r.Breaches[0].Pod != "web-aaa-2" || r.Breaches[0].Observed != 1 {
					t.Errorf("breaches = %+v, want the one SIGKILL of web-aaa-2", r.Breaches)
				}
				if !strings.Contains(r.Message, "SIGKILL") {
					t.Errorf("message %q does not name the SIGKILL", r.Message)
				}
			} else if len(r.Breaches) != 0 {
				t.Errorf("breaches = %+v, want none", r.Breaches)
			}
			if !r.Triggered || r.FromRevision != "1" || r.ToRevision != "2" || r.Namespace != guardNS || r.Deployment != "web" {
				t.Errorf("report header = %+v", r)
			}
			if !r.StartedAt.Equal(t0) || !r.FinishedAt.Equal(at(41)) || r.DurationSeconds != 41 {
				t.Errorf("started %s finished %s duration %v", fmtInstant(r.StartedAt), fmtInstant(r.FinishedAt), r.DurationSeconds)
			}
			if len(r.Pods) != 2 {
				t.Fatalf("%d pods reported, want the 2 old ones: %+v", len(r.Pods), r.Pods)
			}
			p1, p2 := r.Pods[0], r.Pods[1]
			if p1.Name != "web-aaa-1" || p2.Name != "web-aaa-2" {
				t.Fatalf("pods %s, %s", p1.Name, p2.Name)
			}
			if p1.Class != ExitClean || p1.SIGKILL || p1.ExitCode == nil || *p1.ExitCode != 0 || p1.Verdict != VerdictOK || !p1.DrainedBeforeExit || p1.GraceSeconds != 30 {
				t.Errorf("web-aaa-1 = %+v", p1)
			}
			assertSeconds(t, "web-aaa-1 SecondsToNotReady", p1.SecondsToNotReady, 1)
			assertSeconds(t, "web-aaa-1 SecondsToNotServing", p1.SecondsToNotServing, 2)
			assertSeconds(t, "web-aaa-1 SecondsToEndpointRemoval", p1.SecondsToEndpointRemoval, 4)
			assertSeconds(t, "web-aaa-1 TerminationSeconds", p1.TerminationSeconds, 5)
			assertSeconds(t, "web-aaa-1 SecondsToGone", p1.SecondsToGone, 6)

			if p2.Class != ExitSIGKILL || !p2.SIGKILL || p2.ExitCode == nil || *p2.ExitCode != 137 || p2.Reason != "Error" || p2.Verdict != VerdictSIGKILL || p2.GraceSeconds != 30 {
				t.Errorf("web-aaa-2 = %+v", p2)
			}
			assertSeconds(t, "web-aaa-2 SecondsToNotReady", p2.SecondsToNotReady, 0)
			assertSeconds(t, "web-aaa-2 SecondsToNotServing", p2.SecondsToNotServing, 2)
			assertSeconds(t, "web-aaa-2 SecondsToEndpointRemoval", p2.SecondsToEndpointRemoval, 31)
			assertSeconds(t, "web-aaa-2 TerminationSeconds", p2.TerminationSeconds, 30) // from finishedAt
			if len(p2.Events) != 1 || p2.Events[0].Reason != "Killing" {
				t.Errorf("web-aaa-2 events = %+v", p2.Events)
			}
			if len(p2.Containers) != 1 || !p2.Containers[0].FinishedAt.Equal(at(38)) {
				t.Errorf("web-aaa-2 containers = %+v", p2.Containers)
			}

			want := Summary{OldPods: 2, Gone: 2, Clean: 1, SIGKILLs: 1}
			if r.Summary != want {
				t.Errorf("summary = %+v, want %+v", r.Summary, want)
			}
			if r.Propagation.Samples != 2 || *r.Propagation.Max != 1 || *r.Propagation.P50 != 0 {
				t.Errorf("propagation = %d samples p50 %s max %s", r.Propagation.Samples, fmtPtr(r.Propagation.P50), fmtPtr(r.Propagation.Max))
			}
			// 1 s measured + 5 s drain + 15 s request + 5 s margin.
			if r.RecommendedGraceSeconds == nil || *r.RecommendedGraceSeconds != 26 {
				t.Errorf("recommended grace = %v, want 26", r.RecommendedGraceSeconds)
			}

			// The restart itself went through as kubectl's would.
			got, err := c.client.AppsV1().Deployments(guardNS).Get(c.ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Template.Annotations[RestartedAtAnnotation] != t0.Format(time.RFC3339) {
				t.Errorf("template annotations = %v", got.Spec.Template.Annotations)
			}
		})
	}
}

func TestGuardWatchNoRollout(t *testing.T) {
	d := webDeployment(3, 3, "3", completeStatus())
	c := newCluster(t, d, webReplicaSet("ccc", "3"), webReplicaSet("aaa", "1"), webPod("web-ccc-1", "ccc"), webPod("web-ccc-2", "ccc"), webService(),
		webSlice(endpoint{"web-ccc-1", true, true, false}, endpoint{"web-ccc-2", true, true, false}))
	r := c.result(c.run(c.guard(Budgets{MaxUncleanExits: -1}, time.Minute), context.Background(), d, nil))
	if r.Outcome != OutcomeNoRollout || r.Triggered {
		t.Errorf("outcome %q (%s), triggered %v; want %q", r.Outcome, r.Message, r.Triggered, OutcomeNoRollout)
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
	d := webDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
	c := newCluster(t, d, webReplicaSet("aaa", "1"), webReplicaSet("bbb", "2"),
		webPod("web-aaa-1", "aaa"), webPod("web-aaa-2", "aaa"), webPod("web-bbb-1", "bbb"), webService(),
		webSlice(endpoint{"web-aaa-1", true, true, false}, endpoint{"web-aaa-2", true, true, false}))
	return c, d
}

func TestGuardWatchTimeout(t *testing.T) {
	c, d := inProgress(t)
	done := c.run(c.guard(Budgets{MaxUncleanExits: -1}, time.Minute), context.Background(), d, nil)
	waitUntil(t, "the guard's timeout timer", c.clock.HasWaiters)
	c.step(time.Minute)
	r := c.result(done)
	if r.Outcome != OutcomeTimeout || !strings.Contains(r.Message, "not complete after 1m0s: 1 of 2 new pods updated") {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, OutcomeTimeout)
	}
	if r.Triggered || r.DurationSeconds != 60 {
		t.Errorf("triggered %v, duration %v", r.Triggered, r.DurationSeconds)
	}
	if len(r.Pods) != 2 {
		t.Fatalf("pods = %+v, want the 2 old ones", r.Pods)
	}
	for _, p := range r.Pods {
		if !strings.HasPrefix(p.Name, "web-aaa-") || p.Verdict != VerdictNotTerminated {
			t.Errorf("pod %s verdict %q, want %q", p.Name, p.Verdict, VerdictNotTerminated)
		}
	}
}

func TestGuardProgressDeadlineExceeded(t *testing.T) {
	d := webDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-bbb" has timed out progressing.`}}})
	c := newCluster(t, d, webReplicaSet("aaa", "1"), webReplicaSet("bbb", "2"), webPod("web-aaa-1", "aaa"), webService())
	r := c.result(c.run(c.guard(Budgets{MaxUncleanExits: -1}, 0), context.Background(), d, nil))
	if r.Outcome != OutcomeTimeout || !strings.Contains(r.Message, "progress deadline") || !strings.Contains(r.Message, "web-bbb") {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, OutcomeTimeout)
	}
}

func TestGuardInterrupted(t *testing.T) {
	c, d := inProgress(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := c.run(c.guard(Budgets{MaxUncleanExits: -1}, 0), ctx, d, nil)
	c.log.waitFor(t, "1 of 2 new pods updated")
	cancel()
	r := c.result(done)
	if r.Outcome != OutcomeInterrupted || len(r.Pods) != 2 {
		t.Errorf("outcome %q (%s), %d pods; want %q", r.Outcome, r.Message, len(r.Pods), OutcomeInterrupted)
	}
}

func TestGuardTriggerError(t *testing.T) {
	d := webDeployment(1, 1, "1", completeStatus())
	d.Spec.Paused = true
	c := newCluster(t, d, webReplicaSet("aaa", "1"), webPod("web-aaa-1", "aaa"))
	done := c.run(c.guard(Budgets{}, 0), context.Background(), d, func(ctx context.Context) (*appsv1.Deployment, error) {
		return Restart(ctx, c.client, d, c.clock.Now(), DryRunNone)
	})
	select {
	case res := <-done:
		if !errors.Is(res.err, ErrPaused) || res.report != nil {
			t.Errorf("Run = %v, %v; want ErrPaused", res.report, res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("guard did not return")
	}
	if !strings.Contains(c.log.String(), "no Service") {
		t.Errorf("progress does not say no Service selects the pods:\n%s", c.log.String())
	}
}
