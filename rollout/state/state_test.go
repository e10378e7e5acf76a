package state

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// rollingOut is web rolling from revision 1 (web-aaa-*) to 2 (web-bbb-*), as the
// guard's watches would deliver it.
func rollingOut(t *testing.T) *Rollout {
	t.Helper()
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2})
	r := New(workload.Deployment{Deployment: d}, rollouttest.T0)
	for _, obj := range []any{rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebReplicaSet("bbb", "2"),
		rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-bbb-1", "bbb")} {
		r.Apply(obj, false, rollouttest.T0)
	}
	return r
}

func names(ts []*PodTimeline) map[string]bool {
	out := map[string]bool{}
	for _, t := range ts {
		out[t.Name] = true
	}
	return out
}

func deleting(p *corev1.Pod, at time.Time) *corev1.Pod {
	p = p.DeepCopy()
	p.DeletionTimestamp = ptr.To(metav1.NewTime(at.Add(30 * time.Second)))
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	return p
}

func terminated(p *corev1.Pod, code int32, reason string, at time.Time) *corev1.Pod {
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(at)}}
	return p
}

func TestOldPodsAreOwnedPods(t *testing.T) {
	r := rollingOut(t)
	bare := rollouttest.WebPod("debug-shell", "aaa") // the app's labels, no controller
	bare.OwnerReferences = nil
	r.Apply(bare, false, rollouttest.At(1))
	impostor := rollouttest.WebPod("other-rs-pod", "aaa") // a controller of the same name but another UID
	impostor.OwnerReferences[0].UID = "someone-else"
	r.Apply(impostor, false, rollouttest.At(1))

	if got := names(r.OldTimelines()); len(got) != 1 || !got["web-aaa-1"] {
		t.Errorf("old pods = %v, want only web-aaa-1", got)
	}
	// The controller is done and web-aaa-1 is gone: the bare pod does not hold the rollout open.
	r.Apply(rollouttest.WebDeployment(2, 2, "2", rollouttest.CompleteStatus()), false, rollouttest.At(2))
	r.Apply(deleting(rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.At(2)), false, rollouttest.At(2))
	if msg, done, _ := r.Status(2); done || msg != "new pods available; 1 old pods still terminating" {
		t.Errorf("Status = %q, %v; want web-aaa-1 still terminating", msg, done)
	}
	r.Apply(rollouttest.WebPod("web-aaa-1", "aaa"), true, rollouttest.At(3))
	if msg, done, err := r.Status(2); !done || err != nil {
		t.Errorf("Status = %q, %v, %v; want done although a bare pod carries the labels", msg, done, err)
	}
}

func TestNativeSidecarAndIgnoredContainers(t *testing.T) {
	r := rollingOut(t)
	r.Ignore = map[string]bool{"istio-proxy": true}
	pod := rollouttest.WebPod("web-aaa-2", "aaa")
	pod.Spec.InitContainers = []corev1.Container{{Name: "istio-proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}, {Name: "migrate"}}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "istio-proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "migrate", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}},
	}
	r.Apply(pod, false, rollouttest.T0)
	pod = deleting(pod, rollouttest.At(1))
	r.Apply(pod, false, rollouttest.At(1))
	pod = terminated(pod, 0, "Completed", rollouttest.At(5))
	events := r.Apply(pod, false, rollouttest.At(5))
	pod.Status.InitContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", FinishedAt: metav1.NewTime(rollouttest.At(31))}}
	events = append(events, r.Apply(pod, false, rollouttest.At(31))...)

	var exited []string
	for _, e := range events {
		if c, ok := e.(progress.ContainerExited); ok {
			exited = append(exited, c.Container+":"+string(c.Class))
		}
	}
	if len(exited) != 2 || exited[0] != "app:clean" || exited[1] != "istio-proxy:sigkill" {
		t.Errorf("exits = %v, want app clean then the native sidecar istio-proxy SIGKILLed (the finished init container is not reported)", exited)
	}
	tl := timelineNamed(r, "web-aaa-2")
	if exit, ok := tl.Exit(); !ok || exit.Exit != progress.ExitClean {
		t.Errorf("pod exit = %+v, want clean: the SIGKILLed sidecar is ignored", exit)
	}
	if !tl.Containers[1].Ignored {
		t.Errorf("containers = %+v, want istio-proxy marked ignored", tl.Containers)
	}
	if !tl.LastExit.Equal(rollouttest.At(5)) {
		t.Errorf("LastExit = %s, want the app's exit (ignored containers do not count)", tl.LastExit)
	}
}

