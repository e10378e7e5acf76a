package traffic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"
)

// classifyNetError names a transport failure.
func classifyNetError(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrClassReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrClassEOF
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ErrClassTimeout
	case strings.Contains(err.Error(), "connection reset"):
		return ErrClassReset
	case strings.Contains(err.Error(), "EOF"):
		return ErrClassEOF
	}
	return ErrClassOther
}

type httpTarget struct {
	url    string
	client *http.Client
	// fresh dials a connection per request, for the identity header's
	// new-connection samples.
	fresh *http.Client
}

func newHTTPTarget(u *url.URL, opts ProbeOptions) *httpTarget {
	newClient := func(newConns bool) *http.Client {
		transport := &http.Transport{
			DisableKeepAlives:   newConns,
			MaxIdleConnsPerHost: opts.Concurrency,
			Proxy:               nil, // probe the target itself, never through a proxy
			DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
			// A self-signed certificate is accepted only when asked for (--probe-insecure).
			TLSClientConfig: &tls.Config{InsecureSkipVerify: opts.Insecure}, //nolint:gosec // explicit opt-in
		}
		return &http.Client{Transport: transport, CheckRedirect: sameHostRedirects}
	}
	t := &httpTarget{url: u.String(), client: newClient(opts.NewConnections)}
	t.fresh = t.client
	if opts.IdentityHeader != "" && !opts.NewConnections {
		t.fresh = newClient(true)
	}
	return t
}

// sameHostRedirects follows redirects on the probed host only: the probe never
// sends traffic to an address it was not given. A redirect elsewhere is the answer.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 || req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

func (t *httpTarget) String() string { return t.url }

func (t *httpTarget) do(ctx context.Context, timeout time.Duration) string {
	return t.doIdentified(ctx, timeout, "", false).class
}

// doIdentified sends one request, on a new connection when fresh, and reads
// header (when set) from the answer; a redirect's last answer counts.
func (t *httpTarget) doIdentified(ctx context.Context, timeout time.Duration, header string, fresh bool) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var o outcome
	client := t.client
	if fresh {
		client = t.fresh
	}
	// The last connection used says whether the answer came on a new one.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { o.newConn = !info.Reused }})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		o.class = ErrClassOther
		return o
	}
	req.Header.Set("User-Agent", probeUserAgent)
	resp, err := client.Do(req)
	if err != nil {
		o.class = classifyNetError(err)
		return o
	}
	if header != "" {
		o.servedBy = resp.Header.Get(header)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		o.class = ErrClassHTTP5xx
	case err != nil:
		o.class = classifyNetError(err)
	}
	return o
}

func (t *httpTarget) close() {
	t.client.CloseIdleConnections()
	t.fresh.CloseIdleConnections()
}

type grpcTarget struct {
	raw              string
	address          string
	service          string
	newConn          bool
	notServingWindow time.Duration
	clock            clock.WithTicker
	conn             *grpc.ClientConn // shared unless newConn
}

// redialPause spaces the re-dials of a NOT_SERVING answer.
const redialPause = 100 * time.Millisecond

func newGRPCTarget(u *url.URL, opts ProbeOptions) (*grpcTarget, error) {
	t := &grpcTarget{raw: u.String(), address: u.Host, service: strings.TrimPrefix(u.Path, "/"), newConn: opts.NewConnections,
		notServingWindow: opts.NotServingWindow, clock: opts.Clock}
	if !t.newConn {
		conn, err := t.dial()
		if err != nil {
			return nil, err
		}
		t.conn = conn
	}
	return t, nil
}

func (t *grpcTarget) dial() (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient("passthrough:///"+t.address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("--probe %s: %w", t.raw, err)
	}
	return conn, nil
}

func (t *grpcTarget) String() string { return t.raw }

func (t *grpcTarget) do(ctx context.Context, timeout time.Duration) string {
	return t.doIdentified(ctx, timeout, "", false).class
}

// doIdentified asks the health service once, on a connection of its own when
// fresh, and reads header (when set) from the answer's header metadata.
func (t *grpcTarget) doIdentified(ctx context.Context, timeout time.Duration, header string, fresh bool) outcome {
	conn := t.conn
	if fresh {
		conn = nil
	}
	o := t.checkOn(ctx, timeout, conn, header)
	if o.class != ErrClassGRPCNotServing || t.notServingWindow <= 0 {
		return o
	}
	// A health-checking client drops a NOT_SERVING connection and dials again.
	// Through a ClusterIP the new connection may reach the same draining pod, so
	// it keeps trying for the window; only no SERVING answer within it is an
	// error (a release that is really down is still caught). The shared
	// connection is left alone: the server's GOAWAY moves it to another pod.
	deadline := t.clock.Now().Add(t.notServingWindow)
	for t.clock.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return outcome{class: ErrClassGRPCCancelled}
		case <-t.clock.After(redialPause):
		}
		if o = t.checkOn(ctx, timeout, nil, header); o.class == "" {
			return o
		}
	}
	return o
}

// checkOn asks the health service once, on conn or, when conn is nil, on a
// connection of its own (a new connection: outcome.newConn).
func (t *grpcTarget) checkOn(ctx context.Context, timeout time.Duration, conn *grpc.ClientConn, header string) outcome {
	var o outcome
	if conn == nil {
		c, err := t.dial()
		if err != nil {
			o.class = ErrClassOther
			return o
		}
		defer c.Close()
		conn, o.newConn = c, true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var md metadata.MD
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: t.service}, grpc.Header(&md))
	if header != "" {
		o.servedBy = firstValue(md, header)
	}
	switch {
	case err != nil:
		o.class = grpcErrorClass(err)
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		o.class = ErrClassGRPCNotServing
	}
	return o
}

// firstValue is the first value of a metadata key (gRPC keys are lower case).
func firstValue(md metadata.MD, key string) string {
	if v := md.Get(strings.ToLower(key)); len(v) > 0 {
		return v[0]
	}
	return ""
}

func grpcErrorClass(err error) string {
	switch status.Code(err) {
	case codes.Unavailable:
		return ErrClassGRPCUnavailable
	case codes.DeadlineExceeded:
		return ErrClassGRPCDeadline
	case codes.Canceled:
		return ErrClassGRPCCancelled
	}
	return ErrClassOther
}

func (t *grpcTarget) close() {
	if t.conn != nil {
		t.conn.Close()
	}
}
