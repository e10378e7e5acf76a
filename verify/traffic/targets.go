package traffic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
}

func newHTTPTarget(u *url.URL, opts ProbeOptions) *httpTarget {
	transport := &http.Transport{
		DisableKeepAlives:   opts.NewConnections,
		MaxIdleConnsPerHost: opts.Concurrency,
		Proxy:               nil, // probe the target itself, never through a proxy
		DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		// A self-signed certificate is accepted only when asked for (--probe-insecure).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: opts.Insecure}, //nolint:gosec // explicit opt-in
	}
	client := &http.Client{Transport: transport, CheckRedirect: sameHostRedirects}
	return &httpTarget{url: u.String(), client: client}
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return ErrClassOther
	}
	req.Header.Set("User-Agent", probeUserAgent)
	resp, err := t.client.Do(req)
	if err != nil {
		return classifyNetError(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return ErrClassHTTP5xx
	case err != nil:
		return classifyNetError(err)
	}
	return ""
}

func (t *httpTarget) close() { t.client.CloseIdleConnections() }

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
	class := t.checkOn(ctx, timeout, t.conn)
	if class != ErrClassGRPCNotServing || t.notServingWindow <= 0 {
		return class
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
			return ErrClassGRPCCancelled
		case <-t.clock.After(redialPause):
		}
		if class = t.checkOn(ctx, timeout, nil); class == "" {
			return ""
		}
	}
	return class
}

// checkOn asks the health service once, on conn or, when conn is nil, on a
// connection of its own.
func (t *grpcTarget) checkOn(ctx context.Context, timeout time.Duration, conn *grpc.ClientConn) string {
	if conn == nil {
		c, err := t.dial()
		if err != nil {
			return ErrClassOther
		}
		defer c.Close()
		conn = c
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: t.service})
	if err != nil {
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
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return ErrClassGRPCNotServing
	}
	return ""
}

func (t *grpcTarget) close() {
	if t.conn != nil {
		t.conn.Close()
	}
}
