package state

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

// deadlineSlack absorbs the one-second precision of API timestamps.
const deadlineSlack = time.Second

// ClassifyExit classifies a terminated container. deletionRequested and grace
// come from the pod's deletionTimestamp and deletionGracePeriodSeconds.
func ClassifyExit(term *corev1.ContainerStateTerminated, deletionRequested time.Time, grace time.Duration) progress.ExitClass {
	if term == nil {
		return progress.ExitUnknown
	}
	atDeadline := !deletionRequested.IsZero() && !term.FinishedAt.IsZero() &&
		!term.FinishedAt.Time.Before(deletionRequested.Add(grace-deadlineSlack))
	switch {
	case term.Reason == "OOMKilled":
		return progress.ExitOOMKilled
	case term.ExitCode == 137:
		return progress.ExitSIGKILL
	case term.ExitCode == 0:
		return progress.ExitClean
	case atDeadline:
		return progress.ExitSIGKILL
	default: // 143, 2 for a Go program that is PID 1, or any other early failure
		return progress.ExitUnclean
	}
}
