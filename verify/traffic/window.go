package traffic

// Mark is the prober's counters at one moment. Between reports the traffic
// between two marks, Since the traffic after one: one prober's windows (a rehearsal's rounds) partition its traffic,
// latency percentiles included, which cumulative snapshots cannot give.
type Mark struct {
	requests, skipped, errors int
	byClass                   map[string]int
	latency                   [latencyBuckets + 1]int
}

// Mark returns the counters now.
func (p *Prober) Mark() Mark {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := Mark{requests: p.requests, skipped: p.skipped, errors: p.errors, byClass: make(map[string]int, len(p.byClass)), latency: p.latency}
	for k, v := range p.byClass {
		m.byClass[k] = v
	}
	return m
}

// Since reports the traffic counted after m, as Snapshot reports all of it.
func (p *Prober) Since(m Mark) ProbeReport { return p.Between(m, p.Mark()) }

// Between reports the traffic counted after m and up to now (a later mark).
func (p *Prober) Between(m, now Mark) ProbeReport {
	r := ProbeReport{
		Requests: now.requests - m.requests, Skipped: now.skipped - m.skipped, Errors: now.errors - m.errors,
		ErrorsByClass: map[string]int{},
	}
	for _, t := range p.targets {
		r.Targets = append(r.Targets, t.String())
	}
	for k, v := range now.byClass {
		if d := v - m.byClass[k]; d > 0 {
			r.ErrorsByClass[k] = d
		}
	}
	var window [latencyBuckets + 1]int
	for i := range window {
		window[i] = now.latency[i] - m.latency[i]
	}
	r.LatencyMs = LatencyMs{P50: percentileOf(window[:], 0.50), P95: percentileOf(window[:], 0.95), P99: percentileOf(window[:], 0.99)}
	return r
}
