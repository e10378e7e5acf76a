package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Every HTTP response and every gRPC response names the pod that served it,
// in every mode: the pod name when known, else the hostname.
func TestServedBy(t *testing.T) {
	tests := []struct {
		mode, podName, want string
	}{
		{ModeContract, "contract-app-7d9f-abcde", "contract-app-7d9f-abcde"},
		{ModeNaive, "naive-app-5c6b-xyz12", "naive-app-5c6b-xyz12"},
		{ModeIgnoreSIGTERM, "stubborn-0", "stubborn-0"},
		{ModeSlowDrain, "", "test-host"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			ta := startApp(t, func(c *Config) { c.Mode = tt.mode; c.PodName = tt.podName })
			for _, path := range []string{"/", "/health/ready", "/health/live", "/metrics", "/nope", "/admin/drain"} {
				resp, err := http.Get("http://" + ta.HTTPAddr() + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("X-Served-By"); got != tt.want {
					t.Errorf("GET %s (%d): X-Served-By = %q, want %q", path, resp.StatusCode, got, tt.want)
				}
			}

			conn := ta.grpcConn()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var header metadata.MD
			var echo wrapperspb.StringValue
			if err := conn.Invoke(ctx, "/saferollout.drainapp.v1.DrainApp/Echo", wrapperspb.String("hi"), &echo, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(header.Get("x-served-by"), ","); got != tt.want {
				t.Errorf("Echo: x-served-by = %q, want %q", got, tt.want)
			}
			header = nil
			if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(header.Get("x-served-by"), ","); got != tt.want {
				t.Errorf("health Check: x-served-by = %q, want %q", got, tt.want)
			}
			watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			header, err = watch.Header()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(header.Get("x-served-by"), ","); got != tt.want {
				t.Errorf("health Watch: x-served-by = %q, want %q", got, tt.want)
			}
		})
	}
}

// watchStatuses collects what a Watch stream received and how it ended.
type watchResult struct {
	statuses []healthpb.HealthCheckResponse_ServingStatus
	err      error
}

func watch(ctx context.Context, t *testing.T, conn *grpc.ClientConn, service string) (first healthpb.HealthCheckResponse_ServingStatus, rest <-chan watchResult) {
	t.Helper()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Watch(%q): %v", service, err)
	}
	out := make(chan watchResult, 1)
	go func() {
		var r watchResult
		for {
			resp, err := stream.Recv()
			if err != nil {
				r.err = err
				out <- r
				return
			}
			r.statuses = append(r.statuses, resp.GetStatus())
		}
	}()
	return resp.GetStatus(), out
}

// A draining app ends each Watch stream with a status right after sending
// NOT_SERVING: "" at the start of the drain, the service at shutdown. So
// GracefulStop does not wait on watchers until the shutdown timeout.
func TestWatchEndsOnDrain(t *testing.T) {
	ta := startApp(t, func(c *Config) {
		c.DrainDelay = 300 * time.Millisecond
		c.ShutdownTimeout = 10 * time.Second
	})
	conn := ta.grpcConn()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	overallFirst, overall := watch(ctx, t, conn, "")
	serviceFirst, service := watch(ctx, t, conn, drainAppServiceName)
	if overallFirst != healthpb.HealthCheckResponse_SERVING || serviceFirst != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first statuses %v, %v; want SERVING", overallFirst, serviceFirst)
	}

	drained := make(chan struct{})
	go func() {
		ta.get("/admin/drain")
		close(drained)
	}()
	select {
	case r := <-overall:
		wantEnded(t, `Watch("") at drain start`, r)
	case <-drained:
		t.Fatal(`Watch("") still open after the drain delay`)
	}
	select {
	case r := <-service:
		t.Fatalf("Watch(service) ended before shutdown: %+v", r)
	default:
	}
	<-drained
	if took := ta.sigterm(); took > 5*time.Second {
		t.Errorf("shutdown took %v with a Watch stream open, want it to end the stream and finish at once", took)
	}
	wantEnded(t, "Watch(service) at shutdown", <-service)
}

func wantEnded(t *testing.T, what string, r watchResult) {
	t.Helper()
	if len(r.statuses) != 1 || r.statuses[0] != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("%s: received %v, want [NOT_SERVING]", what, r.statuses)
	}
	if status.Code(r.err) != codes.Unavailable || !strings.Contains(status.Convert(r.err).Message(), "draining") {
		t.Errorf("%s: ended with %v, want Unavailable draining", what, r.err)
	}
}

// Modes that do not drain keep grpc-go's behaviour: the Watch stays open
// until the process dies (here: Close, as a crash), still saying SERVING.
func TestNaiveKeepsWatchOpen(t *testing.T) {
	ta := startApp(t, func(c *Config) { c.Mode = ModeNaive })
	conn := ta.grpcConn()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, rest := watch(ctx, t, conn, drainAppServiceName)
	if first != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status %v, want SERVING", first)
	}
	ta.get("/admin/drain") // 501: naive does not drain
	select {
	case r := <-rest:
		t.Fatalf("naive Watch ended before the process died: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	ta.Close()
	r := <-rest
	if len(r.statuses) != 0 || r.err == nil || errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("naive Watch at death: received %v, ended %v; want nothing, then a broken stream", r.statuses, r.err)
	}
}
