package traffic

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// slowTarget takes its time on the fake clock, then answers with class.
type slowTarget struct {
	clk   *clocktesting.FakeClock
	took  time.Duration
	class string
}

func (s *slowTarget) do(context.Context, time.Duration) string { s.clk.Step(s.took); return s.class }
func (s *slowTarget) close()                                   {}
func (s *slowTarget) String() string                           { return "slow://" + s.class }

// Windows of one prober split its traffic: counts and classes add up, and
// each window's latency percentiles are its own requests'.
func TestProberSinceMark(t *testing.T) {
	p, clk := fakeClockProber(t)
	start := p.Mark()
	for range 10 {
		p.once(context.Background(), &slowTarget{clk: clk, took: 2 * time.Millisecond})
	}
	first := p.Mark()
	for range 3 {
		p.once(context.Background(), &slowTarget{clk: clk, took: 400 * time.Millisecond, class: ErrClassReset})
	}
	p.once(context.Background(), &slowTarget{clk: clk, took: 400 * time.Millisecond})

	fast, slow, all := p.Between(start, first), p.Since(first), p.Snapshot()
	if fast.Requests != 10 || fast.Errors != 0 || len(fast.ErrorsByClass) != 0 {
		t.Errorf("first window = %d requests, %d errors %v; want 10, 0, none", fast.Requests, fast.Errors, fast.ErrorsByClass)
	}
	if slow.Requests != 4 || slow.Errors != 3 || slow.ErrorsByClass[ErrClassReset] != 3 || len(slow.ErrorsByClass) != 1 {
		t.Errorf("second window = %d requests, %d errors %v; want 4, 3, {connection-reset: 3}", slow.Requests, slow.Errors, slow.ErrorsByClass)
	}
	if fast.Requests+slow.Requests != all.Requests || fast.Errors+slow.Errors != all.Errors {
		t.Errorf("windows %d+%d requests, %d+%d errors; the whole traffic %d, %d", fast.Requests, slow.Requests, fast.Errors, slow.Errors, all.Requests, all.Errors)
	}
	within := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.97 || got > want*1.03 {
			t.Errorf("%s = %v ms, want %v ms (bucketed: within 3 %%)", name, got, want)
		}
	}
	within("first window p99", fast.LatencyMs.P99, 2)
	within("second window p50", slow.LatencyMs.P50, 400)
	within("whole p50", all.LatencyMs.P50, 2)
	if empty := p.Since(p.Mark()); empty.Requests != 0 || empty.LatencyMs != (LatencyMs{}) {
		t.Errorf("a window with no traffic = %+v, want nothing", empty)
	}
}
