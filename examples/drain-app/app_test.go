package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// testApp is an App running in-process on loopback ports.
type testApp struct {
	*App
	t       *testing.T
	logs    *syncBuffer
	signals chan os.Signal
	done    chan struct{} // closed when Run returned
	runErr  error
}

func startApp(t *testing.T, mutate func(*Config)) *testApp {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		HTTPAddr:        "127.0.0.1:0",
		GRPCAddr:        "127.0.0.1:0",
		Mode:            ModeContract,
		DrainDelay:      300 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		SlowDrainWork:   time.Second,
		Hostname:        "test-host",
		Logger:          slog.New(slog.NewTextHandler(logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	app, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testApp{App: app, t: t, logs: logs, signals: make(chan os.Signal, 1), done: make(chan struct{})}
	go func() {
		ta.runErr = app.Run(ta.signals)
		close(ta.done)
	}()
	t.Cleanup(func() {
		app.Close()
		select {
		case <-ta.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after Close")
		}
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	})
	return ta
}

// sigterm sends SIGTERM and waits for Run to return; it returns how long that took.
func (ta *testApp) sigterm() time.Duration {
	ta.t.Helper()
	start := time.Now()
	ta.signals <- syscall.SIGTERM
	select {
	case <-ta.done:
	case <-time.After(15 * time.Second):
		ta.t.Fatal("Run did not return after SIGTERM")
	}
	if ta.runErr != nil {
		ta.t.Fatalf("Run: %v", ta.runErr)
	}
	return time.Since(start)
}

// get does a GET on the app and returns status code and body.
func (ta *testApp) get(path string) (int, string, error) {
	resp, err := http.Get("http://" + ta.HTTPAddr() + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (ta *testApp) mustGet(path string) (int, string) {
	ta.t.Helper()
	code, body, err := ta.get(path)
	if err != nil {
		ta.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

func (ta *testApp) grpcConn() *grpc.ClientConn {
	ta.t.Helper()
	conn, err := grpc.NewClient(ta.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		ta.t.Fatal(err)
	}
	ta.t.Cleanup(func() { conn.Close() })
	return conn
}

func (ta *testApp) grpcHealth(conn *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	ta.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		ta.t.Fatalf("health check %q: %v", service, err)
	}
	return resp.GetStatus()
}

// eventually polls cond for up to 2s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWork(t *testing.T) {
	ta := startApp(t, nil)
	tests := []struct {
		path     string
		wantCode int
		wantBody string
		minTime  time.Duration
	}{
		{"/", 200, "hello from test-host mode=contract delay=0s", 0},
		{"/?delay=200ms", 200, "hello from test-host mode=contract delay=200ms", 200 * time.Millisecond},
		{"/?delay=soon", 400, "bad delay", 0},
		{"/?delay=-1s", 400, "bad delay", 0},
		{"/health/live", 200, "live", 0},
		{"/health/ready", 200, "ready", 0},
		{"/no-such-page", 404, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			code, body := ta.mustGet(tt.path)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
			if took := time.Since(start); took < tt.minTime {
				t.Errorf("GET %s took %v, want at least %v", tt.path, took, tt.minTime)
			}
		})
	}
}

func TestErrorRate(t *testing.T) {
	draws := []float64{0.0, 0.1, 0.49, 0.5, 0.9, 0.99}
	tests := []struct {
		rate  float64
		want  []int
		calls int // how many random numbers were drawn
	}{
		{0, []int{200, 200, 200, 200, 200, 200}, 0},
		{0.5, []int{500, 500, 500, 200, 200, 200}, 6},
		{1, []int{500, 500, 500, 500, 500, 500}, 6},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			var calls atomic.Int32 // the handler runs on another goroutine
			ta := startApp(t, func(c *Config) {
				c.ErrorRate = tt.rate
				c.Rand = func() float64 { return draws[int(calls.Add(1)-1)%len(draws)] }
			})
			for i, want := range tt.want {
				code, body := ta.mustGet("/")
				if code != want {
					t.Errorf("rate %v, request %d (draw %v): got %d %q, want %d", tt.rate, i, draws[i], code, body, want)
				}
			}
			if n := int(calls.Load()); n != tt.calls {
				t.Errorf("rate %v: drew %d random numbers, want %d", tt.rate, n, tt.calls)
			}
		})
	}
}

func TestReadyDelay(t *testing.T) {
	ta := startApp(t, func(c *Config) { c.ReadyDelay = 400 * time.Millisecond })
	conn := ta.grpcConn()
	if code, body := ta.mustGet("/health/ready"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("before ready-delay: ready = %d %q, want 503 starting", code, body)
	}
	if got := ta.grpcHealth(conn, ""); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("before ready-delay: gRPC health = %v, want NOT_SERVING", got)
	}
	if code, _ := ta.mustGet("/health/live"); code != 200 {
		t.Errorf("live = %d before ready-delay, want 200", code)
	}
	if code, body := ta.mustGet("/"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("before ready-delay: / = %d %q, want 503 starting (a warming app refuses work)", code, body)
	}
	eventually(t, "readiness", func() bool { code, _ := ta.mustGet("/health/ready"); return code == 200 })
	if code, _ := ta.mustGet("/"); code != 200 {
		t.Errorf("after ready-delay: / = %d, want 200", code)
	}
	if got := ta.grpcHealth(conn, drainAppServiceName); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("after ready-delay: gRPC health = %v, want SERVING", got)
	}
}

