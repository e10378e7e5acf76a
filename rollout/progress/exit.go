package progress

// ExitClass says how a container of an old pod ended. New classes rank
// themselves in Rank; everything that consumes a class goes through it.
type ExitClass string

const (
	ExitClean     ExitClass = "clean"              // exit 0
	ExitSIGKILL   ExitClass = "sigkill"            // exit 137, or any exit at the grace deadline
	ExitOOMKilled ExitClass = "oom-killed"         // killed by the kernel's OOM killer
	ExitUnclean   ExitClass = "died-without-drain" // any other exit before the deadline
	ExitUnknown   ExitClass = "unknown"            // the pod vanished without a final status
)

// Rank orders exit classes by how bad they are for a rollout (higher is worse).
func (c ExitClass) Rank() int {
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
