package traffic

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	clocktesting "k8s.io/utils/clock/testing"
)

// servingAs is an HTTP server answering as the pod its name says, 500 when told.
type servingAs struct {
	mu     sync.Mutex
	pod    string
	status int
}

func (s *servingAs) set(pod string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pod, s.status = pod, status
}

func (s *servingAs) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	pod, status := s.pod, s.status
	s.mu.Unlock()
	if pod != "" {
		w.Header().Set("X-Served-By", pod)
	}
	w.WriteHeader(status)
}

// Each identified answer is counted for its pod: new connections after the
// pod's endpoint went not ready are data-plane samples (the last one's start
// is kept), answers after it went not serving are late requests.
func TestProbeIdentityHTTP(t *testing.T) {
	app := &servingAs{pod: "web-a", status: 200}
	var dials atomic.Int64
	s := httptest.NewUnstartedServer(app)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			dials.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	clk := clocktesting.NewFakeClock(probeBase)
	p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}, IdentityHeader: "x-served-by", Clock: clk})
	at := func(offset time.Duration) {
		clk.SetTime(probeBase.Add(offset))
		p.once(context.Background(), p.targets[0])
	}

	for i := range 4 { // before the drain: 2 kept-alive, 2 new
		at(ms(100 * i))
	}
	p.MarkNotReady("web-a", probeBase.Add(ms(1000)))
	at(ms(1100)) // kept alive: not a sample
	at(ms(1200)) // new: sample
	at(ms(1300))
	at(ms(1400)) // new: sample, the last
	p.MarkNotServing("web-a", probeBase.Add(ms(1500)))
	app.set("web-a", 500)
	at(ms(1600)) // late, failed, kept alive
	app.set("", 0)
	s.CloseClientConnections()
	s.Close()
	at(ms(1800)) // refused: no identity, blamed by time window only

	served := p.Served()
	if len(served) != 1 {
		t.Fatalf("Served() = %+v, want web-a only", served)
	}
	got := served[0]
	want := PodServed{Pod: "web-a", Requests: 9, Failed: 1, NewConnections: 5, SamplesAfterNotReady: 2,
		LastNewAfterNotReady: probeBase.Add(ms(1400)), Late: 1, LateFailed: 1}
	// The kept-alive connection's first request is on a new connection too.
	if got.Pod != want.Pod || got.Requests != want.Requests || got.Failed != want.Failed || got.SamplesAfterNotReady != want.SamplesAfterNotReady ||
		!got.LastNewAfterNotReady.Equal(want.LastNewAfterNotReady) || got.Late != want.Late || got.LateFailed != want.LateFailed {
		t.Errorf("Served() = %+v,\n want %+v", got, want)
	}
	if got.NewConnections < 4 || got.NewConnections > 5 {
		t.Errorf("new connections = %d, want every second request on a new one (4) plus the first kept-alive one", got.NewConnections)
	}
	snap := p.Snapshot()
	if snap.Requests != 10 || snap.Errors != 2 || snap.IdentifiedRequests != 9 || snap.IdentityHeader != "x-served-by" {
		t.Errorf("snapshot %+v, want 10 requests, 2 errors, 9 identified", snap)
	}
	if refused, other := p.AnonymousErrorBuckets(); len(refused) != 1 || refused[0].Errors != 1 || !refused[0].Start.Equal(probeBase.Add(ms(1800))) || len(other) != 0 {
		t.Errorf("anonymous error buckets = refused %+v, other %+v; want the refused request at +1.8s only, among the refused", refused, other)
	}
	if all := p.ErrorBuckets(); len(all) != 2 {
		t.Errorf("error buckets = %+v, want both errors", all)
	}
}

// Without an identity header nothing is recorded per pod, and every error is anonymous.
func TestProbeWithoutIdentity(t *testing.T) {
	app := &servingAs{pod: "web-a", status: 500}
	s := httptest.NewServer(app)
	t.Cleanup(s.Close)
	p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}})
	p.MarkNotServing("web-a", time.Time{})
	p.once(context.Background(), p.targets[0])
	if served := p.Served(); served != nil {
		t.Errorf("Served() = %+v, want nil", served)
	}
	if refused, other := p.AnonymousErrorBuckets(); len(refused) != 0 || len(other) != 1 {
		t.Errorf("anonymous error buckets = refused %+v, other %+v; want the 500 among the others", refused, other)
	}
}