// The preStop path: /admin/drain flips readiness at once, keeps serving, and
// answers only after the drain delay. The SIGTERM that follows does not wait again.
func TestAdminDrain(t *testing.T) {
	ta := startApp(t, func(c *Config) { c.DrainDelay = 500 * time.Millisecond })
	conn := ta.grpcConn()
	for _, svc := range []string{"", drainAppServiceName} {
		if got := ta.grpcHealth(conn, svc); got != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("gRPC health %q = %v before drain, want SERVING", svc, got)
		}
	}

	type result struct {
		code int
		body string
		took time.Duration
	}
	drainDone := make(chan result, 1)
	go func() {
		start := time.Now()
		code, body, _ := ta.get("/admin/drain")
		drainDone <- result{code, body, time.Since(start)}
	}()

	eventually(t, "readiness to fail", func() bool { code, _ := ta.mustGet("/health/ready"); return code == 503 })
	// The server's overall health ("") is the routing signal and fails at once;
	// the service keeps serving the clients still connected until shutdown.
	if got := ta.grpcHealth(conn, ""); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health \"\" = %v while draining, want NOT_SERVING", got)
	}
	if got := ta.grpcHealth(conn, drainAppServiceName); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health %q = %v during the drain delay, want SERVING", drainAppServiceName, got)
	}
	// Still serving work and liveness during the drain delay.
	if code, _ := ta.mustGet("/"); code != 200 {
		t.Errorf("/ = %d while draining, want 200", code)
	}
	if code, _ := ta.mustGet("/health/live"); code != 200 {
		t.Errorf("/health/live = %d while draining, want 200", code)
	}

	r := <-drainDone
	if r.code != 200 || r.took < 450*time.Millisecond || r.took > 3*time.Second {
		t.Errorf("/admin/drain = %d %q after %v, want 200 after about 500ms", r.code, r.body, r.took)
	}
	// Idempotent: a second call neither fails nor waits again.
	start := time.Now()
	if code, _ := ta.mustGet("/admin/drain"); code != 200 || time.Since(start) > 300*time.Millisecond {
		t.Errorf("second /admin/drain = %d after %v, want 200 at once", code, time.Since(start))
	}

	if took := ta.sigterm(); took > 400*time.Millisecond {
		t.Errorf("SIGTERM after /admin/drain took %v to exit, want well under the drain delay", took)
	}
	if !strings.Contains(ta.logs.String(), "not restarting the drain delay") {
		t.Errorf("log does not say the drain delay was not restarted:\n%s", ta.logs.String())
	}
}

