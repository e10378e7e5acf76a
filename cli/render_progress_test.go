package cli

import (
	"errors"
	"testing"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

func TestDescribeEvent(t *testing.T) {
	h := progress.Header{Workload: progress.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}}
	sts := progress.Header{Workload: progress.Workload{Kind: "StatefulSet", Namespace: "shop", Name: "db"}}
	tests := []struct {
		event progress.Event
		want  string
	}{
		{progress.WatchStarted{Header: h, Services: []string{"web", "web-canary"}}, "watching deployment shop/web: ReplicaSets, pods, Events, EndpointSlices of service web, web-canary"},
		{progress.WatchStarted{Header: h}, "watching deployment shop/web: ReplicaSets, pods, Events, EndpointSlices of no Service (nothing selects the pods)"},
		{progress.WatchRetrying{Header: h, Resource: "pods", Message: errors.New("connection refused").Error()},
			"warning: watch of pods failing: connection refused (retrying; what happens meanwhile is learnt when it resumes)"},
		{progress.WatchResumed{Header: h, Resource: "pods", Since: h.At.Add(-7500 * time.Millisecond)}, "watch of pods resumed after 7.5s"},
		{progress.WorkloadDeleted{Header: h}, "deployment shop/web deleted"},
		{progress.ServiceWatched{Header: h, Service: "web-canary"}, "service web-canary selects the pods: watching its EndpointSlices too"},
		{progress.NewRevision{Header: h, Revision: "4", Generation: 6}, "new revision 4 (generation 6) rolled out by someone else: not guarded"},
		{progress.NewRevision{Header: h, Revision: "4", Generation: 6, Followed: true}, "new revision 4 (generation 6) rolled out by someone else: following it (--follow)"},
		{progress.RestartRequested{Header: h, Generation: 2}, "restart requested (generation 2)"},
		{progress.StatusChanged{Header: h, Message: "1 of 2 new pods updated"}, "1 of 2 new pods updated"},
		{progress.ProbingTail{Header: h, Status: "2 new pods available, every old pod gone", Tail: 2 * time.Second}, "2 new pods available, every old pod gone; probing for 2s more"},
		{progress.QueryFailed{Header: h, Query: "up", Message: "timeout"}, "warning: up: timeout"},
		{progress.PodDeleted{Header: h, Pod: "web-1", Grace: 30 * time.Second}, "pod web-1: deletion requested (grace 30s)"},
		{progress.EndpointNotReady{Header: h, Pod: "web-1", After: 40 * time.Millisecond}, "pod web-1: endpoint not ready after 0.0s"},
		{progress.EndpointNotServing{Header: h, Pod: "web-1", After: 2 * time.Second}, "pod web-1: endpoint not serving after 2.0s"},
		{progress.EndpointRemoved{Header: h, Pod: "web-1", After: 4 * time.Second}, "pod web-1: endpoint removed after 4.0s"},
		{progress.ContainerExited{Header: h, Pod: "web-1", Container: "app", ExitCode: 137, Reason: "Error", After: 30 * time.Second, Class: progress.ExitSIGKILL}, "pod web-1: container app exited 137 (Error) after 30.0s: sigkill"},
		{progress.PodGone{Header: h, Pod: "web-1", After: 32 * time.Second}, "pod web-1: gone after 32.0s"},
		{progress.PodEventObserved{Header: h, Pod: "web-1", Reason: "Killing", Message: "Stopping container app"}, "pod web-1: event Killing: Stopping container app"},
		{progress.BreachDetected{Header: h, Budget: "sigkills", Message: "1 container SIGKILLed at the grace deadline (budget 0)"}, "budget breached: 1 container SIGKILLed at the grace deadline (budget 0)"},
		{progress.ActionTaken{Header: h, Action: progress.ActionPaused}, "paused deployment shop/web"},
		{progress.ActionTaken{Header: sts, Action: progress.ActionPaused}, "stopped the roll of statefulset shop/db"},
		{progress.ActionTaken{Header: sts, Action: progress.ActionRolledBack, Revision: "3"}, "rolled back statefulset shop/db to revision 3"},
		{progress.PodsForceDeleted{Header: sts, Pods: []string{"db-2", "db-1"}}, "forced rollback: deleted pods db-2, db-1 of the broken revision (not ready)"},
		{progress.WatchStarted{Header: sts, Services: []string{"db"}}, "watching statefulset shop/db: ControllerRevisions, pods, Events, EndpointSlices of service db"},
		{progress.ActionTaken{Header: h, Action: progress.ActionRolledBack, Revision: "1"}, "rolled back deployment shop/web to revision 1"},
	}
	for _, tc := range tests {
		if got := describeEvent(tc.event); got != tc.want {
			t.Errorf("describeEvent(%T) = %q, want %q", tc.event, got, tc.want)
		}
	}
}
