package report

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
)

// t0 is when the deletion was requested in the timeline tests.
var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func at(seconds float64) time.Time { return t0.Add(time.Duration(seconds * float64(time.Second))) }

type podOpt func(*corev1.Pod)

// deleting marks the pod as deleted at t0 with the given grace.
func deleting(grace int64) podOpt {
	return func(p *corev1.Pod) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(time.Duration(grace) * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To(grace)
	}
}

func running(container string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: container, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
}

func exited(container string, code int32, reason string, finished time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: container, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(finished),
			}},
		})
	}
}

func testPod(opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1"}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func conditions(ready, serving, terminating bool) *discoveryv1.EndpointConditions {
	return &discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)}
}

func assertInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, fmtInstant(got), fmtInstant(want))
	}
}

var (
	fmtInstant    = rollouttest.FmtInstant
	assertSeconds = rollouttest.AssertSeconds
)

func TestPodTimelineContractSequence(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	// Before the deletion: a ready endpoint and a running pod.
	tl.ObservePod(testPod(running("app")), at(-60), false)
	tl.ObserveEndpoint(conditions(true, true, false), true, at(-60))
	if tl.Deleting() {
		t.Fatal("deleting before any deletion")
	}
	tl.ObservePod(testPod(deleting(30), running("app")), at(0.2), false)
	tl.ObserveEndpoint(conditions(false, true, true), true, at(1))
	tl.ObserveEndpoint(conditions(false, false, true), true, at(3))
	tl.ObserveEndpoint(nil, false, at(5))
	tl.ObservePod(testPod(deleting(30), exited("app", 0, "Completed", at(5.5))), at(6), false)
	// The DELETED object repeats the final status: it must not be recorded twice.
	tl.ObservePod(testPod(deleting(30), exited("app", 0, "Completed", at(5.5))), at(7), true)

	assertInstant(t, "DeletionObserved", tl.DeletionObserved, at(0.2))
	assertInstant(t, "DeletionRequested", tl.DeletionRequested, at(0))
	if tl.Grace != 30*time.Second {
		t.Errorf("Grace = %s, want 30s", tl.Grace)
	}
	assertInstant(t, "NotReady", tl.NotReady, at(1))
	assertInstant(t, "NotServing", tl.NotServing, at(3))
	assertInstant(t, "EndpointRemoved", tl.EndpointRemoved, at(5))
	assertInstant(t, "ContainerExited", tl.ContainerExited, at(6))
	assertInstant(t, "Gone", tl.Gone, at(7))
	if len(tl.Containers) != 1 {
		t.Fatalf("Containers = %+v, want one", tl.Containers)
	}
	want := state.ContainerExit{Name: "app", ExitCode: 0, Reason: "Completed", FinishedAt: at(5.5), Exit: progress.ExitClean}
	if got := tl.Containers[0]; got.Name != want.Name || got.ExitCode != want.ExitCode || got.Reason != want.Reason || !got.FinishedAt.Equal(want.FinishedAt) || got.Exit != want.Exit {
		t.Errorf("container = %+v, want %+v", got, want)
	}
	if !tl.DrainedBeforeExit() {
		t.Error("ServingFalseBeforeExit = false for serving=false 3s before the exit")
	}
	if exit, ok := tl.Exit(); !ok || exit.Exit != progress.ExitClean {
		t.Errorf("Exit() = %+v, %v", exit, ok)
	}

	r := NewPodReport(tl)
	assertSeconds(t, "SecondsToNotReady", r.SecondsToNotReady, 0.8)
	assertSeconds(t, "SecondsToNotServing", r.SecondsToNotServing, 2.8)
	assertSeconds(t, "SecondsToEndpointRemoval", r.SecondsToEndpointRemoval, 4.8)
	assertSeconds(t, "TerminationSeconds", r.TerminationSeconds, 5.8)
	assertSeconds(t, "SecondsToGone", r.SecondsToGone, 6.8)
	assertSeconds(t, "GraceUsage", r.GraceUsage, 5.8/30)
	if r.Verdict != VerdictOK || r.ExitCode == nil || *r.ExitCode != 0 || r.SIGKILL || !r.ServingFalseBeforeExit || r.GraceSeconds != 30 {
		t.Errorf("report = %+v", r)
	}
}

