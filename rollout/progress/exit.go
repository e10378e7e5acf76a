package progress

// ExitClass says how a container of an old pod ended. New classes rank
// themselves in Rank; everything that consumes a class goes through it.
type ExitClass string

const (
	ExitClean ExitClass = "clean" // exit 0
	// ExitCleanSignal is a signal exit (128+n, e.g. 143 for a JVM or a Node app
	// with a handler) after the pod's endpoint stopped serving: a graceful exit.
	ExitCleanSignal ExitClass = "clean-signal-exit"
	ExitSIGKILL     ExitClass = "sigkill"            // exit 137 after the deletion, or any exit at the grace deadline
	ExitOOMKilled   ExitClass = "oom-killed"         // killed by the kernel's OOM killer
	ExitUnclean     ExitClass = "died-without-drain" // any other exit before the deadline
	ExitUnknown     ExitClass = "unknown"            // the pod vanished without a final status, or the kubelet lost the container (ContainerStatusUnknown)
	// ExitUnobserved: the pod went while the guard's watch was disconnected; its
	// exit was never seen, so nothing is claimed about it.
	ExitUnobserved ExitClass = "unobserved"
	// ExitBeforeDeletion is an exit that finished before the pod's deletion was
	// requested (a liveness kill, the app's own kill -9): not the rollout's doing.
	ExitBeforeDeletion ExitClass = "exited-before-deletion"
)

// Clean tells whether the class counts as a clean exit.
func (c ExitClass) Clean() bool { return c == ExitClean || c == ExitCleanSignal }

// Rank orders exit classes by how bad they are for a rollout (higher is worse).
func (c ExitClass) Rank() int {
	switch c {
	case ExitClean, ExitCleanSignal:
		return 0
	case ExitUnknown, ExitBeforeDeletion, ExitUnobserved:
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
