package rollout

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ExitClass says how a container of an old pod ended.
type ExitClass string

const (
	ExitClean     ExitClass = "clean"              // exit 0
	ExitSIGKILL   ExitClass = "sigkill"            // killed at the grace deadline
	ExitOOMKilled ExitClass = "oom-killed"         // killed by the kernel's OOM killer
	ExitUnclean   ExitClass = "died-without-drain" // died on SIGTERM without draining
	ExitUnknown   ExitClass = "unknown"            // the pod vanished without a final status
)

// deadlineSlack absorbs the one-second precision of API timestamps.
const deadlineSlack = time.Second

// ClassifyExit classifies a terminated container. deletionRequested and grace
// come from the pod's deletionTimestamp and deletionGracePeriodSeconds.
func ClassifyExit(term *corev1.ContainerStateTerminated, deletionRequested time.Time, grace time.Duration) ExitClass {
	if term == nil {
		return ExitUnknown
	}
	atDeadline := !deletionRequested.IsZero() && !term.FinishedAt.IsZero() &&
		!term.FinishedAt.Time.Before(deletionRequested.Add(grace-deadlineSlack))
	switch {
	case term.Reason == "OOMKilled":
		return ExitOOMKilled
	case term.ExitCode == 137:
		return ExitSIGKILL
	case term.ExitCode == 0:
		return ExitClean
	case atDeadline:
		return ExitSIGKILL
	default: // 143, 2 for a Go program that is PID 1, or any other early failure
		return ExitUnclean
	}
}

// rank orders exit classes by how bad they are for a rollout.
func (c ExitClass) rank() int {
	switch c {
	case ExitClean:
		return 0
	case ExitUnknown:
		return 1
	case ExitUnclean:
		return 2
	case ExitOOMKilled:
		return 3
	case ExitSIGKILL:
		return 4
	}
	return 1
}
