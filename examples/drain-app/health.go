package main

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// drainingHealth is grpc-go's health server, except that a draining app ends
// each grpc.health.v1.Health/Watch stream right after it has sent NOT_SERVING.
//
// grpc-go's health server never ends a Watch stream by itself: it only sends
// status changes. GracefulStop sends GOAWAY (which client code cannot see) and
// then waits for every open RPC, so a server with watchers would wait for its
// Watch streams until its shutdown timeout or the kubelet's SIGKILL, and the
// watchers would see their stream break while it still said SERVING, exactly
// like a crash. Ending the stream with a status once NOT_SERVING has gone out
// tells the client "this server is leaving, watch another one", lets
// GracefulStop finish, and lets a client tell a drain from a crash.
//
// Modes that do not drain keep grpc-go's behaviour: a naive app dies with its
// Watch streams open, which is what a stream-watching client must detect.
type drainingHealth struct {
	*health.Server
	app *App
}

func (h drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if !h.app.cfg.drains() {
		return h.Server.Watch(req, stream)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	w := &endingWatch{Health_WatchServer: stream, ctx: ctx, cancel: cancel, app: h.app}
	err := h.Server.Watch(req, w)
	if w.ended {
		return status.Error(codes.Unavailable, "draining: this server stops serving, watch another one")
	}
	return err
}

// endingWatch ends the Watch (through its context) once NOT_SERVING has been
// sent while the app drains. Send and Context are called from the Watch's own
// goroutine only, so ended needs no lock.
type endingWatch struct {
	healthpb.Health_WatchServer
	ctx    context.Context
	cancel context.CancelFunc
	app    *App
	ended  bool
}

func (w *endingWatch) Context() context.Context { return w.ctx }

func (w *endingWatch) Send(resp *healthpb.HealthCheckResponse) error {
	if err := w.Health_WatchServer.Send(resp); err != nil {
		return err
	}
	if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING && w.app.isDraining() {
		w.ended = true
		w.cancel()
	}
	return nil
}
