package policy

// Benchmarks of the breach limits (issue 12): what the guard's loop evaluates
// after every watch change. scripts/bench-go.sh runs them.

import (
	"fmt"
	"testing"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
)

// BenchmarkEvaluate checks the flags' default limits (with a probe and a
// Prometheus query) against observations: within every limit (the common case,
// after each change), breaching every budget at once (each breach formatted),
// and breaching every budget already acted on (skipped).
func BenchmarkEvaluate(b *testing.B) {
	limits := defaultBreachLimits()
	limits.MaxNewPodRestarts, limits.StrictGraceUsage, limits.MaxUncleanExits, limits.MaxProbeErrorRate = 0, true, 0, 0.01
	zero, high := 0.0, 3.5
	calm := Observations{GraceUsage: 0.4, GraceUsagePod: "web-aaa-00001", ProbeRunning: true, ProbeRequests: 12000, QueryValue: &zero, QueryName: "errors"}
	bad := Observations{SIGKILLs: 2, LastSIGKILLPod: "web-aaa-00003", UncleanExits: 1, LastUncleanPod: "web-aaa-00007",
		NewPodRestarts: 3, NewPodFailure: "pod web-bbb-00001 container app exited 1 (Error), 3 restarts", NewPodFailed: "web-bbb-00001",
		GraceUsage: 0.97, GraceUsagePod: "web-aaa-00003", ProbeRunning: true, ProbeRequests: 12000, ProbeErrors: 240, QueryValue: &high, QueryName: "errors"}
	all := map[string]bool{}
	for _, br := range limits.Evaluate(bad, nil, rollouttest.T0) {
		all[br.Budget] = true
	}
	cases := []struct {
		name    string
		obs     Observations
		already map[string]bool
		want    int
	}{
		{"within-limits", calm, map[string]bool{}, 0},
		{"every-budget-breached", bad, map[string]bool{}, 7},
		{"every-budget-already-breached", bad, all, 0},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if got := limits.Evaluate(tc.obs, tc.already, rollouttest.T0); len(got) != tc.want {
				b.Fatalf("%d breaches %+v, want %d", len(got), got, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				limits.Evaluate(tc.obs, tc.already, rollouttest.T0)
			}
		})
	}
}

// drainedTimelines are n old pods that drained and exited: every 50th SIGKILLed
// at the grace deadline, every 20th died without draining, the rest clean.
func drainedTimelines(n int) []*state.PodTimeline {
	out := make([]*state.PodTimeline, n)
	for i := range out {
		deleted := rollouttest.At(float64(i) * 0.2)
		exit, after := progress.ExitClean, 8*time.Second+time.Duration(i%7)*time.Second
		switch {
		case i%50 == 0:
			exit, after = progress.ExitSIGKILL, 30*time.Second
		case i%20 == 0:
			exit, after = progress.ExitUnclean, time.Second
		}
		t := &state.PodTimeline{Name: fmt.Sprintf("web-aaa-%05d", i), UID: fmt.Sprintf("uid-%05d", i),
			DeletionObserved: deleted, DeletionRequested: deleted, Grace: 30 * time.Second,
			NotReady: deleted.Add(50 * time.Millisecond), NotServing: deleted.Add(time.Second),
			ContainerExited: deleted.Add(after), LastExit: deleted.Add(after), Gone: deleted.Add(after + 200*time.Millisecond),
			Containers: []state.ContainerExit{{Name: "app", Reason: "Completed", FinishedAt: deleted.Add(after), Exit: exit}}}
		out[i] = t
	}
	return out
}

// BenchmarkObserveDrains gathers the limits' observations from the old pods'
// timelines (SIGKILLs, unclean exits, largest grace usage), as the guard does
// after every change: 25, 500 and 2000 old pods.
func BenchmarkObserveDrains(b *testing.B) {
	for _, n := range []int{25, 500, 2000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			timelines := drainedTimelines(n)
			if obs := ObserveDrains(timelines); obs.SIGKILLs != (n+49)/50 || obs.GraceUsage != 1 {
				b.Fatalf("observations %+v, want %d SIGKILLs and a grace usage of 1", obs, (n+49)/50)
			}
			b.ReportAllocs()
			for b.Loop() {
				ObserveDrains(timelines)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pod")
		})
	}
}
