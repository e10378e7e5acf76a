package cli

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// A workload's guard sees the step probe's errors of its own window only.
func TestStepProbeWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	buckets := []traffic.ErrorBucket{
		{Start: t0.Add(1 * time.Second), Width: time.Second, Errors: 1}, // before the guard
		{Start: t0.Add(9 * time.Second), Width: time.Second, Errors: 2}, // overlaps its start
		{Start: t0.Add(15 * time.Second), Width: time.Second, Errors: 3},
		{Start: t0.Add(30 * time.Second), Width: time.Second, Errors: 4}, // after it ended
	}
	// The per-second series: one second before the window, two in it (one
	// overlapping its start), one after.
	var seconds []traffic.SecondStat
	for _, s := range []int{8, 9, 15, 30} {
		seconds = append(seconds, traffic.SecondStat{Start: t0.Add(time.Duration(s) * time.Second), Requests: s})
	}
	clk := clocktesting.NewFakeClock(t0.Add(9500 * time.Millisecond))
	p := &stepProbe{clock: clk, errorBuckets: func() []traffic.ErrorBucket { return buckets }, series: func() []traffic.SecondStat { return seconds }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	for p.window().IsZero() {
		time.Sleep(time.Millisecond) // Run marks the start on its goroutine
	}
	clk.SetTime(t0.Add(20 * time.Second))
	if got := p.ErrorBuckets(); len(got) != 2 || got[0].Errors != 2 || got[1].Errors != 3 {
		t.Errorf("while guarded: %+v, want the buckets of 2 and 3 errors", got)
	}
	cancel()
	<-done
	clk.SetTime(t0.Add(40 * time.Second))
	if got := p.ErrorBuckets(); len(got) != 2 {
		t.Errorf("after the guard: %+v, want its window's 2 buckets only", got)
	}
	if got := p.Series(); len(got) != 2 || got[0].Requests != 9 || got[1].Requests != 15 {
		t.Errorf("series %+v, want the seconds from 9 and 15 s only: the window's (a round's picture is scaled to its own traffic)", got)
	}
}
