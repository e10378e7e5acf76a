// Package traffic sends probe traffic (HTTP, HTTPS, gRPC health) through a
// workload's Services during a rollout and counts what fails, in bounded memory.
package traffic

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Probe error classes, stable keys of the report's errorsByClass.
const (
	ErrClassHTTP5xx         = "http-5xx"
	ErrClassRefused         = "connection-refused"
	ErrClassReset           = "connection-reset"
	ErrClassEOF             = "eof"
	ErrClassTimeout         = "timeout"
	ErrClassGRPCUnavailable = "grpc-unavailable"
	ErrClassGRPCDeadline    = "grpc-deadline-exceeded"
	ErrClassGRPCCancelled   = "grpc-cancelled"
	ErrClassGRPCNotServing  = "grpc-not-serving"
	ErrClassOther           = "other"
)

const (
	errorBucket             = 100 * time.Millisecond
	maxErrorBuckets         = 100000 // ~2.7 hours of 100 ms buckets with errors
	latencyBucketsPerDecade = 40
	latencyMinMicros        = 10.0
	latencyBuckets          = 7 * latencyBucketsPerDecade // 10 µs .. 100 s
	defaultProbeRate        = 20
	defaultProbeConcurrency = 4
	defaultProbeTimeout     = 2 * time.Second
	probeUserAgent          = "kubectl-safe-rollout-probe"
	grpcScheme              = "grpc"
	httpScheme, httpsScheme = "http", "https"
)

// Probe rates the prober accepts, requests per second.
const (
	MinProbeRate = 0.01
	MaxProbeRate = 100000.0
)

// ProbeOptions configure the probe traffic sent during a rollout.
type ProbeOptions struct {
	Targets []string
	// Rate is the total number of requests per second over all targets.
	Rate        float64
	Concurrency int
	Timeout     time.Duration
	// NewConnections dials per request instead of keeping connections alive.
	NewConnections bool
	// NotServingWindow is how long a gRPC health probe that is answered
	// NOT_SERVING keeps re-dialling for a SERVING answer, as a health-checking
	// client does (the drain delay); 0 counts NOT_SERVING as an error at once.
	NotServingWindow time.Duration
	// Insecure accepts any TLS certificate of an https target (self-signed).
	Insecure bool
	// IdentityHeader names the response header (for gRPC: the response header
	// metadata key, lower-cased) that says which pod served a request, e.g.
	// X-Served-By. With it, the prober sends every second request on a new
	// connection (unless NewConnections sends all of them so), so that each
	// pod's data-plane propagation gets samples about every 2×pods÷Rate seconds.
	IdentityHeader string
	// Streams is how many grpc.health.v1.Health/Watch streams to hold open
	// over the gRPC targets, each re-opened on a new connection when it ends
	// (--probe-streams); a stream that breaks while SERVING is an error.
	Streams int
	Clock   clock.WithTicker
}

// Prober sends steady probe traffic and counts what fails, in bounded memory.
type Prober struct {
	opts    ProbeOptions
	targets []probeTarget
	notify  chan struct{}

	mu           sync.Mutex
	requests     int
	skipped      int
	errors       int
	byClass      map[string]int
	latency      [latencyBuckets + 1]int
	errorBuckets map[int64]int
	series       series // per second, for the report's picture (series.go)

	// With an identity header: what each pod served, errors that carried no
	// identity (refused connections apart from the others), answers beyond
	// maxIdentities pods, and the request counters that alternate new and
	// kept-alive connections, one per target: with one shared counter and two
	// targets taken in turn, one target would only ever get new connections.
	servedBy           map[string]*podTraffic
	goneServedBy       map[string]*podTraffic // the last pod of each name that went (MarkGone)
	anonErrorBuckets   map[int64]int
	anonRefusedBuckets map[int64]int
	identityOverflow   int
	sentTo             map[probeTarget]int
	streams            StreamStats
}

type probeTarget interface {
	// do sends one request; each attempt may take up to timeout.
	do(ctx context.Context, timeout time.Duration) (errClass string)
	close()
	String() string
}