// gRPC answers carry the identity in their header metadata.
func TestProbeIdentityGRPC(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcHealth{addr: l.Addr().String(), server: grpc.NewServer(grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", "grpc-pod-1"))
			return h(ctx, req)
		}))}
	t.Cleanup(g.server.Stop)
	healthpb.RegisterHealthServer(g.server, health.NewServer())
	go func() { _ = g.server.Serve(l) }()
	p := newTestProber(t, ProbeOptions{Targets: []string{"grpc://" + g.addr}, IdentityHeader: "X-Served-By"})
	p.MarkNotReady("grpc-pod-1", time.Now().Add(-time.Hour))
	for range 4 {
		p.once(context.Background(), p.targets[0])
	}
	served := p.Served()
	if len(served) != 1 || served[0].Pod != "grpc-pod-1" || served[0].Requests != 4 || served[0].SamplesAfterNotReady != 2 {
		t.Errorf("Served() = %+v, want grpc-pod-1 with 4 requests, 2 of them on new connections", served)
	}
}

// The pods tracked by name are capped; answers from more pods are counted only.
func TestProbeIdentityBounded(t *testing.T) {
	p := newTestProber(t, ProbeOptions{Targets: []string{"http://127.0.0.1:1/"}, IdentityHeader: "X-Served-By"})
	p.mu.Lock()
	for i := range maxIdentities + 5 {
		p.recordServed(probeBase, outcome{servedBy: "pod-" + string(rune('a'+i%26)) + time.Duration(i).String()})
	}
	n, overflow := len(p.servedBy), p.identityOverflow
	p.mu.Unlock()
	if n != maxIdentities || overflow != 5 {
		t.Errorf("%d pods tracked, %d answers in overflow; want %d, 5", n, overflow, maxIdentities)
	}
}

// A StatefulSet's replacement has the old pod's name: once the old pod went,
// the new one's answers are neither the old one's late requests nor its
// data-plane samples; when the guard marks the new one in turn (a
// rehearsal's next round), it is the one listed.
func TestProbeIdentitySameNameAfterGone(t *testing.T) {
	app := &servingAs{pod: "web-0", status: 200}
	s := httptest.NewServer(app)
	t.Cleanup(s.Close)
	clk := clocktesting.NewFakeClock(probeBase)
	p := newTestProber(t, ProbeOptions{Targets: []string{s.URL}, IdentityHeader: "x-served-by", Clock: clk})
	at := func(offset time.Duration) {
		clk.SetTime(probeBase.Add(offset))
		p.once(context.Background(), p.targets[0])
	}
	at(ms(100))
	p.MarkNotReady("web-0", probeBase.Add(ms(1000)))
	p.MarkNotServing("web-0", probeBase.Add(ms(1500)))
	at(ms(1600)) // late
	p.MarkGone("web-0")
	for i := range 6 { // the new web-0
		at(ms(5000 + 100*i))
	}
	served := p.Served()
	if len(served) != 1 || served[0].Requests != 2 || served[0].Late != 1 {
		t.Fatalf("Served() = %+v, want the old web-0 only: 2 requests, 1 late", served)
	}
	p.MarkNotReady("web-0", probeBase.Add(ms(9000))) // the next round deletes the new web-0
	at(ms(9100))
	if served := p.Served(); len(served) != 1 || served[0].Requests != 7 || served[0].Late != 0 {
		t.Errorf("Served() = %+v, want the new web-0, marked in its turn: 7 requests, none late", served)
	}
}

// With two targets taken in turn, each alternates new and kept-alive
// connections on its own: both give data-plane samples.
func TestProbeIdentityAlternatesPerTarget(t *testing.T) {
	var p *Prober
	var urls []string
	dials := map[string]*atomic.Int64{}
	for _, pod := range []string{"web-a", "web-b"} {
		n := &atomic.Int64{}
		dials[pod] = n
		s := httptest.NewUnstartedServer(&servingAs{pod: pod, status: 200})
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				n.Add(1)
			}
		}
		s.Start()
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	p = newTestProber(t, ProbeOptions{Targets: urls, IdentityHeader: "x-served-by"})
	for i := range 8 {
		p.once(context.Background(), p.targets[i%2])
	}
	for _, s := range p.Served() {
		if s.NewConnections < 2 || s.NewConnections > 3 {
			t.Errorf("%s: %d of %d requests on new connections, want every second one (2, or 3 with the first kept-alive one)", s.Pod, s.NewConnections, s.Requests)
		}
		if d := dials[s.Pod].Load(); d < 2 {
			t.Errorf("%s: dialled %d times, want at least 2", s.Pod, d)
		}
	}
}
