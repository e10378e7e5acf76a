package traffic

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// watchServer is a gRPC health server naming itself in x-served-by.
func watchServer(t *testing.T, pod string) (addr string, hs *health.Server, srv *grpc.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = grpc.NewServer(grpc.StreamInterceptor(func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		_ = ss.SetHeader(metadata.Pairs("x-served-by", pod))
		return h(s, ss)
	}))
	hs = health.NewServer()
	hs.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String(), hs, srv
}

// runStreams runs a prober holding 2 streams until cond holds on its snapshot.
func runStreams(t *testing.T, p *Prober, what string, cond func(ProbeReport) bool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond(p.Snapshot()) {
			return stop
		}
	}
	stop()
	t.Fatalf("timed out waiting for %s: %+v", what, p.Snapshot().Streams)
	return nil
}

// A server that announces its drain (NOT_SERVING) ends its streams cleanly;
// they are opened again. One that dies with the streams open ends them
// abruptly: probe errors, blamed on the pod that served them.
func TestProbeStreams(t *testing.T) {
	addr, hs, srv := watchServer(t, "web-a")
	p, err := NewProber(ProbeOptions{Targets: []string{"grpc://" + addr + "/web.Shop"}, Rate: 5, Streams: 2, IdentityHeader: "X-Served-By"})
	if err != nil {
		t.Fatal(err)
	}
	stop := runStreams(t, p, "2 streams open", func(r ProbeReport) bool { return r.Streams.Opened >= 2 })
	stop()
	if s := p.Snapshot().Streams; s.EndedAbrupt != 0 || s.EndedClean != 0 {
		t.Errorf("streams ended by the prober's own stop were counted: %+v", s)
	}

	p, err = NewProber(ProbeOptions{Targets: []string{"grpc://" + addr + "/web.Shop"}, Rate: 5, Streams: 2, IdentityHeader: "X-Served-By"})
	if err != nil {
		t.Fatal(err)
	}
	stop = runStreams(t, p, "2 streams open", func(r ProbeReport) bool { return r.Streams.Opened >= 2 })
	hs.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_NOT_SERVING)
	waitSnapshot(t, p, "2 clean ends", func(r ProbeReport) bool { return r.Streams.EndedClean >= 2 })
	hs.SetServingStatus("web.Shop", healthpb.HealthCheckResponse_SERVING)
	waitSnapshot(t, p, "streams re-opened", func(r ProbeReport) bool { return r.Streams.Opened-r.Streams.EndedClean >= 2 })
	srv.Stop() // the process dies: connections close while the streams say SERVING
	waitSnapshot(t, p, "2 abrupt ends", func(r ProbeReport) bool { return r.Streams.EndedAbrupt >= 2 })
	stop()

	snap := p.Snapshot()
	if snap.ErrorsByClass[ErrClassStreamAbrupt] != snap.Streams.EndedAbrupt {
		t.Errorf("errors by class %v, want each abrupt stream (%d) as %s", snap.ErrorsByClass, snap.Streams.EndedAbrupt, ErrClassStreamAbrupt)
	}
	served := p.Served()
	if len(served) != 1 || served[0].Pod != "web-a" || served[0].Streams != *snap.Streams {
		t.Errorf("served %+v, want web-a with every stream %+v", served, *snap.Streams)
	}
	anon := 0
	refused, other := p.AnonymousErrorBuckets()
	for _, b := range append(refused, other...) {
		anon += b.Errors
	}
	if want := snap.Errors - snap.Streams.EndedAbrupt; anon != want {
		t.Errorf("%d anonymous errors, want %d (the unary probes' to the dead server): the abrupt streams carried their pod's name", anon, want)
	}
}

func waitSnapshot(t *testing.T, p *Prober, what string, cond func(ProbeReport) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond(p.Snapshot()) {
			return
		}
	}
	t.Fatalf("timed out waiting for %s: %+v", what, p.Snapshot().Streams)
}

func TestProbeStreamsNeedGRPC(t *testing.T) {
	for _, tc := range []struct {
		opts ProbeOptions
		want string
	}{
		{ProbeOptions{Targets: []string{"http://127.0.0.1/"}, Streams: 2}, "needs a grpc://"},
		{ProbeOptions{Targets: []string{"grpc://127.0.0.1:9090"}, Streams: -1}, "must not be negative"},
	} {
		err := tc.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Validate(%+v) = %v, want one line saying %q", tc.opts, err, tc.want)
		}
	}
	if err := (ProbeOptions{Targets: []string{"http://127.0.0.1/", "grpc://127.0.0.1:9090"}, Streams: 2}).Validate(); err != nil {
		t.Errorf("a gRPC target among others: %v", err)
	}
}

// checkOnlyHealth serves Check but not Watch, as some hand-written health
// services do.
type checkOnlyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (checkOnlyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// A target whose health service has no Watch refuses each stream once: the
// report says so instead of counting streams opened and ended every 100 ms,
// and the prober stops re-dialling it.
func TestProbeStreamsUnimplemented(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, checkOnlyHealth{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	p, err := NewProber(ProbeOptions{Targets: []string{"grpc://" + l.Addr().String()}, Rate: 5, Streams: 2})
	if err != nil {
		t.Fatal(err)
	}
	stop := runStreams(t, p, "2 refused streams", func(r ProbeReport) bool { return r.Streams.Unimplemented >= 2 })
	time.Sleep(300 * time.Millisecond) // three re-dial pauses: a prober that re-dials would count more
	stop()
	snap := p.Snapshot()
	if s := *snap.Streams; s != (StreamStats{Unimplemented: 2}) {
		t.Errorf("streams %+v, want 2 refused (UNIMPLEMENTED), none opened or ended", s)
	}
	if snap.Errors != 0 {
		t.Errorf("%d probe errors, want none: Check answers SERVING, and a refused Watch is no error of the app's rollout", snap.Errors)
	}
}
