package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrClassStreamAbrupt is a long-lived stream (grpc.health.v1.Health/Watch)
// whose transport broke while its last status was SERVING: the server died
// or was killed with the stream open, instead of announcing its drain.
const ErrClassStreamAbrupt = "stream-abrupt"

// StreamStats counts the Watch streams held open through the rollout
// (--probe-streams).
type StreamStats struct {
	Opened      int `json:"opened"`
	EndedClean  int `json:"endedClean"`
	EndedAbrupt int `json:"endedAbrupt"`
	// Unimplemented counts the streams a target refused with UNIMPLEMENTED:
	// its health service has no Watch, so none of them was held.
	Unimplemented int `json:"unimplemented,omitempty"`
}

// streamEnd is how one Watch stream ended.
type streamEnd int

const (
	streamStopped streamEnd = iota // by the prober itself: not counted
	streamClean
	streamAbrupt
	streamUnimplemented // refused: the target's health service has no Watch
)

// validateStreams checks --probe-streams against the targets.
func (o ProbeOptions) validateStreams() error {
	if o.Streams < 0 {
		return fmt.Errorf("--probe-streams %d: must not be negative", o.Streams)
	}
	if o.Streams == 0 {
		return nil
	}
	for _, raw := range o.Targets {
		if u, err := parseTarget(raw); err == nil && u.Scheme == grpcScheme {
			return nil
		}
	}
	return errors.New("--probe-streams holds grpc.health.v1.Health/Watch streams: it needs a grpc://HOST:PORT --probe target")
}

// holdStreams keeps opts.Streams Watch streams open over the gRPC targets
// until ctx is done, each re-opened on a new connection when it ends.
func (p *Prober) holdStreams(ctx context.Context, wg *sync.WaitGroup) {
	var grpcTargets []*grpcTarget
	for _, t := range p.targets {
		if g, ok := t.(*grpcTarget); ok {
			grpcTargets = append(grpcTargets, g)
		}
	}
	if len(grpcTargets) == 0 {
		return
	}
	for i := range p.opts.Streams {
		t := grpcTargets[i%len(grpcTargets)]
		wg.Go(func() {
			for ctx.Err() == nil {
				if p.watchOnce(ctx, t) == streamUnimplemented {
					return // the target has no Watch: re-dialling would only repeat it
				}
				select { // a pod that ends streams at once must not make this spin
				case <-ctx.Done():
				case <-p.opts.Clock.After(redialPause):
				}
			}
		})
	}
}

// watchOnce opens one Watch stream on a new connection and follows it to its
// end. The stream counts as opened once its first status arrived: a health
// service without Watch answers UNIMPLEMENTED instead (a trailers-only
// response, which Header does not report as an error).
func (p *Prober) watchOnce(ctx context.Context, t *grpcTarget) streamEnd {
	conn, err := t.dial()
	if err != nil {
		return streamStopped
	}
	defer conn.Close()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: t.service})
	if err != nil {
		return streamStopped
	}
	header, err := stream.Header()
	if err == nil {
		var resp *healthpb.HealthCheckResponse
		if resp, err = stream.Recv(); err == nil {
			return p.followStream(ctx, stream, header, resp.GetStatus())
		}
	}
	if status.Code(err) == codes.Unimplemented && ctx.Err() == nil {
		p.streamEvent("", p.opts.Clock.Now(), streamUnimplemented)
		return streamUnimplemented
	}
	return streamStopped // never opened: nothing served it (the unary probes count such failures)
}

// followStream counts an opened stream and follows it to its end.
func (p *Prober) followStream(ctx context.Context, stream healthpb.Health_WatchClient, header metadata.MD, last healthpb.HealthCheckResponse_ServingStatus) streamEnd {
	servedBy := ""
	if p.opts.IdentityHeader != "" {
		servedBy = firstValue(header, p.opts.IdentityHeader)
	}
	p.streamEvent(servedBy, p.opts.Clock.Now(), streamOpened)
	for {
		if last == healthpb.HealthCheckResponse_NOT_SERVING {
			// The server announced its drain: a clean end whatever follows.
			p.streamEvent(servedBy, p.opts.Clock.Now(), streamClean)
			return streamClean
		}
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return streamStopped
			}
			end := classifyStreamEnd(err, last)
			p.streamEvent(servedBy, p.opts.Clock.Now(), end)
			return end
		}
		last = resp.GetStatus()
	}
}

// streamOpened is counted like an end, through streamEvent.
const streamOpened streamEnd = -1

// classifyStreamEnd: a stream that ended with io.EOF (status OK) or with a
// status the server sent ended cleanly; one whose transport broke
// (UNAVAILABLE without a NOT_SERVING first) while it said SERVING ended
// abruptly. gRPC reports a broken transport as UNAVAILABLE.
func classifyStreamEnd(err error, last healthpb.HealthCheckResponse_ServingStatus) streamEnd {
	if errors.Is(err, io.EOF) {
		return streamClean
	}
	if status.Code(err) == codes.Unavailable && last == healthpb.HealthCheckResponse_SERVING {
		return streamAbrupt
	}
	return streamClean
}

// streamEvent counts a stream opened or ended; an abrupt end is a probe error
// at its time, blamed on servedBy when known, else by time window.
func (p *Prober) streamEvent(servedBy string, at time.Time, e streamEnd) {
	p.mu.Lock()
	var pt *podTraffic
	if servedBy != "" {
		pt = p.podLocked(servedBy)
	}
	switch e {
	case streamOpened:
		p.streams.Opened++
		if pt != nil {
			pt.streams.Opened++
		}
	case streamUnimplemented:
		p.streams.Unimplemented++
	case streamClean:
		p.requests++ // an ended stream is one request: the error rate's divisor counts it as its errors do
		p.streams.EndedClean++
		if pt != nil {
			pt.streams.EndedClean++
		}
	case streamAbrupt:
		p.requests++
		p.streams.EndedAbrupt++
		if pt != nil {
			pt.streams.EndedAbrupt++
		}
		p.errors++
		p.byClass[ErrClassStreamAbrupt]++
		key := at.UnixNano() / int64(errorBucket)
		addBucket(p.errorBuckets, key)
		if servedBy == "" {
			addBucket(p.anonErrorBuckets, key)
		}
	}
	p.mu.Unlock()
	if e == streamAbrupt {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}