// The SIGTERM path: readiness fails at once, in-flight work finishes, new
// connections are refused after shutdown.
func TestSIGTERMFinishesInFlight(t *testing.T) {
	ta := startApp(t, func(c *Config) { c.DrainDelay = 300 * time.Millisecond })

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := ta.get("/?delay=1s")
		slow <- result{code, body, err}
	}()
	eventually(t, "request in flight", func() bool { return ta.inFlight.Load() == 1 })

	sigDone := make(chan time.Duration, 1)
	go func() { sigDone <- ta.sigterm() }()
	eventually(t, "readiness to fail", func() bool {
		code, _, err := ta.get("/health/ready")
		return err == nil && code == 503
	})

	r := <-slow
	if r.err != nil || r.code != 200 {
		t.Errorf("in-flight request: %d %q %v, want 200", r.code, r.body, r.err)
	}
	if took := <-sigDone; took < 900*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before the in-flight request could finish", took)
	}
	if _, _, err := ta.get("/"); err == nil {
		t.Error("GET after shutdown succeeded, want connection refused")
	}
	logs := ta.logs.String()
	for _, want := range []string{"by=SIGTERM", "drain delay elapsed", "shutdown begun", "in_flight=1", "shutdown complete"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// In-flight work that outlives --shutdown-timeout is cut off.
func TestShutdownTimeout(t *testing.T) {
	ta := startApp(t, func(c *Config) {
		c.DrainDelay = 0
		c.ShutdownTimeout = 300 * time.Millisecond
	})
	slow := make(chan error, 1)
	go func() { _, _, err := ta.get("/?delay=10s"); slow <- err }()
	eventually(t, "request in flight", func() bool { return ta.inFlight.Load() == 1 })

	if took := ta.sigterm(); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("exited %v after SIGTERM, want about the 300ms shutdown timeout", took)
	}
	if err := <-slow; err == nil {
		t.Error("request longer than the shutdown timeout succeeded, want it cut off")
	}
	if !strings.Contains(ta.logs.String(), "shutdown timeout") {
		t.Errorf("log does not mention the shutdown timeout:\n%s", ta.logs.String())
	}
}

func TestGRPC(t *testing.T) {
	ta := startApp(t, nil)
	conn := ta.grpcConn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var echo wrapperspb.StringValue
	if err := conn.Invoke(ctx, "/saferollout.drainapp.v1.DrainApp/Echo", wrapperspb.String("hi"), &echo); err != nil {
		t.Fatal(err)
	}
	if want := "echo: hi from test-host mode=contract"; echo.GetValue() != want {
		t.Errorf("Echo = %q, want %q", echo.GetValue(), want)
	}

	tests := []struct {
		req      map[string]any
		want     []string
		wantCode codes.Code
	}{
		{map[string]any{"count": 3, "interval": "10ms"}, []string{"tick 1/3 from test-host mode=contract", "tick 2/3 from test-host mode=contract", "tick 3/3 from test-host mode=contract"}, codes.OK},
		{map[string]any{"count": 0}, nil, codes.InvalidArgument},
		{map[string]any{"count": 1.5}, nil, codes.InvalidArgument},
		{map[string]any{"interval": "soon"}, nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		got, err := ticks(ctx, conn, tt.req)
		if status.Code(err) != tt.wantCode || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Ticks(%v) = %q, %v; want %q, %v", tt.req, got, err, tt.want, tt.wantCode)
		}
	}
}

func ticks(ctx context.Context, conn *grpc.ClientConn, req map[string]any) ([]string, error) {
	in, err := structpb.NewStruct(req)
	if err != nil {
		return nil, err
	}
	stream, err := conn.NewStream(ctx, &drainAppServiceDesc.Streams[0], "/saferollout.drainapp.v1.DrainApp/Ticks")
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		var msg wrapperspb.StringValue
		err := stream.RecvMsg(&msg)
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, msg.GetValue())
	}
}

// A gRPC stream that is in flight at SIGTERM runs to its end (GracefulStop).
func TestGRPCStreamSurvivesDrain(t *testing.T) {
	ta := startApp(t, func(c *Config) { c.DrainDelay = 100 * time.Millisecond })
	conn := ta.grpcConn()
	type result struct {
		got []string
		err error
	}
	res := make(chan result, 1)
	go func() {
		got, err := ticks(context.Background(), conn, map[string]any{"count": 5, "interval": "150ms"})
		res <- result{got, err}
	}()
	eventually(t, "stream in flight", func() bool { return ta.inFlight.Load() == 1 })
	ta.sigterm()
	r := <-res
	if r.err != nil || len(r.got) != 5 {
		t.Errorf("stream during drain: got %d messages, err %v; want 5, nil", len(r.got), r.err)
	}
}

func TestReflection(t *testing.T) {
	ta := startApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := rpb.NewServerReflectionClient(ta.grpcConn()).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ask := func(req *rpb.ServerReflectionRequest) *rpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{drainAppServiceName, "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, lacks %s", names, want)
		}
	}
	// grpcurl needs the file descriptor to encode requests.
	resp = ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: drainAppServiceName}})
	if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("reflection cannot describe %s: %v", drainAppServiceName, resp.GetErrorResponse())
	}
}

