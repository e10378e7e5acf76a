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
	// errorBuckets are the step probe's; nil: the Prober's.
	errorBuckets func() []traffic.ErrorBucket

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
	p.mu.Lock()
	from, to := p.from, p.to
	p.mu.Unlock()
	if to.IsZero() {
		to = p.clock.Now()
	}
	all := p.errorBuckets
	if all == nil {
		all = p.Prober.ErrorBuckets
	}
	var out []traffic.ErrorBucket
	for _, b := range all() {
		if b.Start.Add(b.Width).After(from) && b.Start.Before(to) {
			out = append(out, b)
		}
	}
	return out
}

// window is when the guard's window started; zero before Run.
func (p *stepProbe) window() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.from
}