// withDefaults fills the options left unset.
func (o ProbeOptions) withDefaults() ProbeOptions {
	if o.Rate <= 0 {
		o.Rate = defaultProbeRate
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultProbeConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultProbeTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Validate checks the options without building anything (no connection is made).
func (o ProbeOptions) Validate() error {
	o = o.withDefaults()
	if o.Rate < MinProbeRate || o.Rate > MaxProbeRate {
		return fmt.Errorf("--probe-rate %g: must be between %g and %g requests per second", o.Rate, MinProbeRate, MaxProbeRate)
	}
	if len(o.Targets) == 0 {
		return errors.New("no probe targets")
	}
	for _, raw := range o.Targets {
		if _, err := parseTarget(raw); err != nil {
			return err
		}
	}
	if o.IdentityHeader != "" && !validHeaderName(o.IdentityHeader) {
		return fmt.Errorf("--probe-identity-header %q: not a header name such as X-Served-By", o.IdentityHeader)
	}
	return o.validateStreams()
}

// validHeaderName accepts an HTTP header name (an RFC 9110 token), which is
// also a valid gRPC metadata key once lower-cased, unless it ends in -bin.
func validHeaderName(name string) bool {
	if strings.HasSuffix(strings.ToLower(name), "-bin") {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("-_.", c):
		default:
			return false
		}
	}
	return name != ""
}

// NewProber validates the options and prepares the targets; nothing is sent before Run.
func NewProber(opts ProbeOptions) (*Prober, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	p := &Prober{opts: opts, notify: make(chan struct{}, 1), byClass: map[string]int{}, errorBuckets: map[int64]int{},
		servedBy: map[string]*podTraffic{}, goneServedBy: map[string]*podTraffic{}, anonErrorBuckets: map[int64]int{}, anonRefusedBuckets: map[int64]int{}, sentTo: map[probeTarget]int{}}
	for _, raw := range opts.Targets {
		t, err := newProbeTarget(raw, opts)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.targets = append(p.targets, t)
	}
	return p, nil
}

// parseTarget checks a --probe URL.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--probe %q: not a URL such as http://10.96.0.10/ or grpc://10.96.0.10:9090", raw)
	}
	switch u.Scheme {
	case httpScheme, httpsScheme:
	case grpcScheme:
		if u.Port() == "" {
			return nil, fmt.Errorf("--probe %q: grpc:// needs a port", raw)
		}
	default:
		return nil, fmt.Errorf("--probe %q: scheme must be http, https or grpc", raw)
	}
	return u, nil
}

func newProbeTarget(raw string, opts ProbeOptions) (probeTarget, error) {
	u, err := parseTarget(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme == grpcScheme {
		return newGRPCTarget(u, opts)
	}
	return newHTTPTarget(u, opts), nil
}

// Close releases the targets' connections of a Prober that will not Run.
func (p *Prober) Close() {
	for _, t := range p.targets {
		t.close()
	}
}

// Notify receives a signal after new errors were counted.
func (p *Prober) Notify() <-chan struct{} { return p.notify }

// Run sends requests at the configured rate until ctx is done. Requests that find
// every worker busy are counted as skipped rather than queued, so a slow target
// cannot build up an unbounded backlog.
func (p *Prober) Run(ctx context.Context) {
	jobs := make(chan probeTarget, p.opts.Concurrency)
	var wg sync.WaitGroup
	for range p.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				p.once(ctx, t)
			}
		}()
	}
	p.holdStreams(ctx, &wg)
	interval := time.Duration(float64(time.Second) / p.opts.Rate)
	ticker := p.opts.Clock.NewTicker(interval)
	next := 0
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C():
			t := p.targets[next%len(p.targets)]
			next++
			select {
			case jobs <- t:
			default:
				p.mu.Lock()
				p.skipped++
				p.mu.Unlock()
			}
		}
	}
	ticker.Stop()
	close(jobs)
	wg.Wait()
	for _, t := range p.targets {
		t.close()
	}
}