// Modes that break the contract never fail readiness and refuse /admin/drain.
func TestModesWithoutDrain(t *testing.T) {
	for _, mode := range []string{ModeNaive, ModeIgnoreSIGTERM} {
		t.Run(mode, func(t *testing.T) {
			ta := startApp(t, func(c *Config) { c.Mode = mode })
			if code, body := ta.mustGet("/admin/drain"); code != 501 {
				t.Errorf("/admin/drain = %d %q, want 501", code, body)
			}
			if code, _ := ta.mustGet("/health/ready"); code != 200 {
				t.Errorf("ready = %d after /admin/drain, want 200", code)
			}
			if mode == ModeIgnoreSIGTERM {
				ta.signals <- syscall.SIGTERM
				time.Sleep(200 * time.Millisecond)
				if code, _ := ta.mustGet("/health/ready"); code != 200 {
					t.Errorf("ready = %d after SIGTERM, want 200", code)
				}
				if !strings.Contains(ta.logs.String(), "signal ignored") {
					t.Errorf("log does not say the signal was ignored:\n%s", ta.logs.String())
				}
			}
		})
	}
}

// slow-drain waits for its background work without any cap, and work caught
// by the drain takes --slow-drain-work longer.
func TestSlowDrain(t *testing.T) {
	ta := startApp(t, func(c *Config) {
		c.Mode = ModeSlowDrain
		c.DrainDelay = 0
		c.ShutdownTimeout = 100 * time.Millisecond // ignored by slow-drain
		c.SlowDrainWork = 800 * time.Millisecond
	})
	slow := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		ta.get("/?delay=200ms")
		slow <- time.Since(start)
	}()
	eventually(t, "request in flight", func() bool { return ta.inFlight.Load() == 1 })
	if took := ta.sigterm(); took < 750*time.Millisecond {
		t.Errorf("slow-drain exited %v after SIGTERM, want at least the 800ms of slow work", took)
	}
	if took := <-slow; took < 900*time.Millisecond {
		t.Errorf("request caught by the drain took %v, want about 200ms+800ms", took)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(Config) bool
	}{
		{nil, "", func(c Config) bool {
			return c.HTTPAddr == ":8080" && c.GRPCAddr == ":9090" && c.Mode == ModeContract &&
				c.DrainDelay == 5*time.Second && c.ShutdownTimeout == 10*time.Second &&
				c.SlowDrainWork == 120*time.Second && c.ErrorRate == 0 && c.ReadyDelay == 0
		}},
		{[]string{"--mode=slow-drain", "--error-rate=0.25", "--ready-delay=2s", "--drain-delay=1s"}, "", func(c Config) bool {
			return c.Mode == ModeSlowDrain && c.ErrorRate == 0.25 && c.ReadyDelay == 2*time.Second && c.DrainDelay == time.Second
		}},
		{[]string{"--mode=yolo"}, "unknown mode", nil},
		{[]string{"--error-rate=1.5"}, "error-rate", nil},
		{[]string{"--drain-delay=-1s"}, "negative", nil},
		{[]string{"extra"}, "unexpected arguments", nil},
		{[]string{"--exit-code=256"}, "exit-code", nil},
		{[]string{"--exit-code=-1"}, "exit-code", nil},
	}
	for _, tt := range tests {
		cfg, _, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseFlags(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(cfg) {
			t.Errorf("parseFlags(%q) = %+v, %v", tt.args, cfg, err)
		}
	}
	if _, code, err := parseFlags([]string{"--exit-code=143"}, io.Discard); err != nil || code != 143 {
		t.Errorf("--exit-code=143: %d, %v", code, err)
	}
}

// /metrics counts the work requests by status code: what a 5xx-rate query
// in Prometheus reads.
func TestMetricsCountWorkByCode(t *testing.T) {
	ta := startApp(t, func(c *Config) {
		c.ErrorRate = 0.5
		n := 0
		c.Rand = func() float64 { n++; return float64(n%2) * 0.9 } // alternately 0.9 (ok) and 0 (error)
	})
	for range 4 {
		ta.mustGet("/")
	}
	_, body := ta.mustGet("/metrics")
	for _, want := range []string{`drainapp_http_requests_total{code="200"} 2`, `drainapp_http_requests_total{code="500"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
