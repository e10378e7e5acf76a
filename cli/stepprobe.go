package cli

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// stepProbe is a release step's one probe as one workload's guard sees it.
// The traffic runs for the whole step, so Run only marks the guard's window;
// the counts are the step's (one budget for the step: errors during an
// earlier workload's rollout count against the next one's too); the errors
// the guard attributes to its pods are those of its own window.
type stepProbe struct {
	*traffic.Prober
	clock clock.Clock
	// errorBuckets and series are the step probe's; nil: the Prober's.
	errorBuckets func() []traffic.ErrorBucket
	series       func() []traffic.SecondStat

	mu       sync.Mutex
	from, to time.Time
}

// Run marks the guard's window: from its start to ctx's end.
func (p *stepProbe) Run(ctx context.Context) {
	p.mu.Lock()
	p.from = p.clock.Now()
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.to = p.clock.Now()
	p.mu.Unlock()
}

// ErrorBuckets are the step probe's error buckets that overlap the window.
func (p *stepProbe) ErrorBuckets() []traffic.ErrorBucket {
	all := p.errorBuckets
	if all == nil {
		all = p.Prober.ErrorBuckets
	}
	return within(p, all(), func(b traffic.ErrorBucket) (time.Time, time.Duration) { return b.Start, b.Width })
}

// Series are the seconds of traffic that overlap the window: the picture of
// one workload's (or one round's) rollout, scaled to its own traffic.
func (p *stepProbe) Series() []traffic.SecondStat {
	all := p.series
	if all == nil {
		all = p.Prober.Series
	}
	return within(p, all(), func(s traffic.SecondStat) (time.Time, time.Duration) { return s.Start, time.Second })
}

// within keeps the items whose span overlaps the window.
func within[T any](p *stepProbe, items []T, span func(T) (start time.Time, width time.Duration)) []T {
	from, to := p.bounds()
	var out []T
	for _, it := range items {
		if start, width := span(it); start.Add(width).After(from) && start.Before(to) {
			out = append(out, it)
		}
	}
	return out
}

// bounds are the guard's window; it ends now while the guard runs.
func (p *stepProbe) bounds() (from, to time.Time) {
	p.mu.Lock()
	from, to = p.from, p.to
	p.mu.Unlock()
	if to.IsZero() {
		to = p.clock.Now()
	}
	return from, to
}

// window is when the guard's window started; zero before Run.
func (p *stepProbe) window() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.from
}