func (p *Prober) once(ctx context.Context, t probeTarget) {
	start := p.opts.Clock.Now()
	var o outcome
	if it, ok := t.(identifiedTarget); ok && p.opts.IdentityHeader != "" {
		p.mu.Lock()
		fresh := p.sentTo[t]%2 == 1
		p.sentTo[t]++
		p.mu.Unlock()
		o = it.doIdentified(ctx, p.opts.Timeout, p.opts.IdentityHeader, fresh)
	} else {
		o.class = t.do(ctx, p.opts.Timeout)
	}
	class := o.class
	if ctx.Err() != nil && class != "" {
		return // stopping: a request cut short by our own cancellation is not the app's error
	}
	elapsed := p.opts.Clock.Since(start)
	p.mu.Lock()
	p.requests++
	p.latency[latencyBucket(elapsed)]++
	p.series.add(start, elapsed, class != "")
	if class != "" {
		p.errors++
		p.byClass[class]++
		key := start.UnixNano() / int64(errorBucket)
		addBucket(p.errorBuckets, key)
		switch {
		case o.servedBy != "":
		case class == ErrClassRefused:
			addBucket(p.anonRefusedBuckets, key)
		default:
			addBucket(p.anonErrorBuckets, key)
		}
	}
	if o.servedBy != "" {
		p.recordServed(start, o)
	}
	p.mu.Unlock()
	if class != "" {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// ProbeReport is the probe traffic's summary in the rollout report.
type ProbeReport struct {
	Targets []string `json:"targets"`
	// IdentityHeader is --probe-identity-header; IdentifiedRequests the
	// answers that carried it.
	IdentityHeader     string `json:"identityHeader,omitempty"`
	IdentifiedRequests int    `json:"identifiedRequests,omitempty"`
	// Streams are the Watch streams of --probe-streams; nil without.
	Streams       *StreamStats   `json:"streams,omitempty"`
	Requests      int            `json:"requests"`
	Skipped       int            `json:"skipped,omitempty"`
	Errors        int            `json:"errors"`
	ErrorsByClass map[string]int `json:"errorsByClass"`
	LatencyMs     LatencyMs      `json:"latencyMs"`
}

// LatencyMs are latency percentiles in milliseconds (bucketed, ±3 %).
type LatencyMs struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Snapshot returns the counters so far.
func (p *Prober) Snapshot() ProbeReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := ProbeReport{Requests: p.requests, Skipped: p.skipped, Errors: p.errors, ErrorsByClass: map[string]int{}, IdentityHeader: p.opts.IdentityHeader}
	for _, pt := range p.servedBy {
		r.IdentifiedRequests += pt.requests
	}
	r.IdentifiedRequests += p.identityOverflow
	if p.opts.Streams > 0 {
		streams := p.streams
		r.Streams = &streams
	}
	for _, t := range p.targets {
		r.Targets = append(r.Targets, t.String())
	}
	for k, v := range p.byClass {
		r.ErrorsByClass[k] = v
	}
	r.LatencyMs = LatencyMs{P50: p.percentile(0.50), P95: p.percentile(0.95), P99: p.percentile(0.99)}
	return r
}

// ErrorBucket counts the errors of requests started in [Start, Start+Width).
type ErrorBucket struct {
	Start  time.Time
	Width  time.Duration
	Errors int
}

// addBucket counts an error in its bucket; past maxErrorBuckets buckets only
// the buckets already there still count.
func addBucket(buckets map[int64]int, key int64) {
	if _, ok := buckets[key]; ok || len(buckets) < maxErrorBuckets {
		buckets[key]++
	}
}

// ErrorBuckets lists the buckets that hold errors, oldest first.
func (p *Prober) ErrorBuckets() []ErrorBucket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bucketList(p.errorBuckets)
}

func bucketList(buckets map[int64]int) []ErrorBucket {
	out := make([]ErrorBucket, 0, len(buckets))
	for k, n := range buckets {
		out = append(out, ErrorBucket{Start: time.Unix(0, k*int64(errorBucket)), Width: errorBucket, Errors: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func (p *Prober) percentile(q float64) float64 { return percentileOf(p.latency[:], q) }

// percentileOf is the q-quantile of a latency histogram, in milliseconds.
func percentileOf(latency []int, q float64) float64 {
	total := 0
	for _, n := range latency {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(total)))
	seen := 0
	for i, n := range latency {
		seen += n
		if seen >= rank {
			return math.Round(bucketMiddleMicros(i)) / 1000 // µs -> ms
		}
	}
	return 0
}

// latencyBucket maps a duration to a log-scale bucket: memory stays fixed
// however many requests are made.
func latencyBucket(d time.Duration) int {
	us := float64(d.Microseconds())
	if us <= latencyMinMicros {
		return 0
	}
	i := int(math.Ceil(math.Log10(us/latencyMinMicros) * latencyBucketsPerDecade))
	return min(i, latencyBuckets)
}

// bucketMiddleMicros is a bucket's geometric middle: within ±3 % of any value in it.
func bucketMiddleMicros(i int) float64 {
	switch i {
	case 0:
		return latencyMinMicros
	case latencyBuckets: // everything slower lands here: say the cap
		return latencyMinMicros * math.Pow(10, float64(i)/latencyBucketsPerDecade)
	}
	return latencyMinMicros * math.Pow(10, (float64(i)-0.5)/latencyBucketsPerDecade)
}
