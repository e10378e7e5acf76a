package traffic

// Benchmarks of the prober's accounting (issue 12): what it records for every
// probe result (the request, its latency bucket, an error's class and 100 ms
// error bucket, all under the prober's mutex) and the summaries the guard reads
// (Snapshot with its p50/p95/p99, ErrorBuckets for the attribution). The
// request itself is a stub: only the accounting is measured.
// scripts/bench-go.sh runs them.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

// benchClock gives every request its start 50 ms after the previous one (a
// 20/s probe) and a latency from lat, in turn. Only Now and Since are used by
// the accounting; single goroutine.
type benchClock struct {
	clock.WithTicker
	now time.Time
	lat []time.Duration
	i   int
}

func (c *benchClock) Now() time.Time { c.now = c.now.Add(50 * time.Millisecond); return c.now }

func (c *benchClock) Since(time.Time) time.Duration {
	c.i++
	return c.lat[c.i%len(c.lat)]
}

// latencies are 4096 log-normal request latencies around 8 ms (p99 near 60 ms),
// always the same.
func latencies() []time.Duration {
	rng := rand.New(rand.NewPCG(12, 34))
	out := make([]time.Duration, 4096)
	for i := range out {
		out[i] = time.Duration(math.Exp(math.Log(8e6)+0.9*rng.NormFloat64())) * time.Nanosecond
	}
	return out
}

// benchProber is a Prober over one (never contacted) HTTP target, on a benchClock.
func benchProber(b *testing.B) (*Prober, *benchClock) {
	b.Helper()
	clk := &benchClock{now: probeBase.Add(-50 * time.Millisecond), lat: latencies()} // the first request starts at probeBase
	p, err := NewProber(ProbeOptions{Targets: []string{"http://127.0.0.1:1/"}, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p, clk
}

// BenchmarkProbeRecord records one probe result: a success, a 5xx error (a new
// 100 ms error bucket every other error), and a mix with 1 error in 20.
func BenchmarkProbeRecord(b *testing.B) {
	ok, fail := &stubTarget{}, &stubTarget{class: ErrClassHTTP5xx}
	cases := []struct {
		name    string
		errorIn int // one request in errorIn fails; 0: none
	}{
		{"success", 0},
		{"error", 1},
		{"errors-5pct", 20},
	}
	ctx := context.Background()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p, _ := benchProber(b)
			targets := []probeTarget{ok}
			if tc.errorIn > 0 {
				targets = make([]probeTarget, tc.errorIn)
				for i := range targets {
					targets[i] = ok
				}
				targets[0] = fail
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.once(ctx, targets[i%len(targets)])
				i++
			}
			snap := p.Snapshot()
			if snap.Requests != b.N || (tc.errorIn > 0) != (snap.Errors > 0) {
				b.Fatalf("snapshot %+v after %d requests", snap, b.N)
			}
		})
	}
}

// BenchmarkLatencyBucket maps one request's latency to its log-scale bucket.
func BenchmarkLatencyBucket(b *testing.B) {
	lat := latencies()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		latencyBucket(lat[i%len(lat)])
		i++
	}
}

// BenchmarkProbeSnapshot summarises a prober that recorded 100,000 requests
// (1 in 20 failed, in 3 classes): counters, classes and p50/p95/p99 over the
// 281 latency buckets. The guard asks after every watch change.
func BenchmarkProbeSnapshot(b *testing.B) {
	p, _ := benchProber(b)
	classes := []probeTarget{&stubTarget{class: ErrClassHTTP5xx}, &stubTarget{class: ErrClassReset}, &stubTarget{class: ErrClassRefused}}
	ok := &stubTarget{}
	for i := range 100000 {
		t := probeTarget(ok)
		if i%20 == 0 {
			t = classes[i/20%len(classes)]
		}
		p.once(context.Background(), t)
	}
	snap := p.Snapshot()
	if snap.Requests != 100000 || snap.Errors != 5000 || snap.LatencyMs.P50 < 6 || snap.LatencyMs.P50 > 10 || snap.LatencyMs.P99 < snap.LatencyMs.P95 {
		b.Fatalf("snapshot %+v", snap)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Snapshot()
	}
}

// BenchmarkProbeErrorBuckets lists the error buckets, oldest first, for the
// attribution when the guard finishes: 100 buckets, 10,000, and the 100,000 cap.
func BenchmarkProbeErrorBuckets(b *testing.B) {
	fail := &stubTarget{class: ErrClassRefused}
	for _, n := range []int{100, 10000, maxErrorBuckets} {
		b.Run(fmt.Sprintf("buckets=%d", n), func(b *testing.B) {
			p, _ := benchProber(b)
			for range 2 * n { // 50 ms apart: two requests per 100 ms bucket
				p.once(context.Background(), fail)
			}
			if got := len(p.ErrorBuckets()); got != n {
				b.Fatalf("%d buckets, want %d", got, n)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.ErrorBuckets()
			}
		})
	}
}
