package traffic

import (
	"context"
	"sort"
	"time"
)

// Which pod served each probe request, from a response header the app sets
// (--probe-identity-header, e.g. X-Served-By). Memory stays bounded: a few
// counters and timestamps per pod, never one entry per request.

// maxIdentities caps the pods tracked by name; answers from further pods are
// counted in the report's overflow figure only.
const maxIdentities = 10000

// outcome is one probe request's result.
type outcome struct {
	class    string // "" when it succeeded
	servedBy string // the identity header's value; "" when absent
	newConn  bool   // sent on a connection dialled for it
}

// identifiedTarget is a target that reads the identity header and can send a
// request on a new connection of its own.
type identifiedTarget interface {
	probeTarget
	doIdentified(ctx context.Context, timeout time.Duration, header string, fresh bool) outcome
}

// podTraffic is what one pod served, as its identity header says.
type podTraffic struct {
	requests, failed, newConns int
	last                       time.Time
	// Set by MarkNotReady and MarkNotServing: the guard's observation of the
	// pod's endpoint. Requests are compared with them as they arrive.
	notReady, notServing time.Time
	newAfterNotReady     int
	lastNewAfterNotReady time.Time
	late, lateFailed     int
	streams              StreamStats
}

// recordServed counts a request that carried an identity. Called under p.mu.
func (p *Prober) recordServed(start time.Time, o outcome) {
	pt := p.podLocked(o.servedBy)
	if pt == nil {
		p.identityOverflow++
		return
	}
	failed := o.class != ""
	pt.requests++
	if failed {
		pt.failed++
	}
	if o.newConn {
		pt.newConns++
	}
	if start.After(pt.last) {
		pt.last = start
	}
	if o.newConn && !pt.notReady.IsZero() && !start.Before(pt.notReady) {
		pt.newAfterNotReady++
		if start.After(pt.lastNewAfterNotReady) {
			pt.lastNewAfterNotReady = start
		}
	}
	if !pt.notServing.IsZero() && !start.Before(pt.notServing) {
		pt.late++
		if failed {
			pt.lateFailed++
		}
	}
}

// podLocked returns the pod's counters, creating them while under the cap.
func (p *Prober) podLocked(pod string) *podTraffic {
	if pt, ok := p.servedBy[pod]; ok {
		return pt
	}
	if len(p.servedBy) >= maxIdentities {
		return nil
	}
	pt := &podTraffic{}
	p.servedBy[pod] = pt
	return pt
}

// MarkGone tells the prober that the pod went: a pod of the same name that
// answers later is another one (a StatefulSet's replacement is web-0 again),
// whose answers must not count as the old pod's late requests and samples.
func (p *Prober) MarkGone(pod string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.servedBy[pod]
	if !ok {
		return
	}
	delete(p.servedBy, pod)
	if _, kept := p.goneServedBy[pod]; kept || len(p.goneServedBy) < maxIdentities {
		p.goneServedBy[pod] = pt
	}
}

// MarkNotReady tells the prober that the pod's endpoint went not ready at at:
// from then on its requests on new connections are data-plane samples.
func (p *Prober) MarkNotReady(pod string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt := p.podLocked(pod); pt != nil && pt.notReady.IsZero() {
		pt.notReady = at
	}
}

// MarkNotServing tells the prober that the pod's endpoint went not serving at
// at: from then on every request it serves is a late request.
func (p *Prober) MarkNotServing(pod string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt := p.podLocked(pod); pt != nil && pt.notServing.IsZero() {
		pt.notServing = at
	}
}

// PodServed is what one pod served during the probe, by its identity header.
type PodServed struct {
	Pod            string
	Requests       int
	Failed         int
	NewConnections int
	// SamplesAfterNotReady counts its requests on new connections that
	// started after its endpoint went not ready (MarkNotReady).
	SamplesAfterNotReady int
	// LastNewAfterNotReady is the start of the last of them (zero: none).
	LastNewAfterNotReady time.Time
	// Late counts the requests it served that started after its endpoint went
	// not serving (MarkNotServing); LateFailed those answered with an error.
	Late, LateFailed int
	// Streams are the Watch streams it served (--probe-streams).
	Streams StreamStats
}

// Served lists what each pod served, by name; nil without an identity header.
// Of two pods of one name, the one the guard marked (its endpoint went not
// ready or not serving) is the old one and is listed; else the one that went.
func (p *Prober) Served() []PodServed {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.IdentityHeader == "" {
		return nil
	}
	pods := map[string]*podTraffic{}
	for name, pt := range p.goneServedBy {
		pods[name] = pt
	}
	for name, pt := range p.servedBy {
		if _, gone := pods[name]; !gone || !pt.notReady.IsZero() || !pt.notServing.IsZero() {
			pods[name] = pt
		}
	}
	out := make([]PodServed, 0, len(pods))
	for name, pt := range pods {
		out = append(out, PodServed{
			Pod: name, Requests: pt.requests, Failed: pt.failed, NewConnections: pt.newConns,
			SamplesAfterNotReady: pt.newAfterNotReady, LastNewAfterNotReady: pt.lastNewAfterNotReady,
			Late: pt.late, LateFailed: pt.lateFailed, Streams: pt.streams,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

// AnonymousErrorBuckets are the error buckets of the failed requests that
// carried no identity, which only a time window can blame on a pod: refused
// connections, and the others (reset, timed out, ...). Refused connections are
// kept apart because each is evidence in itself: it reached a pod where
// nothing listened any more. Without an identity header every error is in other.
func (p *Prober) AnonymousErrorBuckets() (refused, other []ErrorBucket) {
	if p.opts.IdentityHeader == "" {
		return nil, p.ErrorBuckets()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return bucketList(p.anonRefusedBuckets), bucketList(p.anonErrorBuckets)
}