func TestPodTimelineEndpointBeforePodDeletion(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	tl.ObservePod(testPod(running("app")), at(-60), false)
	// A readiness failure unrelated to a deletion is not the start of a drain.
	tl.ObserveEndpoint(conditions(false, false, false), true, at(-30))
	if tl.Deleting() || !tl.NotReady.IsZero() || !tl.NotServing.IsZero() {
		t.Fatalf("endpoint not ready before any deletion was recorded: %+v", tl)
	}
	// ... nor is an endpoint disappearing.
	tl.ObserveEndpoint(nil, false, at(-20))
	if !tl.EndpointRemoved.IsZero() {
		t.Fatal("endpoint removal before any deletion was recorded")
	}
	tl.ObserveEndpoint(conditions(true, true, false), true, at(-10))

	// The EndpointSlice watch delivers the termination first.
	tl.ObserveEndpoint(conditions(false, true, true), true, at(0.5))
	if !tl.Deleting() {
		t.Fatal("terminating=true did not start the timeline")
	}
	tl.ObservePod(testPod(deleting(20), running("app")), at(1), false)
	tl.ObserveEndpoint(conditions(false, false, true), true, at(2))
	tl.ObserveEndpoint(nil, false, at(4))
	tl.ObservePod(testPod(deleting(20), exited("app", 0, "Completed", at(4))), at(4.5), true)

	assertInstant(t, "DeletionObserved", tl.DeletionObserved, at(0.5))
	assertInstant(t, "DeletionRequested", tl.DeletionRequested, at(0))
	assertInstant(t, "NotReady", tl.NotReady, at(0.5))
	assertInstant(t, "NotServing", tl.NotServing, at(2))
	assertInstant(t, "EndpointRemoved", tl.EndpointRemoved, at(4))
	assertInstant(t, "ContainerExited", tl.ContainerExited, at(4.5))
	assertInstant(t, "Gone", tl.Gone, at(4.5))
	if tl.Grace != 20*time.Second {
		t.Errorf("Grace = %s", tl.Grace)
	}
	r := NewPodReport(tl)
	assertSeconds(t, "SecondsToNotReady", r.SecondsToNotReady, 0)
	assertSeconds(t, "SecondsToNotServing", r.SecondsToNotServing, 1.5)
	assertSeconds(t, "SecondsToEndpointRemoval", r.SecondsToEndpointRemoval, 3.5)
	if r.Verdict != VerdictOK {
		t.Errorf("verdict = %q", r.Verdict)
	}
}

