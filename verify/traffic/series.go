package traffic

import (
	"sort"
	"time"
)

// maxSeriesSeconds bounds the per-second series: six hours of probing; the
// seconds after that are not drawn (the totals still count them).
const maxSeriesSeconds = 6 * 60 * 60

// SecondStat is the probe traffic of one second: requests started in it,
// how many failed and their latency p95 (bucketed, ±3 %).
type SecondStat struct {
	Start        time.Time `json:"start"`
	Requests     int       `json:"requests"`
	Errors       int       `json:"errors"`
	LatencyP95Ms float64   `json:"latencyP95Ms"`
}

// series counts requests per second for the report's picture. It is guarded by
// the Prober's mutex. Each second keeps a sparse latency histogram: probe
// latencies fall into a handful of the log-scale buckets.
type series struct {
	seconds map[int64]*secondCounts
}

type secondCounts struct {
	requests, errors int
	latency          map[int]int
}

// add counts one request started at start.
func (s *series) add(start time.Time, elapsed time.Duration, failed bool) {
	key := start.Unix()
	c, ok := s.seconds[key]
	if !ok {
		if len(s.seconds) >= maxSeriesSeconds {
			return
		}
		if s.seconds == nil {
			s.seconds = map[int64]*secondCounts{}
		}
		c = &secondCounts{latency: map[int]int{}}
		s.seconds[key] = c
	}
	c.requests++
	if failed {
		c.errors++
	}
	c.latency[latencyBucket(elapsed)]++
}

func (c *secondCounts) p95() float64 {
	buckets := make([]int, 0, len(c.latency))
	for b := range c.latency {
		buckets = append(buckets, b)
	}
	sort.Ints(buckets)
	rank := (c.requests*95 + 99) / 100 // ceil(0.95 * requests)
	seen := 0
	for _, b := range buckets {
		if seen += c.latency[b]; seen >= rank {
			return float64(int64(bucketMiddleMicros(b)+0.5)) / 1000
		}
	}
	return 0
}

// Series lists the probe traffic per second, oldest first, from the first
// second with a request to the last; seconds without any are left out.
func (p *Prober) Series() []SecondStat {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]SecondStat, 0, len(p.series.seconds))
	for key, c := range p.series.seconds {
		out = append(out, SecondStat{Start: time.Unix(key, 0).UTC(), Requests: c.requests, Errors: c.errors, LatencyP95Ms: c.p95()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