func TestEviction(t *testing.T) {
	r := rollingOut(t)
	pod := deleting(rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.At(1))
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"})
	r.Apply(pod, false, rollouttest.At(1))
	if tl := timelineNamed(r, "web-aaa-1"); tl.Evicted != "EvictionByEvictionAPI" {
		t.Errorf("Evicted = %q, want the condition's reason", tl.Evicted)
	}
}

func TestNewPodFailures(t *testing.T) {
	r := rollingOut(t)
	r.Apply(rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}), false, rollouttest.At(1))
	if f := r.NewPodFailures(); len(f) != 0 {
		t.Fatalf("failures = %+v before any", f)
	}
	crashing := rollouttest.WebPod("web-bbb-1", "bbb")
	crashing.Status.ContainerStatuses[0].RestartCount = 2
	crashing.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	crashing.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}
	r.Apply(crashing, false, rollouttest.At(2))
	pulling := rollouttest.WebPod("web-bbb-2", "bbb")
	pulling.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
	r.Apply(pulling, false, rollouttest.At(2))
	oldCrash := rollouttest.WebPod("web-aaa-3", "aaa") // an old pod's restarts are not the release's
	oldCrash.Status.ContainerStatuses[0].RestartCount = 5
	r.Apply(oldCrash, false, rollouttest.At(2))

	got := r.NewPodFailures()
	if len(got) != 2 {
		t.Fatalf("failures = %+v, want web-bbb-1 and web-bbb-2", got)
	}
	if f := got[0]; f.Pod != "web-bbb-1" || f.Count() != 2 || f.ExitCode == nil || *f.ExitCode != 1 || f.Reason != "Error" {
		t.Errorf("web-bbb-1 = %+v, want 2 restarts, last exit 1 Error", f)
	}
	if f := got[1]; f.Pod != "web-bbb-2" || f.Count() != 1 || f.ExitCode != nil || f.Reason != "ImagePullBackOff" {
		t.Errorf("web-bbb-2 = %+v, want one failed start (ImagePullBackOff)", f)
	}
}

// A pod that went while the watch was disconnected arrives as a tombstone with
// its last, stale status: it is unobserved, never classified from that status.
func TestUnobservedDeletion(t *testing.T) {
	r := rollingOut(t)
	stale := deleting(rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.At(1))
	r.Apply(stale, false, rollouttest.At(1))
	events := r.ApplyUnobserved(stale, rollouttest.At(40)) // the relist after the outage
	tl := timelineNamed(r, "web-aaa-1")
	if exit, ok := tl.Exit(); !ok || exit.Exit != progress.ExitUnobserved || !tl.GoneUnobserved {
		t.Errorf("exit %+v (gone unobserved %v), want unobserved", exit, tl.GoneUnobserved)
	}
	if len(events) != 1 {
		t.Errorf("events = %+v, want one PodUnobserved", events)
	} else if _, ok := events[0].(progress.PodUnobserved); !ok {
		t.Errorf("event %T, want PodUnobserved", events[0])
	}
	// The pod no longer holds the rollout open.
	r.Apply(rollouttest.WebDeployment(2, 2, "2", rollouttest.CompleteStatus()), false, rollouttest.At(41))
	if _, done, _ := r.Status(2); !done {
		t.Error("an unobserved pod still counts as terminating")
	}
}

// A relist re-delivers every Event: each occurrence is recorded once.
func TestEventsDeduplicated(t *testing.T) {
	r := rollingOut(t)
	r.Apply(deleting(rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.At(1)), false, rollouttest.At(1))
	e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-aaa-1.killing", UID: "ev-1"}, Count: 1,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-aaa-1"}, Reason: "Unhealthy", Message: "Readiness probe failed",
		LastTimestamp: metav1.NewTime(rollouttest.At(2))}
	r.Apply(e, false, rollouttest.At(2))
	r.Apply(e.DeepCopy(), false, rollouttest.At(9)) // the relist
	again := e.DeepCopy()
	again.Count = 2 // the probe failed once more: a new occurrence
	r.Apply(again, false, rollouttest.At(10))
	if n := len(timelineNamed(r, "web-aaa-1").Events); n != 2 {
		t.Errorf("%d events recorded, want 2 (the relisted copy dropped)", n)
	}
}

// timelineNamed is the timeline of the newest pod of that name.
func timelineNamed(r *Rollout, name string) *PodTimeline {
	return r.timelines[r.keyOf("", name)]
}
