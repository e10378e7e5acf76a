package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// describeEvent renders a guard's progress event as one line for people.
func describeEvent(e progress.Event) string {
	w := e.Source()
	after := func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
	switch e := e.(type) {
	case progress.WatchStarted:
		history := "ControllerRevisions" // a StatefulSet's or DaemonSet's revisions
		if w.Kind == workload.KindDeployment {
			history = "ReplicaSets"
		}
		return fmt.Sprintf("watching %s %s/%s: %s, pods, Events, EndpointSlices of %s",
			strings.ToLower(w.Kind), w.Namespace, w.Name, history, describeServices(e.Services))
	case progress.WatchRetrying:
		return fmt.Sprintf("warning: watch of %s failing: %s (retrying; what happens meanwhile is learnt when it resumes)", e.Resource, e.Message)
	case progress.WatchResumed:
		return fmt.Sprintf("watch of %s resumed after %s", e.Resource, after(e.At.Sub(e.Since)))
	case progress.ServiceWatched:
		return fmt.Sprintf("service %s selects the pods: watching its EndpointSlices too", e.Service)
	case progress.WorkloadDeleted:
		return fmt.Sprintf("%s %s/%s deleted", strings.ToLower(w.Kind), w.Namespace, w.Name)
	case progress.NewRevision:
		if e.Followed {
			return fmt.Sprintf("new revision %s (generation %d) rolled out by someone else: following it (--follow)", e.Revision, e.Generation)
		}
		return fmt.Sprintf("new revision %s (generation %d) rolled out by someone else: not guarded", e.Revision, e.Generation)
	case progress.RestartRequested:
		return fmt.Sprintf("restart requested (generation %d)", e.Generation)
	case progress.StatusChanged:
		return e.Message
	case progress.ProbingTail:
		return fmt.Sprintf("%s; probing for %s more", e.Status, e.Tail)
	case progress.QueryFailed:
		return fmt.Sprintf("warning: %s: %s", e.Query, e.Message)
	case progress.PodDeleted:
		return fmt.Sprintf("pod %s: deletion requested (grace %s)", e.Pod, e.Grace)
	case progress.EndpointNotReady:
		return fmt.Sprintf("pod %s: endpoint not ready after %s", e.Pod, after(e.After))
	case progress.EndpointNotServing:
		return fmt.Sprintf("pod %s: endpoint not serving after %s", e.Pod, after(e.After))
	case progress.EndpointRemoved:
		return fmt.Sprintf("pod %s: endpoint removed after %s", e.Pod, after(e.After))
	case progress.ContainerExited:
		line := fmt.Sprintf("pod %s: container %s exited %d (%s) after %s: %s", e.Pod, e.Container, e.ExitCode, e.Reason, after(e.After), e.Class)
		if e.Ignored {
			line += " (ignored)"
		}
		return line
	case progress.PodGone:
		return fmt.Sprintf("pod %s: gone after %s", e.Pod, after(e.After))
	case progress.PodUnobserved:
		return fmt.Sprintf("pod %s: gone while the watch was disconnected (exit not observed)", e.Pod)
	case progress.PodEventObserved:
		return fmt.Sprintf("pod %s: event %s: %s", e.Pod, e.Reason, e.Message)
	case progress.BreachDetected:
		return "budget breached: " + e.Message
	case progress.PodsForceDeleted:
		return fmt.Sprintf("forced rollback: deleted pods %s of the broken revision (not ready)", strings.Join(e.Pods, ", "))
	case progress.ActionTaken:
		kind := strings.ToLower(w.Kind)
		switch {
		case e.Action == progress.ActionRolledBack:
			return fmt.Sprintf("rolled back %s %s/%s to revision %s", kind, w.Namespace, w.Name, e.Revision)
		case e.Action == progress.ActionPaused && w.Kind != workload.KindDeployment:
			// Pause does not exist for the kind: the partition or OnDelete stopped it.
			return fmt.Sprintf("stopped the roll of %s %s/%s", kind, w.Namespace, w.Name)
		}
		return fmt.Sprintf("%s %s %s/%s", e.Action, kind, w.Namespace, w.Name)
	}
	return fmt.Sprintf("%T", e)
}

func describeServices(names []string) string {
	if len(names) == 0 {
		return "no Service (nothing selects the pods)"
	}
	return "service " + strings.Join(names, ", ")
}
