package state

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

func TestClassifyExit(t *testing.T) {
	deletion := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	grace := 30 * time.Second
	deadline := deletion.Add(grace)
	term := func(code int32, reason string, finished time.Time) *corev1.ContainerStateTerminated {
		return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(finished)}
	}
	early := deletion.Add(2 * time.Second)

	tests := []struct {
		name     string
		term     *corev1.ContainerStateTerminated
		deletion time.Time
		grace    time.Duration
		want     progress.ExitClass
		drained  bool // the endpoint stopped serving before the exit was received
	}{
		{"nil status: pod vanished", nil, deletion, grace, progress.ExitUnknown, false},
		{"137 ContainerStatusUnknown: the kubelet lost the container", term(137, "ContainerStatusUnknown", early), deletion, grace, progress.ExitUnknown, false},
		{"137 ContainerStatusUnknown at the deadline: the timing says SIGKILL", term(137, "ContainerStatusUnknown", deadline), deletion, grace, progress.ExitSIGKILL, false},
		{"137 at the deadline", term(137, "Error", deadline), deletion, grace, progress.ExitSIGKILL, false},
		{"137 early is still SIGKILL", term(137, "Error", early), deletion, grace, progress.ExitSIGKILL, false},
		{"137 without a deletion time", term(137, "Error", early), time.Time{}, 0, progress.ExitSIGKILL, false},
		{"OOMKilled with 137", term(137, "OOMKilled", early), deletion, grace, progress.ExitOOMKilled, false},
		{"OOMKilled at the deadline", term(137, "OOMKilled", deadline), deletion, grace, progress.ExitOOMKilled, false},
		{"0 early", term(0, "Completed", early), deletion, grace, progress.ExitClean, false},
		{"0 at the deadline is still clean", term(0, "Completed", deadline), deletion, grace, progress.ExitClean, false},
		{"143 early: died on SIGTERM", term(143, "Error", early), deletion, grace, progress.ExitUnclean, false},
		{"2 early: Go PID 1 died on SIGTERM", term(2, "Error", early), deletion, grace, progress.ExitUnclean, false},
		{"1 early", term(1, "Error", early), deletion, grace, progress.ExitUnclean, false},
		{"1 at the deadline", term(1, "Error", deadline), deletion, grace, progress.ExitSIGKILL, false},
		{"143 at the deadline", term(143, "Error", deadline), deletion, grace, progress.ExitSIGKILL, false},
		{"1 after the deadline", term(1, "Error", deadline.Add(3*time.Second)), deletion, grace, progress.ExitSIGKILL, false},
		{"1 within the slack before the deadline", term(1, "Error", deadline.Add(-time.Second)), deletion, grace, progress.ExitSIGKILL, false},
		{"1 just outside the slack", term(1, "Error", deadline.Add(-time.Second-time.Millisecond)), deletion, grace, progress.ExitUnclean, false},
		{"1 two seconds before the deadline", term(1, "Error", deadline.Add(-2*time.Second)), deletion, grace, progress.ExitUnclean, false},
		{"1 without a deletion time", term(1, "Error", deadline), time.Time{}, grace, progress.ExitUnclean, false},
		{"1 without finishedAt", term(1, "Error", time.Time{}), deletion, grace, progress.ExitUnclean, false},
		{"143 after draining: a JVM's graceful exit", term(143, "Error", early), deletion, grace, progress.ExitCleanSignal, true},
		{"130 after draining: SIGINT handler", term(130, "Error", early), deletion, grace, progress.ExitCleanSignal, true},
		{"2 after draining is still unclean (a Go panic)", term(2, "Error", early), deletion, grace, progress.ExitUnclean, true},
		{"1 after draining is unclean", term(1, "Error", early), deletion, grace, progress.ExitUnclean, true},
		{"0 after draining", term(0, "Completed", early), deletion, grace, progress.ExitClean, true},
		{"143 at the deadline after draining is SIGKILL", term(143, "Error", deadline), deletion, grace, progress.ExitSIGKILL, true},
		{"137 before the deletion: a liveness kill", term(137, "Error", deletion.Add(-10*time.Second)), deletion, grace, progress.ExitBeforeDeletion, false},
		{"137 within the slack of the deletion is the rollout's", term(137, "Error", deletion.Add(-time.Second)), deletion, grace, progress.ExitSIGKILL, false},
		{"1 before the deletion", term(1, "Error", deletion.Add(-5*time.Second)), deletion, grace, progress.ExitBeforeDeletion, false},
		{"OOMKilled before the deletion stays OOMKilled", term(137, "OOMKilled", deletion.Add(-5*time.Second)), deletion, grace, progress.ExitOOMKilled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassifyExit(tc.term, tc.deletion, tc.grace, tc.drained); got != tc.want {
				t.Errorf("ClassifyExit(%+v, %s, %s) = %q, want %q", tc.term, tc.deletion.Format(time.RFC3339), tc.grace, got, tc.want)
			}
		})
	}
}

func TestExitClassRankOrdersBadness(t *testing.T) {
	order := []progress.ExitClass{progress.ExitClean, progress.ExitUnknown, progress.ExitUnclean, progress.ExitOOMKilled, progress.ExitSIGKILL}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() >= order[i].Rank() {
			t.Errorf("rank(%s)=%d should be below rank(%s)=%d", order[i-1], order[i-1].Rank(), order[i], order[i].Rank())
		}
	}
}

func termState(code int32, reason string, finished time.Time) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(finished)}
}
