package cli

import (
	"context"
	"sync"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// roundProbe is a rehearsal's one probe as one round's guard sees it: the
// traffic runs through every round; the round's window starts where the
// previous round's ended (from) and ends when its guard stops probing, so
// the windows split the traffic. Its counts are the window's alone, so each
// round's limits apply to its own traffic, as a restart's do; the errors the
// guard attributes to its pods are those of its guard's window (stepProbe).
type roundProbe struct {
	*stepProbe
	from traffic.Mark

	mu sync.Mutex
	to *traffic.Mark
}

// Run marks the guard's window and, when it ends, the round's.
func (p *roundProbe) Run(ctx context.Context) {
	p.stepProbe.Run(ctx)
	m := p.Mark()
	p.mu.Lock()
	p.to = &m
	p.mu.Unlock()
}

// Snapshot is the round's traffic so far, or all of it once the round ended.
func (p *roundProbe) Snapshot() traffic.ProbeReport {
	p.mu.Lock()
	to := p.to
	p.mu.Unlock()
	if to != nil {
		return p.Between(p.from, *to)
	}
	return p.Since(p.from)
}

// end is where the round's window ended: where the next one starts.
func (p *roundProbe) end() traffic.Mark {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.to == nil { // the guard stopped before probing
		return p.Mark()
	}
	return *p.to
}
