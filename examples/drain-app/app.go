package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
)

// Modes (--mode).
const (
	ModeContract      = "contract"       // drains properly
	ModeNaive         = "naive"          // no signal handling: dies at once on SIGTERM
	ModeIgnoreSIGTERM = "ignore-sigterm" // never exits: the kubelet must SIGKILL it
	ModeSlowDrain     = "slow-drain"     // drains, but its work outlives any grace period
)

const (
	defaultDrainDelay      = 5 * time.Second
	defaultShutdownTimeout = 10 * time.Second
	defaultSlowDrainWork   = 120 * time.Second
	progressEvery          = 5 * time.Second // "still draining" log lines

	// servedByHeader names the pod that answered, on every HTTP response and
	// (lower-cased, as gRPC metadata keys are) in every gRPC response's header
	// metadata: a client tells which pod served it, and whether a draining
	// pod still gets new requests (kubectl safe-rollout --probe-identity-header).
	servedByHeader = "X-Served-By"
	servedByKey    = "x-served-by"
)

// Config is what the flags set; see parseFlags for their meaning.
type Config struct {
	HTTPAddr, GRPCAddr string
	Mode               string
	DrainDelay         time.Duration
	ShutdownTimeout    time.Duration
	ReadyDelay         time.Duration
	SlowDrainWork      time.Duration
	ErrorRate          float64

	Hostname string         // shown in every answer, to tell pods apart
	PodName  string         // the X-Served-By value; empty: Hostname
	Logger   *slog.Logger   // nil: discard
	Rand     func() float64 // for --error-rate; nil: math/rand/v2.Float64
}

func (c Config) validate() error {
	switch c.Mode {
	case ModeContract, ModeNaive, ModeIgnoreSIGTERM, ModeSlowDrain:
	default:
		return fmt.Errorf("unknown mode %q (want contract, naive, ignore-sigterm or slow-drain)", c.Mode)
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 {
		return fmt.Errorf("error-rate %v is not between 0 and 1", c.ErrorRate)
	}
	if c.DrainDelay < 0 || c.ShutdownTimeout < 0 || c.ReadyDelay < 0 || c.SlowDrainWork < 0 {
		return errors.New("durations must not be negative")
	}
	return nil
}

// drains reports whether the mode takes part in the drain contract at all.
func (c Config) drains() bool { return c.Mode == ModeContract || c.Mode == ModeSlowDrain }

// App is the HTTP and gRPC server. Create it with New, then call Run.
type App struct {
	cfg     Config
	log     *slog.Logger
	httpLn  net.Listener
	grpcLn  net.Listener
	httpSrv *http.Server
	grpcSrv *grpc.Server
	health  *health.Server
	// requests counts the work requests ("/") by status code, for /metrics.
	requests *prometheus.CounterVec

	ready      atomic.Bool  // --ready-delay has elapsed
	inFlight   atomic.Int64 // work requests (/, Echo, Ticks) being served
	readyTimer *time.Timer

	drainOnce sync.Once
	drainedBy string        // who started draining; written before draining is closed
	draining  chan struct{} // closed when draining starts
	drained   chan struct{} // closed when the drain delay has elapsed
}

// New opens both listeners (so that ":0" ports are known at once) and
// prepares the servers. It serves nothing until Run.
func New(cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	grpcLn, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		httpLn.Close()
		return nil, err
	}
	a := &App{
		cfg:      cfg,
		log:      cfg.Logger,
		httpLn:   httpLn,
		grpcLn:   grpcLn,
		health:   health.NewServer(),
		draining: make(chan struct{}),
		drained:  make(chan struct{}),
	}

	// Metrics live in the app's own registry: no process-wide state.
	metrics := prometheus.NewRegistry()
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drainapp_http_requests_total",
		Help: "Work requests (/) served, by HTTP status code.",
	}, []string{"code"})
	if err := metrics.Register(a.requests); err != nil {
		httpLn.Close()
		grpcLn.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", promhttp.InstrumentHandlerCounter(a.requests, http.HandlerFunc(a.handleWork)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /health/ready", a.handleReady)
	mux.HandleFunc("GET /health/live", a.handleLive)
	mux.HandleFunc("/admin/drain", a.handleDrain) // the kubelet sends GET; any method will do
	a.httpSrv = &http.Server{Handler: a.servedBy(mux), ReadHeaderTimeout: 5 * time.Second}

	a.grpcSrv = grpc.NewServer(
		grpc.UnaryInterceptor(a.servedByUnary),
		grpc.StreamInterceptor(a.servedByStream),
	)
	healthpb.RegisterHealthServer(a.grpcSrv, drainingHealth{Server: a.health, app: a})
	a.grpcSrv.RegisterService(&drainAppServiceDesc, a)
	reflection.Register(a.grpcSrv) // lets grpcurl list and call without .proto files
	for _, svc := range []string{"", drainAppServiceName} {
		a.health.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	}

	a.log.Info("started", "mode", cfg.Mode, "http", httpLn.Addr(), "grpc", grpcLn.Addr(),
		"pid", os.Getpid(), "hostname", cfg.Hostname, "pod", a.podName(), "drain_delay", cfg.DrainDelay,
		"shutdown_timeout", cfg.ShutdownTimeout, "ready_delay", cfg.ReadyDelay, "error_rate", cfg.ErrorRate)
	if cfg.ReadyDelay == 0 {
		a.markReady()
	} else {
		a.readyTimer = time.AfterFunc(cfg.ReadyDelay, a.markReady)
	}
	return a, nil
}

