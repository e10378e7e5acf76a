package state

import corev1 "k8s.io/api/core/v1"

// PodFailure is what went wrong with a pod's containers: restarts, or a start
// that failed. The guard breaches on them for the new pods of a rollout.
type PodFailure struct {
	Pod       string
	Container string
	Restarts  int32
	// ExitCode and Reason are of the last failed run (or the waiting reason of a
	// start that failed, such as ImagePullBackOff, with no exit code).
	ExitCode *int32
	Reason   string
}

// Count is how many failures the pod counts for: its restarts, or one for a
// start that failed without a restart yet.
func (f PodFailure) Count() int {
	if f.Restarts > 0 {
		return int(f.Restarts)
	}
	return 1
}

// failedStart lists the waiting reasons of a container that cannot start.
func failedStart(reason string) bool {
	switch reason {
	case "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "ErrImagePull",
		"ImagePullBackOff", "InvalidImageName", "RunContainerError", "PreStartHookError", "PostStartHookError":
		return true
	}
	return false
}

// podFailure reads a pod's worst container failure; nil when every container
// runs without restarts.
func podFailure(pod *corev1.Pod) *PodFailure {
	var worst *PodFailure
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		f := PodFailure{Pod: pod.Name, Container: cs.Name, Restarts: cs.RestartCount}
		failed := cs.RestartCount > 0
		if term := cs.State.Terminated; term != nil && term.ExitCode != 0 {
			f.ExitCode, f.Reason, failed = &term.ExitCode, term.Reason, true
		} else if last := cs.LastTerminationState.Terminated; last != nil && cs.RestartCount > 0 {
			f.ExitCode, f.Reason = &last.ExitCode, last.Reason
		}
		if w := cs.State.Waiting; w != nil && failedStart(w.Reason) {
			failed = true
			if f.Reason == "" {
				f.Reason = w.Reason
			}
		}
		if failed && (worst == nil || f.Count() > worst.Count()) {
			worst = &f
		}
	}
	return worst
}