func TestPodTimelineExitOnlyInDeletedObject(t *testing.T) {
	t.Run("update then DELETED", func(t *testing.T) {
		tl := &state.PodTimeline{Name: "web-1"}
		tl.ObservePod(testPod(deleting(30), running("app"), running("sidecar")), at(0), false)
		tl.ObserveEndpoint(conditions(false, true, true), true, at(1))
		tl.ObserveEndpoint(conditions(false, false, true), true, at(2))
		// The kubelet's last status update and the removal arrive together.
		tl.ObservePod(testPod(deleting(30), exited("app", 137, "Error", at(30)), exited("sidecar", 0, "Completed", at(3))), at(31), true)

		// Seen only in the DELETED object: the first exit (the sidecar's) is
		// estimated from its finishedAt.
		assertInstant(t, "ContainerExited", tl.ContainerExited, at(3))
		assertInstant(t, "Gone", tl.Gone, at(31))
		if len(tl.Containers) != 2 {
			t.Fatalf("Containers = %+v, want both from the DELETED object", tl.Containers)
		}
		exit, ok := tl.Exit()
		if !ok || exit.Name != "app" || exit.Exit != progress.ExitSIGKILL || exit.ExitCode != 137 {
			t.Errorf("Exit() = %+v, %v; want the SIGKILLed app container", exit, ok)
		}
		r := NewPodReport(tl)
		if !r.SIGKILL || r.Verdict != VerdictSIGKILL || r.ExitCode == nil || *r.ExitCode != 137 || r.Reason != "Error" {
			t.Errorf("report = %+v", r)
		}
	})

	t.Run("DELETED is the first sighting", func(t *testing.T) {
		tl := &state.PodTimeline{Name: "web-1"}
		tl.ObservePod(testPod(running("app")), at(-5), false)
		tl.ObserveEndpoint(conditions(true, true, false), true, at(-5)) // serving, never seen draining
		tl.ObservePod(testPod(deleting(30), exited("app", 143, "Error", at(1))), at(2), true)
		assertInstant(t, "DeletionObserved", tl.DeletionObserved, at(2))
		assertInstant(t, "Gone", tl.Gone, at(2))
		if exit, ok := tl.Exit(); !ok || exit.Exit != progress.ExitUnclean || exit.ExitCode != 143 {
			t.Errorf("Exit() = %+v, %v; want 143 died-without-drain", exit, ok)
		}
	})

	t.Run("a signal exit of a pod without an endpoint is graceful", func(t *testing.T) {
		tl := &state.PodTimeline{Name: "worker-1"}
		tl.ObservePod(testPod(running("app")), at(-5), false)
		tl.ObservePod(testPod(deleting(30), exited("app", 143, "Error", at(1))), at(2), true)
		if exit, ok := tl.Exit(); !ok || exit.Exit != progress.ExitCleanSignal {
			t.Errorf("Exit() = %+v, %v; want clean-signal-exit (nothing routed to it)", exit, ok)
		}
	})

	t.Run("gone without any final status", func(t *testing.T) {
		tl := &state.PodTimeline{Name: "web-1"}
		tl.ObservePod(testPod(deleting(30), running("app")), at(0), false)
		if _, ok := tl.Exit(); ok {
			t.Error("Exit() ok before the pod exited or vanished")
		}
		if r := NewPodReport(tl); r.Verdict != VerdictStillPresent {
			t.Errorf("verdict while terminating = %q", r.Verdict)
		}
		tl.ObservePod(testPod(deleting(30), running("app")), at(3), true)
		exit, ok := tl.Exit()
		if !ok || exit.Exit != progress.ExitUnknown {
			t.Errorf("Exit() = %+v, %v; want unknown", exit, ok)
		}
		r := NewPodReport(tl)
		if r.ExitCode != nil || r.Exit != progress.ExitUnknown || r.TerminationSeconds != nil {
			t.Errorf("report = %+v", r)
		}
		assertSeconds(t, "SecondsToGone", r.SecondsToGone, 3)
	})
}

func TestPodTimelineNaiveExitBeforeNotServing(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	tl.ObserveEndpoint(conditions(true, true, false), true, at(-10))
	tl.ObservePod(testPod(deleting(30), running("app")), at(0), false)
	tl.ObserveEndpoint(conditions(false, true, true), true, at(0.5))
	// The app exits on SIGTERM at once; the endpoint only follows.
	tl.ObservePod(testPod(deleting(30), exited("app", 0, "Completed", at(0.7))), at(1), false)
	tl.ObserveEndpoint(conditions(false, false, true), true, at(2))
	tl.ObserveEndpoint(nil, false, at(3))
	tl.ObservePod(testPod(deleting(30), exited("app", 0, "Completed", at(0.7))), at(3.5), true)

	if tl.DrainedBeforeExit() {
		t.Error("ServingFalseBeforeExit = true although the container exited before serving=false")
	}
	r := NewPodReport(tl)
	if r.Verdict != VerdictNoDrain || r.ServingFalseBeforeExit {
		t.Errorf("verdict = %q, drained %v; want %q", r.Verdict, r.ServingFalseBeforeExit, VerdictNoDrain)
	}
	assertSeconds(t, "TerminationSeconds", r.TerminationSeconds, 1)
	assertSeconds(t, "SecondsToNotServing", r.SecondsToNotServing, 2)
}