// podName is what the app answers X-Served-By with.
func (a *App) podName() string {
	if a.cfg.PodName != "" {
		return a.cfg.PodName
	}
	return a.cfg.Hostname
}

// servedBy sets X-Served-By on every HTTP response, errors included.
func (a *App) servedBy(next http.Handler) http.Handler {
	name := a.podName()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(servedByHeader, name)
		next.ServeHTTP(w, r)
	})
}

// servedByUnary and servedByStream put x-served-by in the header metadata of
// every gRPC response (health checks, Watch streams and reflection too).
func (a *App) servedByUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(servedByKey, a.podName()))
	return handler(ctx, req)
}

func (a *App) servedByStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	_ = ss.SetHeader(metadata.Pairs(servedByKey, a.podName()))
	return handler(srv, ss)
}

// HTTPAddr and GRPCAddr are the addresses actually listened on.
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }
func (a *App) GRPCAddr() string { return a.grpcLn.Addr().String() }

func (a *App) markReady() {
	if a.isDraining() {
		return
	}
	a.ready.Store(true)
	// Ignored by the health server if a drain has shut it down meanwhile.
	for _, svc := range []string{"", drainAppServiceName} {
		a.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
	a.log.Info("ready")
}

func (a *App) isDraining() bool {
	select {
	case <-a.draining:
		return true
	default:
		return false
	}
}

// Run serves until the process should exit: after a drain and shutdown
// (contract, slow-drain), or when a server fails or Close is called. A signal
// on signals starts a drain, except in ignore-sigterm mode. In naive mode main
// passes nil: nothing here ever sees the SIGTERM that kills the process.
func (a *App) Run(signals <-chan os.Signal) error {
	serveErr := make(chan error, 2)
	go func() {
		err := a.httpSrv.Serve(a.httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()
	go func() {
		err := a.grpcSrv.Serve(a.grpcLn)
		if errors.Is(err, grpc.ErrServerStopped) {
			err = nil
		}
		serveErr <- err
	}()

	for {
		select {
		case err := <-serveErr:
			// Not a drain: a listener failed, or Close was called.
			a.Close()
			return err
		case sig := <-signals:
			if !a.cfg.drains() {
				a.log.Info("signal ignored: only SIGKILL stops this process", "signal", signalName(sig))
				continue
			}
			if !a.startDrain(signalName(sig)) {
				// preStop /admin/drain came first, and the kubelet sends
				// SIGTERM only after the hook returned: do not wait again.
				a.log.Info("signal received; drain already started, not restarting the drain delay",
					"signal", signalName(sig), "drain_started_by", a.drainedBy)
			}
			<-a.drained
			a.shutdown()
			return nil
		}
	}
}

// startDrain flips readiness and starts the drain delay. Only the first call
// does anything; it reports whether this call was the first.
func (a *App) startDrain(by string) (first bool) {
	a.drainOnce.Do(func() {
		first = true
		a.drainedBy = by
		close(a.draining) // /health/ready now answers 503
		// The server's overall health ("") is what readiness probes and
		// health-checking load balancers route on: it fails now. The service
		// itself still serves the clients connected to this pod until shutdown
		// sends them a GOAWAY, so its status stays SERVING meanwhile.
		a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		// Ask keep-alive clients to reconnect (after their next response),
		// so that they land on pods that are not going away.
		a.httpSrv.SetKeepAlivesEnabled(false)
		a.log.Info("drain started: readiness now failing, still serving",
			"by", by, "drain_delay", a.cfg.DrainDelay, "in_flight", a.inFlight.Load())
		time.AfterFunc(a.cfg.DrainDelay, func() {
			a.log.Info("drain delay elapsed", "in_flight", a.inFlight.Load())
			close(a.drained)
		})
	})
	return first
}

// shutdown closes the listeners and waits for in-flight work: at most
// --shutdown-timeout in contract mode, then cuts it off. slow-drain waits
// with no cap at all, which is the bug it reproduces.
func (a *App) shutdown() {
	ctx := context.Background()
	limit := "none"
	if a.cfg.Mode == ModeContract {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
		defer cancel()
		limit = a.cfg.ShutdownTimeout.String()
	}
	a.log.Info("shutdown begun: listeners closed, waiting for in-flight work",
		"in_flight", a.inFlight.Load(), "timeout", limit)

	a.health.Shutdown() // every service NOT_SERVING from here on
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Go(func() { _ = a.httpSrv.Shutdown(ctx) })
		// GracefulStop sends GOAWAY, then waits for every RPC, including
		// long-lived ones such as health Watch streams: another reason for a cap.
		wg.Go(a.grpcSrv.GracefulStop)
		if a.cfg.Mode == ModeSlowDrain {
			// Stands for a flush or batch job that does not look at any
			// deadline: the pod is SIGKILLed in the middle of it when
			// terminationGracePeriodSeconds is shorter.
			wg.Go(func() {
				a.log.Info("slow-drain: finishing background work", "duration", a.cfg.SlowDrainWork)
				time.Sleep(a.cfg.SlowDrainWork)
			})
		}
		wg.Wait()
		close(done)
	}()

	progress := time.NewTicker(progressEvery)
	defer progress.Stop()
	for {
		select {
		case <-done:
			a.log.Info("shutdown complete: all in-flight work finished")
			return
		case <-progress.C:
			a.log.Info("still draining", "in_flight", a.inFlight.Load())
		case <-ctx.Done():
			a.log.Warn("shutdown timeout: cutting off in-flight work", "in_flight", a.inFlight.Load())
			a.Close()
			<-done
			return
		}
	}
}

// Close stops both servers at once, cutting off in-flight work.
func (a *App) Close() {
	if a.readyTimer != nil {
		a.readyTimer.Stop()
	}
	_ = a.httpSrv.Close()
	a.grpcSrv.Stop()
}

// handleWork serves "/": the app's work. ?delay=2s makes a slow request.
func (a *App) handleWork(w http.ResponseWriter, r *http.Request) {
	if !a.ready.Load() {
		// Warming up (--ready-delay): like an app still loading its caches, it
		// refuses work. Only a readinessProbe keeps traffic away meanwhile.
		http.Error(w, "starting: not ready for work yet", http.StatusServiceUnavailable)
		return
	}
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)

	var delay time.Duration
	if s := r.URL.Query().Get("delay"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			http.Error(w, fmt.Sprintf("bad delay %q: want a duration such as 2s", s), http.StatusBadRequest)
			return
		}
		delay = d
	}
	if !sleep(r.Context(), delay) {
		return // client gone, or the server was closed
	}
	if a.cfg.Mode == ModeSlowDrain && a.isDraining() {
		// Work caught by the drain takes far longer than any grace period.
		if !sleep(r.Context(), a.cfg.SlowDrainWork) {
			return
		}
	}
	if a.cfg.ErrorRate > 0 && a.cfg.Rand() < a.cfg.ErrorRate {
		http.Error(w, fmt.Sprintf("injected error from %s mode=%s error-rate=%g", a.cfg.Hostname, a.cfg.Mode, a.cfg.ErrorRate),
			http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "hello from %s mode=%s delay=%s\n", a.cfg.Hostname, a.cfg.Mode, delay)
}

// handleReady is the readinessProbe: 503 before --ready-delay and while draining.
func (a *App) handleReady(w http.ResponseWriter, _ *http.Request) {
	switch {
	case a.isDraining():
		http.Error(w, "draining", http.StatusServiceUnavailable)
	case !a.ready.Load():
		http.Error(w, "starting", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ready")
	}
}

// handleLive is the livenessProbe. It never fails while the process runs:
// a draining pod must not be restarted by its liveness probe.
func (a *App) handleLive(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "live")
}

// handleDrain is meant for a preStop httpGet hook. It starts draining and
// answers only once the drain delay has elapsed, because the kubelet sends
// SIGTERM right after the hook returns. Calling it again is harmless.
func (a *App) handleDrain(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.drains() {
		http.Error(w, fmt.Sprintf("mode %s does not drain", a.cfg.Mode), http.StatusNotImplemented)
		return
	}
	a.startDrain("/admin/drain")
	select {
	case <-a.drained:
		fmt.Fprintf(w, "drained (started by %s)\n", a.drainedBy)
	case <-r.Context().Done():
	}
}

// sleep waits for d, or less if ctx ends first; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}
