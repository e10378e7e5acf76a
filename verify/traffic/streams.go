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
}

// streamEnd is how one Watch stream ended.
type streamEnd int

const (
	streamStopped streamEnd = iota // by the prober itself: not counted
	streamClean
	streamAbrupt
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
				p.watchOnce(ctx, t)
				select { // a pod that ends streams at once must not make this spin
				case <-ctx.Done():
				case <-p.opts.Clock.After(redialPause):
				}
			}
		})
	}
}

// watchOnce opens one Watch stream on a new connection and follows it to its end.
func (p *Prober) watchOnce(ctx context.Context, t *grpcTarget) {
	conn, err := t.dial()
	if err != nil {
		return
	}
	defer conn.Close()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: t.service})
	if err != nil {
		return
	}
	header, err := stream.Header()
	if err != nil {
		return // never opened: nothing served it (the unary probes count such failures)
	}
	servedBy := ""
	if p.opts.IdentityHeader != "" {
		servedBy = firstValue(header, p.opts.IdentityHeader)
	}
	p.streamEvent(servedBy, p.opts.Clock.Now(), streamOpened)
	last := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return // stopping
			}
			p.streamEvent(servedBy, p.opts.Clock.Now(), classifyStreamEnd(err, last))
			return
		}
		last = resp.GetStatus()
		if last == healthpb.HealthCheckResponse_NOT_SERVING {
			// The server announced its drain: a clean end whatever follows.
			p.streamEvent(servedBy, p.opts.Clock.Now(), streamClean)
			return
		}
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
	case streamClean:
		p.streams.EndedClean++
		if pt != nil {
			pt.streams.EndedClean++
		}
	case streamAbrupt:
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