func TestPodTimelineServingFalseBeforeExit(t *testing.T) {
	tests := []struct {
		name                 string
		notServing, exitedAt time.Time
		want                 bool
	}{
		{"never not serving", time.Time{}, at(2), false},
		{"never not serving, not exited", time.Time{}, time.Time{}, false},
		{"not serving, not exited yet", at(1), time.Time{}, true},
		{"not serving before exit", at(1), at(2), true},
		{"same instant is not before", at(2), at(2), false},
		{"not serving after exit", at(3), at(2), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := &state.PodTimeline{DeletionObserved: t0, NotServing: tc.notServing, ContainerExited: tc.exitedAt}
			if got := tl.DrainedBeforeExit(); got != tc.want {
				t.Errorf("DrainedBeforeExit() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodTimelineIgnoresExitsBeforeDeletion(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	// A crash before the rollout deleted the pod is not part of its drain.
	tl.ObservePod(testPod(exited("app", 1, "Error", at(-5))), at(-4), false)
	if len(tl.Containers) != 0 || !tl.ContainerExited.IsZero() {
		t.Fatalf("exit before the deletion recorded: %+v", tl.Containers)
	}
	tl.ObservePod(testPod(deleting(30), running("app")), at(0), false)
	tl.ObservePod(testPod(deleting(30), exited("app", 0, "Completed", at(1))), at(1), false)
	// A later, different status of the same container does not overwrite the first.
	tl.ObservePod(testPod(deleting(30), exited("app", 137, "Error", at(30))), at(30), false)
	if len(tl.Containers) != 1 || tl.Containers[0].ExitCode != 0 {
		t.Errorf("Containers = %+v, want the first exit only", tl.Containers)
	}
	assertInstant(t, "ContainerExited", tl.ContainerExited, at(1))
}

func TestPodTimelineDeletionRequestedOnce(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	tl.ObservePod(testPod(deleting(30)), at(0), false)
	// A second delete with a shorter grace moves deletionTimestamp; the first request stands.
	second := testPod(deleting(30))
	second.DeletionTimestamp = ptr.To(metav1.NewTime(at(6)))
	second.DeletionGracePeriodSeconds = ptr.To[int64](1)
	tl.ObservePod(second, at(5), false)
	assertInstant(t, "DeletionRequested", tl.DeletionRequested, at(0))
	assertInstant(t, "DeletionObserved", tl.DeletionObserved, at(0))
}

func TestPodTimelineNoGracePeriodSeconds(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	p := testPod()
	p.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	tl.ObservePod(p, at(1), false)
	if tl.Grace != 0 {
		t.Errorf("Grace = %s, want 0", tl.Grace)
	}
	assertInstant(t, "DeletionRequested", tl.DeletionRequested, t0)
	if r := NewPodReport(tl); r.GraceUsage != nil {
		t.Errorf("GraceUsage = %v with no grace", *r.GraceUsage)
	}
}

func TestPodTimelineEvents(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	if tl.HasEvent("Killing") {
		t.Fatal("HasEvent on an empty timeline")
	}
	tl.ObserveEvent("Killing", "Stopping container app", at(0))
	for i := range 2 * state.MaxEventsPerPod {
		tl.ObserveEvent("Unhealthy", fmt.Sprintf("Readiness probe failed (%d)", i), at(float64(i)))
	}
	if len(tl.Events) != state.MaxEventsPerPod {
		t.Errorf("%d events kept, want at most %d", len(tl.Events), state.MaxEventsPerPod)
	}
	if !tl.HasEvent("Killing") || !tl.HasEvent("Unhealthy") || tl.HasEvent("FailedPreStopHook") {
		t.Errorf("HasEvent wrong for %+v", tl.Events)
	}
	if tl.Events[0].Reason != "Killing" || tl.Events[0].Message != "Stopping container app" {
		t.Errorf("first event = %+v", tl.Events[0])
	}
}

func TestPodTimelineWorstContainer(t *testing.T) {
	tl := &state.PodTimeline{Name: "web-1"}
	tl.ObservePod(testPod(deleting(30),
		exited("a", 0, "Completed", at(1)),
		exited("b", 143, "Error", at(1)),
		exited("c", 137, "OOMKilled", at(1)),
		exited("d", 0, "Completed", at(1))), at(2), false)
	exit, ok := tl.Exit()
	if !ok || exit.Name != "c" || exit.Exit != progress.ExitOOMKilled {
		t.Errorf("Exit() = %+v, want the OOMKilled container", exit)
	}
	if r := NewPodReport(tl); r.Verdict != VerdictOOMKilled || r.SIGKILL {
		t.Errorf("report = %+v", r)
	}
}
