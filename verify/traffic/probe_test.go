package traffic

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

// probeBase is a multiple of the 100 ms error bucket, so bucket edges are easy to name.
var probeBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// closeTargets releases what NewProber opened (gRPC client connections) when Run never ran.
func closeTargets(t *testing.T, p *Prober) {
	t.Helper()
	t.Cleanup(func() {
		for _, tg := range p.targets {
			tg.close()
		}
	})
}

func newTestProber(t *testing.T, opts ProbeOptions) *Prober {
	t.Helper()
	p, err := NewProber(opts)
	if err != nil {
		t.Fatalf("NewProber(%v): %v", opts.Targets, err)
	}
	closeTargets(t, p)
	return p
}

func TestNewProberValidation(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		wantErr string
	}{
		{"no targets", nil, "no probe targets"},
		{"empty list", []string{}, "no probe targets"},
		{"ftp scheme", []string{"ftp://10.0.0.1/"}, "scheme must be http, https or grpc"},
		{"tcp scheme", []string{"tcp://10.0.0.1:80"}, "scheme must be http, https or grpc"},
		{"grpc without port", []string{"grpc://10.0.0.1"}, "grpc:// needs a port"},
		{"grpc without port, with service", []string{"grpc://10.0.0.1/web"}, "grpc:// needs a port"},
		{"no scheme", []string{"10.0.0.1:8080"}, "not a URL"},
		{"no host", []string{"http:///healthz"}, "not a URL"},
		{"bare word", []string{"web"}, "not a URL"},
		{"one bad among good", []string{"http://10.0.0.1/", "ftp://10.0.0.2/"}, `"ftp://10.0.0.2/"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProber(ProbeOptions{Targets: tc.targets})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewProber(%q) = %v, %v; want an error containing %q", tc.targets, p, err, tc.wantErr)
			}
			if p != nil {
				t.Errorf("NewProber returned a prober with its error")
			}
		})
	}
}

func TestNewProberAcceptsTargets(t *testing.T) {
	targets := []string{"http://10.0.0.1/healthz", "https://10.0.0.1:8443/", "grpc://10.0.0.1:9090", "grpc://10.0.0.1:9090/web.Shop", "HTTP://10.0.0.2/"}
	p := newTestProber(t, ProbeOptions{Targets: targets})
	got := p.Snapshot().Targets
	want := []string{"http://10.0.0.1/healthz", "https://10.0.0.1:8443/", "grpc://10.0.0.1:9090", "grpc://10.0.0.1:9090/web.Shop", "http://10.0.0.2/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("targets = %q, want %q", got, want)
	}
	if g, ok := p.targets[3].(*grpcTarget); !ok || g.service != "web.Shop" || g.address != "10.0.0.1:9090" || g.conn == nil {
		t.Errorf("grpc target = %#v, want service web.Shop on 10.0.0.1:9090 with a shared connection", p.targets[3])
	}
	if g := p.targets[2].(*grpcTarget); g.service != "" {
		t.Errorf("grpc target without a path has service %q, want the server's overall health (\"\")", g.service)
	}
}

func TestNewProberDefaults(t *testing.T) {
	p := newTestProber(t, ProbeOptions{Targets: []string{"http://10.0.0.1/"}, Rate: -1, Concurrency: -3, Timeout: -time.Second})
	if p.opts.Rate != 20 || p.opts.Concurrency != 4 || p.opts.Timeout != 2*time.Second || p.opts.Clock == nil {
		t.Errorf("defaults = rate %v, concurrency %d, timeout %s, clock %v; want 20, 4, 2s and the real clock",
			p.opts.Rate, p.opts.Concurrency, p.opts.Timeout, p.opts.Clock)
	}
	p = newTestProber(t, ProbeOptions{Targets: []string{"http://10.0.0.1/"}, Rate: 7.5, Concurrency: 2, Timeout: time.Second, NewConnections: true})
	if p.opts.Rate != 7.5 || p.opts.Concurrency != 2 || p.opts.Timeout != time.Second {
		t.Errorf("explicit options were replaced: %+v", p.opts)
	}
	if tr := p.targets[0].(*httpTarget).client.Transport.(*http.Transport); !tr.DisableKeepAlives || tr.Proxy != nil {
		t.Errorf("NewConnections transport: keep-alives disabled %v, proxy set %v; want true, false", tr.DisableKeepAlives, tr.Proxy != nil)
	}
	snap := p.Snapshot()
	if snap.Requests != 0 || snap.Errors != 0 || snap.ErrorsByClass == nil || len(snap.ErrorsByClass) != 0 || snap.LatencyMs != (LatencyMs{}) {
		t.Errorf("fresh snapshot = %+v, want zeros and an empty (non-nil) class map", snap)
	}
}

// probeClass sends one request to target through a fresh Prober and returns its
// error class ("" for success), checking the counters agree.
func probeClass(t *testing.T, target string, opts ProbeOptions) string {
	t.Helper()
	opts.Targets = []string{target}
	p := newTestProber(t, opts)
	p.once(context.Background(), p.targets[0])
	snap := p.Snapshot()
	if snap.Requests != 1 {
		t.Fatalf("requests = %d after one request", snap.Requests)
	}
	switch {
	case snap.Errors == 0 && len(snap.ErrorsByClass) == 0:
		return ""
	case snap.Errors == 1 && len(snap.ErrorsByClass) == 1:
		for class, n := range snap.ErrorsByClass {
			if n != 1 {
				t.Fatalf("errorsByClass = %v", snap.ErrorsByClass)
			}
			return class
		}
	}
	t.Fatalf("one request counted as %d errors: %v", snap.Errors, snap.ErrorsByClass)
	return ""
}

func statusServer(t *testing.T, code int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != probeUserAgent {
			t.Errorf("User-Agent = %q, want %q", r.Header.Get("User-Agent"), probeUserAgent)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("body"))
	}))
	t.Cleanup(s.Close)
	return s
}

// closedPort returns a loopback address nothing listens on.
var closedPort = verifytest.ClosedPort

// hijackServer takes over each connection after reading the request and closes
// it without answering; linger0 makes the close a TCP reset.
func hijackServer(t *testing.T, linger0 bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok && linger0 {
			_ = tcp.SetLinger(0)
		}
		conn.Close()
	}))
	t.Cleanup(s.Close)
	return s
}

// blockingServer answers only once released or when the client gives up.
var blockingServer = verifytest.BlockingServer

func TestHTTPProbeClassification(t *testing.T) {
	tests := []struct {
		name   string
		target func(t *testing.T) string
		opts   ProbeOptions
		want   []string // any of these; "" is success
	}{
		{"200 is ok", func(t *testing.T) string { return statusServer(t, 200).URL + "/healthz" }, ProbeOptions{}, []string{""}},
		{"204 is ok", func(t *testing.T) string { return statusServer(t, 204).URL }, ProbeOptions{}, []string{""}},
		{"404 is not an error", func(t *testing.T) string { return statusServer(t, 404).URL }, ProbeOptions{}, []string{""}},
		{"429 is not an error", func(t *testing.T) string { return statusServer(t, 429).URL }, ProbeOptions{}, []string{""}},
		{"500 is http-5xx", func(t *testing.T) string { return statusServer(t, 500).URL }, ProbeOptions{}, []string{ErrClassHTTP5xx}},
		{"503 is http-5xx", func(t *testing.T) string { return statusServer(t, 503).URL }, ProbeOptions{}, []string{ErrClassHTTP5xx}},
		{"599 is http-5xx", func(t *testing.T) string { return statusServer(t, 599).URL }, ProbeOptions{}, []string{ErrClassHTTP5xx}},
		{"500 on a new connection", func(t *testing.T) string { return statusServer(t, 500).URL }, ProbeOptions{NewConnections: true}, []string{ErrClassHTTP5xx}},
		{"closed port is connection-refused", func(t *testing.T) string { return "http://" + closedPort(t) + "/" }, ProbeOptions{}, []string{ErrClassRefused}},
		{"closed without an answer", func(t *testing.T) string { return hijackServer(t, false).URL }, ProbeOptions{}, []string{ErrClassEOF, ErrClassReset}},
		{"reset without an answer", func(t *testing.T) string { return hijackServer(t, true).URL }, ProbeOptions{}, []string{ErrClassReset}},
		{"slower than the probe timeout", func(t *testing.T) string { return blockingServer(t).URL }, ProbeOptions{Timeout: 50 * time.Millisecond}, []string{ErrClassTimeout}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := probeClass(t, tc.target(t), tc.opts)
			for _, w := range tc.want {
				if got == w {
					return
				}
			}
			t.Errorf("class = %q, want one of %q", got, tc.want)
		})
	}
}

func TestHTTPProbeKeepAliveVersusNewConnections(t *testing.T) {
	for _, tc := range []struct {
		newConns bool
		want     int64
	}{{false, 1}, {true, 10}} {
		var dials atomic.Int64
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				dials.Add(1)
			}
		}
		s.Start()
		p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}, NewConnections: tc.newConns})
		for range 10 {
			p.once(context.Background(), p.targets[0])
		}
		if snap := p.Snapshot(); snap.Requests != 10 || snap.Errors != 0 {
			t.Errorf("NewConnections=%v: %d requests, %d errors (%v)", tc.newConns, snap.Requests, snap.Errors, snap.ErrorsByClass)
		}
		if got := dials.Load(); got != tc.want {
			t.Errorf("NewConnections=%v: the server saw %d connections for 10 sequential requests, want %d", tc.newConns, got, tc.want)
		}
		s.Close()
	}
}

// grpcHealth serves grpc.health.v1 on a loopback port.
type grpcHealth struct {
	addr   string
	server *grpc.Server
	health *health.Server
}

func startGRPCHealth(t *testing.T, impl healthpb.HealthServer) *grpcHealth {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcHealth{addr: l.Addr().String(), server: grpc.NewServer()}
	if impl == nil {
		g.health = health.NewServer() // "" is SERVING
		g.health.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_SERVING)
		g.health.SetServingStatus("web.Drained", healthpb.HealthCheckResponse_NOT_SERVING)
		impl = g.health
	}
	healthpb.RegisterHealthServer(g.server, impl)
	go func() { _ = g.server.Serve(l) }()
	t.Cleanup(g.server.Stop)
	return g
}

// hangingHealth never answers a Check before the client gives up.
type hangingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (hangingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGRPCProbeClassification(t *testing.T) {
	g := startGRPCHealth(t, nil)
	tests := []struct {
		name, target string
		newConns     bool
		want         string
	}{
		{"server SERVING", "grpc://" + g.addr, false, ""},
		{"service SERVING", "grpc://" + g.addr + "/web.Shop", false, ""},
		{"service SERVING, new connection per request", "grpc://" + g.addr + "/web.Shop", true, ""},
		{"service NOT_SERVING", "grpc://" + g.addr + "/web.Drained", false, ErrClassGRPCNotServing},
		{"service NOT_SERVING, new connection per request", "grpc://" + g.addr + "/web.Drained", true, ErrClassGRPCNotServing},
		// The health server answers NOT_FOUND for a service it does not know: an
		// error, in no dedicated class.
		{"unknown service", "grpc://" + g.addr + "/web.Nope", false, ErrClassOther},
		{"nothing listening", "grpc://" + closedPort(t), false, ErrClassGRPCUnavailable},
		{"nothing listening, new connection per request", "grpc://" + closedPort(t), true, ErrClassGRPCUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := probeClass(t, tc.target, ProbeOptions{Timeout: 5 * time.Second, NewConnections: tc.newConns}); got != tc.want {
				t.Errorf("class = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGRPCProbeServingStatusChanges(t *testing.T) {
	g := startGRPCHealth(t, nil)
	p := newTestProber(t, ProbeOptions{Targets: []string{"grpc://" + g.addr + "/web.Shop"}, Timeout: 5 * time.Second})
	tg := p.targets[0]
	ctx := context.Background()
	if got := tg.do(ctx, 5*time.Second); got != "" {
		t.Fatalf("SERVING: class %q", got)
	}
	g.health.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_NOT_SERVING)
	if got := tg.do(ctx, 5*time.Second); got != ErrClassGRPCNotServing {
		t.Errorf("NOT_SERVING: class %q, want %q", got, ErrClassGRPCNotServing)
	}
	g.health.Shutdown() // every service NOT_SERVING, as a draining server does
	g.health.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_SERVING)
	if got := tg.do(ctx, 5*time.Second); got != ErrClassGRPCNotServing {
		t.Errorf("after health Shutdown: class %q, want %q", got, ErrClassGRPCNotServing)
	}
	// The server goes away under the shared connection.
	g.server.Stop()
	if got := tg.do(ctx, 5*time.Second); got != ErrClassGRPCUnavailable {
		t.Errorf("server stopped: class %q, want %q", got, ErrClassGRPCUnavailable)
	}
}

// A health-checking client re-dials a NOT_SERVING server for the window: a
// drain that ends with SERVING somewhere within it is no error; a server that
// stays NOT_SERVING is.
func TestGRPCProbeNotServingWindow(t *testing.T) {
	g := startGRPCHealth(t, nil)
	g.health.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_NOT_SERVING)
	p := newTestProber(t, ProbeOptions{Targets: []string{"grpc://" + g.addr + "/web.Shop"}, NotServingWindow: 300 * time.Millisecond})
	if got := p.targets[0].do(context.Background(), time.Second); got != ErrClassGRPCNotServing {
		t.Errorf("NOT_SERVING through the whole window: class %q, want %q", got, ErrClassGRPCNotServing)
	}
	p = newTestProber(t, ProbeOptions{Targets: []string{"grpc://" + g.addr + "/web.Shop"}, NotServingWindow: 5 * time.Second})
	go func() {
		time.Sleep(250 * time.Millisecond) // the re-dial reaches a serving pod
		g.health.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_SERVING)
	}()
	start := time.Now()
	if got := p.targets[0].do(context.Background(), time.Second); got != "" {
		t.Errorf("SERVING within the window: class %q, want no error", got)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("answered after %s, before the server served again", took)
	}
}

func TestGRPCProbeDeadlineAndCancel(t *testing.T) {
	g := startGRPCHealth(t, hangingHealth{})
	if got := probeClass(t, "grpc://"+g.addr, ProbeOptions{Timeout: 100 * time.Millisecond}); got != ErrClassGRPCDeadline {
		t.Errorf("hanging Check: class %q, want %q", got, ErrClassGRPCDeadline)
	}
	p := newTestProber(t, ProbeOptions{Targets: []string{"grpc://" + g.addr}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if got := p.targets[0].do(ctx, 5*time.Second); got != ErrClassGRPCCancelled {
		t.Errorf("cancelled Check: class %q, want %q", got, ErrClassGRPCCancelled)
	}
}

// stubTarget answers every request with a fixed class.
type stubTarget struct {
	class string
	calls atomic.Int64
}

func (s *stubTarget) do(context.Context, time.Duration) string { s.calls.Add(1); return s.class }
func (s *stubTarget) close()                                   {}
func (s *stubTarget) String() string                           { return "stub://" + s.class }

// fakeClockProber is a Prober whose requests start at the fake clock's time.
func fakeClockProber(t *testing.T) (*Prober, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(probeBase)
	return newTestProber(t, ProbeOptions{Targets: []string{"http://127.0.0.1:1/"}, Clock: clk}), clk
}

func TestProbeErrorBuckets(t *testing.T) {
	p, clk := fakeClockProber(t)
	fail, ok := &stubTarget{class: ErrClassRefused}, &stubTarget{}
	at := func(offset time.Duration, tg probeTarget) {
		clk.SetTime(probeBase.Add(offset))
		p.once(context.Background(), tg)
	}
	at(ms(10), fail)
	at(ms(10), fail)
	at(ms(99), fail)
	at(ms(50), ok) // successes leave no bucket
	at(ms(100), fail)
	at(ms(250), fail)
	at(ms(450), ok)
	at(ms(1000), fail)
	at(ms(1099), fail)

	snap := p.Snapshot()
	if snap.Requests != 9 || snap.Errors != 7 || snap.ErrorsByClass[ErrClassRefused] != 7 || len(snap.ErrorsByClass) != 1 {
		t.Errorf("snapshot = %d requests, %d errors, %v; want 9, 7, {connection-refused: 7}", snap.Requests, snap.Errors, snap.ErrorsByClass)
	}

	want := []ErrorBucket{
		{Start: probeBase, Width: ms(100), Errors: 3},
		{Start: probeBase.Add(ms(100)), Width: ms(100), Errors: 1},
		{Start: probeBase.Add(ms(200)), Width: ms(100), Errors: 1},
		{Start: probeBase.Add(ms(1000)), Width: ms(100), Errors: 2},
	}
	buckets := p.ErrorBuckets()
	if len(buckets) != len(want) {
		t.Fatalf("ErrorBuckets = %v, want %v", buckets, want)
	}
	sum := 0
	for i, w := range want {
		if !buckets[i].Start.Equal(w.Start) || buckets[i].Width != w.Width || buckets[i].Errors != w.Errors {
			t.Errorf("ErrorBuckets[%d] = %+v, want %+v", i, buckets[i], w)
		}
		sum += buckets[i].Errors
	}
	// The sum over the buckets is every error while the bucket cap is not reached.
	if sum != snap.Errors {
		t.Errorf("errors over ErrorBuckets = %d, want %d", sum, snap.Errors)
	}
}

func TestProbeNotify(t *testing.T) {
	p, _ := fakeClockProber(t)
	p.once(context.Background(), &stubTarget{})
	select {
	case <-p.Notify():
		t.Fatal("a success notified")
	default:
	}
	for range 3 { // the signal does not block or queue up
		p.once(context.Background(), &stubTarget{class: ErrClassEOF})
	}
	select {
	case <-p.Notify():
	default:
		t.Fatal("no notification after an error")
	}
	select {
	case <-p.Notify():
		t.Fatal("notifications queued up")
	default:
	}
}

func TestProbeCancelledRequestNotCounted(t *testing.T) {
	p, _ := fakeClockProber(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.once(ctx, &stubTarget{class: ErrClassTimeout})
	if snap := p.Snapshot(); snap.Requests != 0 || snap.Errors != 0 || len(p.ErrorBuckets()) != 0 {
		t.Errorf("a request failed by our own cancellation was counted: %+v", snap)
	}
	p.once(ctx, &stubTarget{}) // a success still counts
	if snap := p.Snapshot(); snap.Requests != 1 || snap.Errors != 0 {
		t.Errorf("after a success while stopping: %+v", snap)
	}
}

func TestProbeErrorBucketsBounded(t *testing.T) {
	p, clk := fakeClockProber(t)
	fail := &stubTarget{class: ErrClassReset}
	ctx := context.Background()
	const extra = 500
	for i := range maxErrorBuckets + extra {
		clk.SetTime(probeBase.Add(time.Duration(i) * errorBucket))
		p.once(ctx, fail)
	}
	if n := len(p.errorBuckets); n != maxErrorBuckets {
		t.Fatalf("%d error buckets after %d distinct ones, want the cap %d", n, maxErrorBuckets+extra, maxErrorBuckets)
	}
	snap := p.Snapshot()
	if snap.Errors != maxErrorBuckets+extra || snap.Requests != maxErrorBuckets+extra || snap.ErrorsByClass[ErrClassReset] != maxErrorBuckets+extra {
		t.Errorf("counters = %+v, want every request and error counted past the bucket cap", snap)
	}
	// A bucket that exists still counts; a new one past the cap is dropped.
	clk.SetTime(probeBase)
	p.once(ctx, fail)
	if got := p.errorBuckets[probeBase.UnixNano()/int64(errorBucket)]; got != 2 {
		t.Errorf("existing bucket after the cap = %d, want 2", got)
	}
	past := probeBase.Add(time.Duration(maxErrorBuckets+extra+10) * errorBucket)
	clk.SetTime(past)
	p.once(ctx, fail)
	if got := p.errorBuckets[past.UnixNano()/int64(errorBucket)]; got != 0 || len(p.errorBuckets) != maxErrorBuckets {
		t.Errorf("new bucket past the cap = %d (%d buckets), want it dropped", got, len(p.errorBuckets))
	}
	if got := len(p.ErrorBuckets()); got != maxErrorBuckets {
		t.Errorf("ErrorBuckets lists %d buckets, want %d", got, maxErrorBuckets)
	}
}

func TestLatencyBucketMonotonic(t *testing.T) {
	prev := -1
	for d := time.Duration(0); d <= 200*time.Second; d = d*21/20 + time.Microsecond {
		b := latencyBucket(d)
		if b < prev {
			t.Fatalf("latencyBucket(%s) = %d, below %d for a shorter duration", d, b, prev)
		}
		if b < 0 || b > latencyBuckets {
			t.Fatalf("latencyBucket(%s) = %d, outside 0..%d", d, b, latencyBuckets)
		}
		prev = b
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{-time.Second, 0}, {0, 0}, {10 * time.Microsecond, 0}, {100 * time.Microsecond, latencyBucketsPerDecade}, {100 * time.Second, latencyBuckets}, {time.Hour, latencyBuckets}} {
		if got := latencyBucket(tc.d); got != tc.want {
			t.Errorf("latencyBucket(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
	for i := 1; i <= latencyBuckets; i++ {
		if bucketMiddleMicros(i) <= bucketMiddleMicros(i-1) {
			t.Fatalf("bucketMiddleMicros not increasing at %d", i)
		}
	}
}

// The bucket's geometric middle, which percentile reports, is within ±3 % of
// every duration in the bucket (the last bucket, which also holds everything
// slower, reports its 100 s cap).
func TestLatencyBucketBounds(t *testing.T) {
	for d := 11 * time.Microsecond; d <= 94*time.Second; d = d*1003/1000 + time.Microsecond {
		us := float64(d.Microseconds())
		mid := bucketMiddleMicros(latencyBucket(d))
		if mid < us*0.97 || mid > us*1.03 {
			t.Fatalf("latency %s: bucket middle %.1f µs, want within 3 %% of %.1f", d, mid, us)
		}
	}
}

// ProbeReport documents its percentiles as "bucketed, ±3 %": percentile reports
// the bucket's geometric middle (it once reported the upper edge, 5.9 % high).
func TestLatencyPercentileWithinThreePercent(t *testing.T) {
	for d := time.Millisecond; d <= 10*time.Second; d = d * 1007 / 1000 {
		p := &Prober{}
		p.latency[latencyBucket(d)]++
		got, want := p.percentile(0.5), float64(d.Microseconds())/1000
		if got < want*0.97 || got > want*1.03 {
			t.Fatalf("latency %s reported as %.2f ms, more than 3 %% off", d, got)
		}
	}
}

// Run derives its ticker interval as 1s/rate: above 1e9/s it would be 0, below
// ~1.1e-10/s the conversion would overflow to a negative duration, and NewTicker
// would panic inside the guard's probe goroutine. NewProber rejects or clamps
// such rates.
func TestProbeExtremeRates(t *testing.T) {
	for _, rate := range []float64{2e9, 1e-11} {
		p, err := NewProber(ProbeOptions{Targets: []string{"http://" + closedPort(t) + "/"}, Rate: rate})
		if err != nil {
			continue // rejected: fine
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("rate %g: Run panicked: %v", rate, r)
				}
			}()
			p.Run(runFor(t, 20*time.Millisecond))
		}()
	}
}

func TestPercentile(t *testing.T) {
	p := &Prober{}
	if got := p.percentile(0.5); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
	for i := 1; i <= 100; i++ {
		p.latency[latencyBucket(time.Duration(i)*time.Millisecond)]++
	}
	within := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.97 || got > want*1.03 {
			t.Errorf("%s = %v ms, want %v ms (bucketed: within 3 %%)", name, got, want)
		}
	}
	p50, p95, p99 := p.percentile(0.50), p.percentile(0.95), p.percentile(0.99)
	within("p50", p50, 50)
	within("p95", p95, 95)
	within("p99", p99, 99)
	if !(p50 <= p95 && p95 <= p99 && p99 <= p.percentile(1)) {
		t.Errorf("percentiles not monotonic: p50 %v p95 %v p99 %v p100 %v", p50, p95, p99, p.percentile(1))
	}
	within("p100", p.percentile(1), 100)

	// A single slow outlier moves p99 but not p50.
	q := &Prober{}
	for range 99 {
		q.latency[latencyBucket(2*time.Millisecond)]++
	}
	q.latency[latencyBucket(3*time.Second)]++
	within("p50 with outlier", q.percentile(0.5), 2)
	within("p99 with outlier", q.percentile(0.99), 2)
	within("p100 with outlier", q.percentile(1), 3000)

	// Anything beyond 100 s lands in the last bucket.
	r := &Prober{}
	r.latency[latencyBucket(time.Hour)]++
	if got := r.percentile(0.5); got != 100000 {
		t.Errorf("an hour-long request reported as %v ms, want the 100 s cap", got)
	}
}

// runFor is a context cancelled after d, as the guard stops its probe: a
// cancellation, not a deadline (a deadline would travel with gRPC requests).
func runFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(d, cancel)
	t.Cleanup(func() { timer.Stop(); cancel() })
	return ctx
}

// runUntil runs p until its counters satisfy enough (polled), or fails after a
// generous deadline: no assertion depends on how fast the machine is.
func runUntil(t *testing.T, p *Prober, what string, enough func(ProbeReport) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.After(20 * time.Second)
	for !enough(p.Snapshot()) {
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("probe never reached %s: %+v", what, p.Snapshot())
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestProbeRunHTTP(t *testing.T) {
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(s.Close)
	p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}, Rate: 200, Concurrency: 2, Timeout: 5 * time.Second})
	runUntil(t, p, "4 requests, some failed, some not", func(r ProbeReport) bool { return r.Requests >= 4 && r.Errors > 0 && r.Errors < r.Requests })

	snap := p.Snapshot()
	if snap.Requests < 4 || snap.Errors == 0 || snap.Errors >= snap.Requests {
		t.Fatalf("after 200 ms at 200/s against a server failing every other request: %+v", snap)
	}
	if len(snap.ErrorsByClass) != 1 || snap.ErrorsByClass[ErrClassHTTP5xx] != snap.Errors {
		t.Errorf("errorsByClass = %v, want only %s", snap.ErrorsByClass, ErrClassHTTP5xx)
	}
	if int64(snap.Requests) > hits.Load() {
		t.Errorf("%d requests counted, the server saw %d", snap.Requests, hits.Load())
	}
	if snap.LatencyMs.P50 <= 0 || snap.LatencyMs.P50 > snap.LatencyMs.P95 || snap.LatencyMs.P95 > snap.LatencyMs.P99 {
		t.Errorf("latency = %+v", snap.LatencyMs)
	}
	sum := 0
	for _, b := range p.ErrorBuckets() {
		sum += b.Errors
	}
	if sum != snap.Errors {
		t.Errorf("errors over ErrorBuckets = %d, want %d", sum, snap.Errors)
	}
	select {
	case <-p.Notify():
	default:
		t.Error("errors were counted without a notification")
	}
}

func TestProbeRunRoundRobin(t *testing.T) {
	var a, b atomic.Int64
	sa := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { a.Add(1) }))
	sb := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { b.Add(1) }))
	t.Cleanup(sa.Close)
	t.Cleanup(sb.Close)
	p := newTestProber(t, ProbeOptions{Targets: []string{sa.URL, sb.URL}, Rate: 200, Concurrency: 4})
	runUntil(t, p, "4 requests", func(r ProbeReport) bool { return r.Requests >= 4 })
	if a.Load() == 0 || b.Load() == 0 {
		t.Errorf("targets got %d and %d requests, want both probed", a.Load(), b.Load())
	}
	if snap := p.Snapshot(); snap.Errors != 0 || snap.Requests == 0 {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestProbeRunSkipsWhenBusy(t *testing.T) {
	s := blockingServer(t)
	p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}, Rate: 200, Concurrency: 1, Timeout: time.Minute})
	// One request blocks the only worker, one waits for it: the next ticks are skipped.
	runUntil(t, p, "a skipped request", func(r ProbeReport) bool { return r.Skipped > 0 })
	snap := p.Snapshot()
	// The in-flight request was cut short by Run's own end: neither an error nor a request.
	if snap.Errors != 0 || snap.Requests != 0 {
		t.Errorf("requests cut short by stopping were counted: %+v", snap)
	}
}

func TestProbeRunGRPC(t *testing.T) {
	g := startGRPCHealth(t, nil)
	var reports []ProbeReport
	for _, newConns := range []bool{false, true} {
		p, err := NewProber(ProbeOptions{Targets: []string{"grpc://" + g.addr + "/web.Shop", "grpc://" + g.addr + "/web.Drained"}, Rate: 200, Concurrency: 2, Timeout: 5 * time.Second, NewConnections: newConns})
		if err != nil {
			t.Fatal(err)
		}
		// Run closes the targets.
		runUntil(t, p, "4 requests, some failed, some not", func(r ProbeReport) bool { return r.Requests >= 4 && r.Errors > 0 && r.Errors < r.Requests })
		reports = append(reports, p.Snapshot())
	}
	for i, snap := range reports {
		if snap.Requests < 4 || snap.Errors == 0 || snap.Errors >= snap.Requests {
			t.Errorf("run %d: %+v, want requests with NOT_SERVING errors for one of two targets", i, snap)
		}
		if len(snap.ErrorsByClass) != 1 || snap.ErrorsByClass[ErrClassGRPCNotServing] != snap.Errors {
			t.Errorf("run %d: errorsByClass = %v, want only %s", i, snap.ErrorsByClass, ErrClassGRPCNotServing)
		}
	}
}

// The probe follows redirects on its target's host only, and trusts a
// self-signed certificate only when told to.
func TestHTTPProbeRedirectsAndTLS(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	var mux http.ServeMux
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/", http.StatusFound) })
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	s := httptest.NewServer(&mux)
	t.Cleanup(s.Close)
	if got := probeClass(t, s.URL+"/away", ProbeOptions{Timeout: 5 * time.Second}); got != "" || elsewhere.Load() != 0 {
		t.Errorf("redirect to another host: class %q, %d requests there; want the 302 as the answer and none sent", got, elsewhere.Load())
	}
	if got := probeClass(t, s.URL+"/here", ProbeOptions{Timeout: 5 * time.Second}); got != "" {
		t.Errorf("redirect on the same host: class %q", got)
	}

	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(tlsServer.Close)
	if got := probeClass(t, tlsServer.URL, ProbeOptions{Timeout: 5 * time.Second}); got == "" {
		t.Error("a self-signed certificate was trusted without --probe-insecure")
	}
	if got := probeClass(t, tlsServer.URL, ProbeOptions{Timeout: 5 * time.Second, Insecure: true}); got != "" {
		t.Errorf("with Insecure: class %q, want success", got)
	}
}
