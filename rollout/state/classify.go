package state

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

// deadlineSlack absorbs the one-second precision of API timestamps.
const deadlineSlack = time.Second

// ClassifyExit classifies a terminated container. deletionRequested and grace
// come from the pod's deletionTimestamp and deletionGracePeriodSeconds; drained
// tells whether the pod had stopped serving (or never served) when the guard
// received the exit.
func ClassifyExit(term *corev1.ContainerStateTerminated, deletionRequested time.Time, grace time.Duration, drained bool) progress.ExitClass {
	if term == nil {
		return progress.ExitUnknown
	}
	finished := term.FinishedAt.Time
	atDeadline := !deletionRequested.IsZero() && !finished.IsZero() &&
		!finished.Before(deletionRequested.Add(grace-deadlineSlack))
	beforeDeletion := !deletionRequested.IsZero() && !finished.IsZero() &&
		finished.Before(deletionRequested.Add(-deadlineSlack))
	switch {
	case term.Reason == "OOMKilled":
		return progress.ExitOOMKilled
	case term.Reason == containerStatusUnknown && !atDeadline:
		// The kubelet lost the container (a pod deleted while its container
		// started, a runtime record gone) and wrote 137 as a placeholder: no
		// signal was observed, so none is claimed. At the grace deadline the
		// timing itself says SIGKILL.
		return progress.ExitUnknown
	case beforeDeletion:
		return progress.ExitBeforeDeletion
	case term.ExitCode == 137:
		return progress.ExitSIGKILL
	case term.ExitCode == 0:
		return progress.ExitClean
	case atDeadline:
		return progress.ExitSIGKILL
	case signalExit(term.ExitCode) && drained:
		return progress.ExitCleanSignal
	default: // 2 for a Go program that is PID 1, a signal exit before draining, any other failure
		return progress.ExitUnclean
	}
}

// containerStatusUnknown is the reason the kubelet gives, with exit code 137,
// to a container it could not locate when the pod was terminated or deleted.
const containerStatusUnknown = "ContainerStatusUnknown"

// signalExit tells whether a shell-style exit code says "killed by signal n"
// (128+n). 137 (SIGKILL) is classified before this.
func signalExit(code int32) bool { return code > 128 && code <= 128+64 }
