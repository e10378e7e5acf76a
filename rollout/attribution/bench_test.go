package attribution

// Benchmarks of the attribution of probe errors to terminating pods (issue 12):
// done once, when the guard finishes, over every error bucket of the probe
// (100 ms wide, 100,000 at most) and every old pod's window. scripts/bench-go.sh
// runs them.

import (
	"fmt"
	"testing"
	"time"
)

// rolloutWindows are the terminating windows of pods old pods replaced in waves
// of 25, one wave every 10 s, each pod terminating for 12 s.
func rolloutWindows(t0 time.Time, pods int) []Window {
	out := make([]Window, pods)
	for i := range out {
		from := t0.Add(time.Duration(i/25) * 10 * time.Second).Add(time.Duration(i%25) * 40 * time.Millisecond)
		out[i] = Window{Pod: fmt.Sprintf("web-aaa-%05d", i), From: from, To: from.Add(12 * time.Second)}
	}
	return out
}

// errorBuckets are n buckets with errors, one every `every` buckets of 100 ms from t0.
func errorBuckets(t0 time.Time, n, every int) []ErrorBucket {
	out := make([]ErrorBucket, n)
	for i := range out {
		out[i] = ErrorBucket{Start: t0.Add(time.Duration(i*every) * 100 * time.Millisecond), Width: 100 * time.Millisecond, Errors: 1 + i%3}
	}
	return out
}

// BenchmarkAttribute attributes the probe's error buckets to the old pods'
// windows. Attribute compares every bucket with every window: ns/pair is the
// cost of one comparison. The sizes: a small rollout with a few errors; a
// 500-replica rollout (~200 s) with errors in 1 bucket of 10 over its whole
// length; and the worst case the prober allows, its 100,000-bucket cap against
// 500 windows.
func BenchmarkAttribute(b *testing.B) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name           string
		buckets, every int
		pods           int
	}{
		{"buckets=20/pods=10", 20, 3, 10},
		{"buckets=200/pods=500", 200, 10, 500},
		{"buckets=100000/pods=500", 100000, 1, 500},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			buckets, windows := errorBuckets(t0, tc.buckets, tc.every), rolloutWindows(t0, tc.pods)
			if r := Attribute(buckets, windows); len(r.ByPod) == 0 {
				b.Fatalf("nothing attributed: %+v", r)
			}
			b.ReportAllocs()
			for b.Loop() {
				Attribute(buckets, windows)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.buckets*tc.pods), "ns/pair")
		})
	}
}
