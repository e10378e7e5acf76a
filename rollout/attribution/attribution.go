// Package attribution blames probe errors on the pods that were terminating when
// the failed requests started. Pure: it works on time windows and counts.
package attribution

import "time"

// Tail extends a pod's window a little past its end: clients notice a closed
// connection only on their next request.
const Tail = time.Second

// ErrorBucket counts the errors of requests started in [Start, Start+Width).
type ErrorBucket struct {
	Start  time.Time
	Width  time.Duration
	Errors int
}

// Window is when one pod was terminating: from its deletion to its removal (or
// the end of the guard when it was still there).
type Window struct {
	Pod      string
	From, To time.Time
}

// Result is how the errors divide among the pods.
type Result struct {
	ByPod        map[string]int
	Unattributed int
}

// Attribute counts each bucket's errors against every pod whose window the
// bucket overlaps; a bucket that overlaps none is unattributed.
func Attribute(buckets []ErrorBucket, windows []Window) Result {
	r := Result{ByPod: map[string]int{}}
	for _, b := range buckets {
		blamed := false
		for _, w := range windows {
			if !b.Start.Add(b.Width).Before(w.From) && !b.Start.After(w.To.Add(Tail)) {
				r.ByPod[w.Pod] += b.Errors
				blamed = true
			}
		}
		if !blamed {
			r.Unattributed += b.Errors
		}
	}
	return r
}
