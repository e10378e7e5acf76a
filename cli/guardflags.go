package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/record"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/step"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/metrics"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// GuardFlags are shared by restart and watch.
type GuardFlags struct {
	Timeout         time.Duration
	ActionTimeout   time.Duration
	Progress        string
	Output          string
	OnBreach        string
	MaxSIGKILLs     int
	MaxUncleanExits int
	MaxGraceUsage   float64
	// MaxNewPodRestarts bounds the new pods' restarts and failed starts.
	MaxNewPodRestarts int
	IgnoreContainers  []string
	Follow            bool
	Strict            bool
	// RecordEvents records a Warning Event per SIGKILL, breach and action.
	RecordEvents bool

	Probes              []string
	ProbeRate           float64
	ProbeConcurrency    int
	ProbeTimeout        time.Duration
	ProbeNewConnections bool
	ProbeInsecure       bool
	ProbeIdentityHeader string
	ProbeStreams        int
	ProbeTail           time.Duration
	MaxProbeErrors      int
	MaxProbeErrorRate   float64

	PrometheusURL      string
	PrometheusQuery    string
	MaxQueryValue      float64
	PrometheusInterval time.Duration

	// Concurrency and BudgetScope shape a release step (several workloads).
	Concurrency int
	BudgetScope string

	// DebugTrace is the hidden --debug-trace: a file that gets one JSON line per
	// change the guard handled (make bench measures event lag with it).
	DebugTrace string
	// HTML is a file for the report's picture (--html); "" writes none.
	HTML string

	flags *pflag.FlagSet
}

func NewGuardFlags(onBreach policy.Action) GuardFlags {
	return GuardFlags{
		Progress: progressAuto, OnBreach: string(onBreach), MaxGraceUsage: 0.9, ActionTimeout: 30 * time.Second,
		ProbeRate: 20, ProbeConcurrency: 4, ProbeTimeout: 2 * time.Second, ProbeTail: 2 * time.Second,
		MaxProbeErrorRate: -1, PrometheusInterval: 5 * time.Second,
		Concurrency: 1, BudgetScope: string(step.ScopeStep),
	}
}

// onBreachHelp is --on-breach's help: every value it accepts, auto explained
// (pflag appends the command's default).
func onBreachHelp() string {
	return "On a breached budget: pause (stop the rollout where it is), rollback (to the previous revision), none (only report) " +
		"or auto (rollback when the rollout changed more than restartedAt, e.g. an image or config change; pause a restart, which a rollback would only restart again)"
}

// onBreachActions are the values --on-breach accepts.
func onBreachActions() []string {
	var names []string
	for _, a := range policy.Actions() {
		names = append(names, string(a))
	}
	return names
}

// onBreachValues lists the values --on-breach accepts: "pause, rollback, none or auto".
func onBreachValues() string {
	names := onBreachActions()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (f *GuardFlags) AddFlags(fs *pflag.FlagSet, onBreachHelp string) {
	f.flags = fs
	fs.DurationVar(&f.Timeout, "timeout", 0, "Give up after this long (a progress breach: --on-breach applies; exit 5 with none); 0 waits for the progress deadline")
	fs.DurationVar(&f.ActionTimeout, "action-timeout", f.ActionTimeout, "How long a pause or rollback keeps retrying through API errors before it counts as failed")
	fs.StringVar(&f.Progress, "progress", f.Progress, "Progress on stderr: auto (spinner on a terminal), plain (timestamped lines) or none")
	fs.StringVar(&f.OnBreach, "on-breach", f.OnBreach, onBreachHelp)
	fs.BoolVar(&f.Follow, "follow", false, "When someone else rolls out a new revision meanwhile, guard it too, until the workload is complete with no newer one (without it: exit 3 naming the revision)")
	fs.IntVar(&f.MaxSIGKILLs, "max-sigkills", 0, "SIGKILLed containers allowed")
	fs.IntVar(&f.MaxUncleanExits, "max-unclean-exits", 0, "Containers allowed to die on SIGTERM without draining (-1: unlimited, reported)")
	fs.IntVar(&f.MaxNewPodRestarts, "max-new-pod-restarts", 0, "Restarts and failed starts of the new pods allowed (-1: unlimited)")
	fs.StringArrayVar(&f.IgnoreContainers, "ignore-container", nil, "Report this container's exit but do not judge it, e.g. a sidecar whose SIGKILL the team accepts (repeatable; also annotation "+workload.AnnotationIgnoreContainers+": a,b)")
	fs.Float64Var(&f.MaxGraceUsage, "max-grace-usage", f.MaxGraceUsage, "Flag pods that used more than this fraction of their grace period (a budget with --strict)")
	fs.BoolVar(&f.Strict, "strict", false, "Treat preflight warnings as failures and make --max-grace-usage a budget")
	fs.StringArrayVar(&f.Probes, "probe", nil, "Send probe traffic during the rollout: http://HOST[:PORT]/PATH, https://… or grpc://HOST:PORT[/SERVICE] (repeatable)")
	fs.Float64Var(&f.ProbeRate, "probe-rate", f.ProbeRate, "Probe requests per second, over all --probe targets")
	fs.IntVar(&f.ProbeConcurrency, "probe-concurrency", f.ProbeConcurrency, "Probe requests in flight at most")
	fs.DurationVar(&f.ProbeTimeout, "probe-timeout", f.ProbeTimeout, "A probe request taking longer is an error")
	fs.BoolVar(&f.ProbeNewConnections, "probe-new-connections", false, "Dial a new connection per probe request (default: keep-alive, like real clients)")
	fs.BoolVar(&f.ProbeInsecure, "probe-insecure", false, "Accept any TLS certificate of an https:// probe target (self-signed)")
	fs.StringVar(&f.ProbeIdentityHeader, "probe-identity-header", "", "Response header naming the pod that served a probe request, e.g. X-Served-By (gRPC: the response header metadata key, lower-cased). "+
		"Measures each old pod's data-plane propagation (its endpoint not ready to the last request on a new connection it served) and late requests; "+
		"every second probe request then dials a new connection, so a pod gets a sample about every 2×pods÷--probe-rate seconds")
	fs.IntVar(&f.ProbeStreams, "probe-streams", 0, "Hold this many grpc.health.v1.Health/Watch streams open through the rollout (grpc:// targets only), each re-opened on a new connection when it ends; "+
		"one that breaks while its last status was SERVING is a probe error (stream-abrupt), blamed on the pod that served it (--probe-identity-header) or by time")
	fs.DurationVar(&f.ProbeTail, "probe-tail", f.ProbeTail, "Keep probing this long after the rollout completed")
	fs.IntVar(&f.MaxProbeErrors, "max-probe-errors", 0, "Probe errors allowed")
	fs.Float64Var(&f.MaxProbeErrorRate, "max-probe-error-rate", f.MaxProbeErrorRate, "Probe error rate allowed, 0..1 (replaces --max-probe-errors unless that is set too)")
	fs.StringVar(&f.PrometheusURL, "prometheus-url", "", "Prometheus base URL for --prometheus-query")
	fs.StringVar(&f.PrometheusQuery, "prometheus-query", "", "Instant query whose value must stay <= --max-query-value during the rollout")
	fs.Float64Var(&f.MaxQueryValue, "max-query-value", 0, "Largest value --prometheus-query may return")
	fs.DurationVar(&f.PrometheusInterval, "prometheus-interval", f.PrometheusInterval, "How often --prometheus-query is evaluated")
	fs.IntVar(&f.Concurrency, "concurrency", f.Concurrency, "With several workloads (TYPE/NAME..., -l, --all): how many roll at once, in the given order (for -l and --all: Deployments, StatefulSets, then DaemonSets, each by name)")
	fs.StringVar(&f.BudgetScope, "budget-scope", f.BudgetScope, "With several workloads: step (the first breach stops the step: workloads not yet started are not started) or workload (a breach acts on its workload only)")
	fs.BoolVar(&f.RecordEvents, "record-events", false, "Record a Warning Event on the workload (and on the pod while it exists) for every SIGKILL, breach and action, for kubectl describe and event pipelines: the kubelet records none for a SIGKILL at the grace deadline (needs create on events)")
	fs.StringVar(&f.DebugTrace, "debug-trace", "", "Write one JSON line per change the guard handled to this file")
	fs.StringVar(&f.HTML, "html", "", "Also write the report as one self-contained HTML page to this file: a timeline per old pod, the probe traffic, breaches and actions (written on breach too)")
	_ = fs.MarkHidden("debug-trace")
}

func (f *GuardFlags) Validate() error {
	if err := validateOutput(f.Output); err != nil {
		return err
	}
	if !slices.Contains(policy.Actions(), policy.Action(f.OnBreach)) {
		return fmt.Errorf("invalid --on-breach %q: use %s", f.OnBreach, onBreachValues())
	}
	// NaN passes every comparison below and would silently disable a limit.
	for _, v := range []struct {
		flag  string
		value float64
	}{{"--max-grace-usage", f.MaxGraceUsage}, {"--probe-rate", f.ProbeRate}, {"--max-probe-error-rate", f.MaxProbeErrorRate}, {"--max-query-value", f.MaxQueryValue}} {
		if math.IsNaN(v.value) {
			return fmt.Errorf("%s must be a number, got NaN", v.flag)
		}
	}
	switch {
	case f.Timeout < 0:
		return fmt.Errorf("--timeout must not be negative, got %s", f.Timeout)
	case f.ActionTimeout <= 0:
		return fmt.Errorf("--action-timeout must be positive, got %s", f.ActionTimeout)
	case f.MaxSIGKILLs < 0:
		return fmt.Errorf("--max-sigkills must not be negative, got %d", f.MaxSIGKILLs)
	case f.MaxUncleanExits < -1 || f.MaxNewPodRestarts < -1 || f.MaxProbeErrors < -1:
		return errors.New("--max-unclean-exits, --max-new-pod-restarts and --max-probe-errors take a count, or -1 for unlimited")
	case f.MaxGraceUsage < 0:
		return fmt.Errorf("--max-grace-usage must not be negative, got %g", f.MaxGraceUsage)
	case f.ProbeRate <= 0 || f.ProbeConcurrency <= 0 || f.ProbeTimeout <= 0:
		return errors.New("--probe-rate, --probe-concurrency and --probe-timeout must be positive")
	case f.MaxProbeErrorRate > 1:
		return fmt.Errorf("--max-probe-error-rate is a fraction between 0 and 1, got %g", f.MaxProbeErrorRate)
	case (f.PrometheusURL == "") != (f.PrometheusQuery == ""):
		return errors.New("--prometheus-url and --prometheus-query go together")
	case f.PrometheusInterval <= 0:
		return fmt.Errorf("--prometheus-interval must be positive, got %s", f.PrometheusInterval)
	case f.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, got %d", f.Concurrency)
	case !slices.Contains(step.Scopes(), step.Scope(f.BudgetScope)):
		return fmt.Errorf("invalid --budget-scope %q: use step or workload", f.BudgetScope)
	case f.Concurrency > 1 && len(f.Probes) > 0:
		// Each guard probes during its own rollout: two at once would send
		// twice the traffic and blame each other's errors.
		return errors.New("--probe guards one workload at a time: use --concurrency 1")
	}
	if f.PrometheusURL != "" {
		if u, err := url.Parse(f.PrometheusURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("--prometheus-url %q: not an http(s) URL", f.PrometheusURL)
		}
	}
	if len(f.Probes) > 0 {
		if err := f.probeOptions(nil, 0).Validate(); err != nil {
			return err
		}
	}
	if f.ProbeIdentityHeader != "" && len(f.Probes) == 0 {
		return errors.New("--probe-identity-header reads the answers of probe traffic: give a --probe target too")
	}
	if f.ProbeStreams != 0 && len(f.Probes) == 0 {
		return errors.New("--probe-streams holds grpc.health.v1.Health/Watch streams: it needs a grpc://HOST:PORT --probe target")
	}
	return validateProgress(f.Progress)
}

// probeOptions are the probe traffic's options, timed by clk; a gRPC target
// answered NOT_SERVING re-dials for notServingWindow (the drain delay).
func (f *GuardFlags) probeOptions(clk clock.WithTicker, notServingWindow time.Duration) traffic.ProbeOptions {
	return traffic.ProbeOptions{
		Targets: f.Probes, Rate: f.ProbeRate, Concurrency: f.ProbeConcurrency,
		Timeout: f.ProbeTimeout, NewConnections: f.ProbeNewConnections, Clock: clk,
		NotServingWindow: notServingWindow, Insecure: f.ProbeInsecure, IdentityHeader: f.ProbeIdentityHeader,
		Streams: f.ProbeStreams,
	}
}

// limits turns the flags into the guard's breach limits. A rate limit replaces
// the default count limit unless --max-probe-errors was given too.
func (f *GuardFlags) limits() policy.BreachLimits {
	b := policy.BreachLimits{
		MaxSIGKILLs: f.MaxSIGKILLs, MaxUncleanExits: f.MaxUncleanExits, MaxNewPodRestarts: f.MaxNewPodRestarts,
		MaxGraceUsage: f.MaxGraceUsage, StrictGraceUsage: f.Strict,
		MaxProbeErrors: f.MaxProbeErrors, MaxProbeErrorRate: f.MaxProbeErrorRate,
		MaxQueryValue: f.MaxQueryValue,
	}
	if f.MaxProbeErrorRate >= 0 && (f.flags == nil || !f.flags.Changed("max-probe-errors")) {
		b.MaxProbeErrors = -1
	}
	return b
}

// guardRun holds what restart and watch need to run a guard and report it.
type guardRun struct {
	flags  GuardFlags
	budget BudgetFlags
	client kubernetes.Interface
	clock  clock.WithTicker
	// signals stop guarding (SIGINT, SIGTERM); nil: the process's own
	signals signalSource
	// colour is the global --color
	colour *colourMode
	// preflight notes for the report
	preflightSkipped bool
	preflightVerdict string
}

// newGuard is the guard the flags describe; close releases what it opened.
func (g *guardRun) newGuard(withProbe bool) (_ *rollout.Guard, closeGuard func(), err error) {
	guard := &rollout.Guard{
		Client:           g.client,
		Clock:            g.clock,
		GraceBudget:      g.budget.GraceBudget,
		Limits:           g.flags.limits(),
		OnBreach:         policy.Action(g.flags.OnBreach),
		Timeout:          g.flags.Timeout,
		ActionTimeout:    g.flags.ActionTimeout,
		IgnoreContainers: g.flags.IgnoreContainers,
		Follow:           g.flags.Follow,
		Connectivity:     connectivityOf(g.client),
		ProbeTail:        g.flags.ProbeTail,
	}
	closeGuard = func() {}
	if withProbe && len(g.flags.Probes) > 0 {
		// The prober runs on the guard's clock: its error times and the pods'
		// timelines are on one time line.
		prober, err := traffic.NewProber(g.flags.probeOptions(g.clock, g.budget.DrainDelay))
		if err != nil {
			return nil, nil, err
		}
		guard.Probe = prober
	}
	if g.flags.PrometheusURL != "" {
		q := metrics.PrometheusQuery{URL: g.flags.PrometheusURL, Query: g.flags.PrometheusQuery}
		guard.Query = &rollout.MetricQuery{Name: g.flags.PrometheusQuery, Value: q.Value, Interval: g.flags.PrometheusInterval}
	}
	if g.flags.DebugTrace != "" {
		f, err := os.Create(g.flags.DebugTrace)
		if err != nil {
			return nil, nil, fmt.Errorf("--debug-trace: %w", err)
		}
		traceFile := bufio.NewWriter(f)
		guard.Trace = traceFile
		closeGuard = func() { traceFile.Flush(); f.Close() }
	}
	return guard, closeGuard, nil
}

// run guards w until the rollout ends, prints the report and returns the exit code as an error.
func (g *guardRun) run(ctx context.Context, o genericiooptions.IOStreams, w workload.Workload, trigger rollout.Trigger) error {
	// SIGINT or SIGTERM stops guarding, not the rollout: the report so far is
	// still printed, and the exit code says which signal it was.
	ctx, received, stop := notifyContext(ctx, g.signalSource())
	defer stop()
	guard, closeGuard, err := g.newGuard(true)
	if err != nil {
		return err
	}
	defer closeGuard()
	lines := newProgress(g.flags.Progress, o.Out, o.ErrOut, g.flags.Output != "", g.clock)
	recorder := g.newRecorder(lines, o.ErrOut)
	guard.Progress = func(e progress.Event) {
		recorder.Record(e)
		fmt.Fprintln(lines, describeEvent(e))
	}
	report, err := guard.Run(ctx, w, trigger)
	recorder.Close()
	lines.Stop()
	if err != nil {
		if sig := received(); sig != nil {
			// Stopped before the guard had anything to report (watches syncing).
			return withCode(signalExitCode(sig), err)
		}
		return err
	}
	report.PreflightSkipped, report.PreflightVerdict = g.preflightSkipped, g.preflightVerdict
	writeHTMLReport(o.ErrOut, g.flags.HTML, report)
	if err := printRollout(o.Out, report, g.flags.Output, g.colour.on(o.Out)); err != nil {
		return err
	}
	return outcomeError(report, received())
}

// newRecorder is --record-events' recorder (nil without it: records nothing);
// its Events name this host as their reportingInstance. Its warnings go with
// the progress lines (above a spinner), or straight to stderr without them.
func (g *guardRun) newRecorder(lines progressWriter, errOut io.Writer) *record.Recorder {
	if !g.flags.RecordEvents {
		return nil
	}
	warnings := io.Writer(lines)
	if g.flags.Progress == progressNone {
		warnings = errOut
	}
	host, _ := os.Hostname() // "" falls back to the controller's name
	return record.New(g.client, g.clock, warnings, host)
}

func (g *guardRun) signalSource() signalSource {
	if g.signals == nil {
		return processSignals{}
	}
	return g.signals
}

// startSharedProber starts the one probe that several guards share (a release
// step's workloads, a rehearsal's rounds); nil without --probe. stop ends it.
func (g *guardRun) startSharedProber(ctx context.Context) (prober *traffic.Prober, stop func(), err error) {
	if len(g.flags.Probes) == 0 {
		return nil, func() {}, nil
	}
	if prober, err = traffic.NewProber(g.flags.probeOptions(g.clock, g.budget.DrainDelay)); err != nil {
		return nil, nil, err
	}
	probeCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { prober.Run(probeCtx); close(stopped) }()
	return prober, func() { cancel(); <-stopped }, nil
}

// runStep guards several workloads as one release step (rollout/step): at
// most --concurrency at once, in order; with --budget-scope step the first
// breach stops it. trigger starts a workload's rollout (nil: watch). Progress
// lines name their workload; the report has a section per workload.
func (g *guardRun) runStep(ctx context.Context, o genericiooptions.IOStreams, targets []workload.Workload,
	trigger func(workload.Workload) rollout.Trigger) error {
	if g.flags.DebugTrace != "" {
		return errors.New("--debug-trace follows one workload: name one")
	}
	ctx, received, stop := notifyContext(ctx, g.signalSource())
	defer stop()
	// Probe traffic runs once for the whole step (--probe needs --concurrency 1).
	prober, stopProber, err := g.startSharedProber(ctx)
	if err != nil {
		return err
	}
	defer stopProber()
	lines := newProgress(g.flags.Progress, o.Out, o.ErrOut, g.flags.Output != "", g.clock)
	recorder := g.newRecorder(lines, o.ErrOut)
	var mu sync.Mutex // guards running at once share the progress lines
	runner := step.Runner{Concurrency: g.flags.Concurrency, Scope: step.Scope(g.flags.BudgetScope),
		Guard: func(ctx context.Context, w workload.Workload) (*report.Rollout, error) {
			guard, closeGuard, err := g.newGuard(false)
			if err != nil {
				return nil, err
			}
			defer closeGuard()
			if prober != nil {
				guard.Probe = &stepProbe{Prober: prober, clock: g.clock}
			}
			prefix := workload.Ref(w) + ": "
			guard.Progress = func(e progress.Event) {
				recorder.Record(e)
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintln(lines, prefix+describeEvent(e))
			}
			var t rollout.Trigger
			if trigger != nil {
				t = trigger(w)
			}
			rep, err := guard.Run(ctx, w, t)
			if rep != nil {
				rep.PreflightSkipped, rep.PreflightVerdict = g.preflightSkipped, g.preflightVerdict
			}
			return rep, err
		}}
	rep, err := runner.Run(ctx, targets)
	recorder.Close()
	lines.Stop()
	if rep != nil {
		writeHTMLReport(o.ErrOut, g.flags.HTML, rep.Workloads...)
	}
	if prober != nil {
		snap := prober.Snapshot()
		rep.Probe = &snap
	}
	if perr := printStep(o.Out, rep, g.flags.Output, g.colour.on(o.Out)); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	return outcomeError(&report.Rollout{Outcome: rep.Outcome, Message: rep.Message}, received())
}

// outcomeError maps an outcome to the documented exit codes; stoppedBy is the
// signal that interrupted the guard, if one did.
func outcomeError(r *report.Rollout, stoppedBy os.Signal) error {
	switch r.Outcome {
	case report.OutcomeSucceeded, report.OutcomeNoRollout:
		return nil
	case report.OutcomeFailed, report.OutcomePaused, report.OutcomeSuperseded:
		return withCode(ExitBudgetBreached, errors.New(r.Message))
	case report.OutcomeDeleted:
		return withCode(ExitError, errors.New(r.Message))
	case report.OutcomeRolledBack:
		return withCode(ExitRolledBack, errors.New(r.Message))
	case report.OutcomeTimeout:
		return withCode(ExitTimedOut, errors.New(r.Message))
	case report.OutcomeInterrupted:
		if stoppedBy == nil {
			return withCode(ExitInterrupted, errors.New(r.Message))
		}
		return withCode(signalExitCode(stoppedBy), fmt.Errorf("%s (%s)", r.Message, signalName(stoppedBy)))
	}
	return fmt.Errorf("unexpected outcome %q", r.Outcome)
}

// guarding lists the guard flags given explicitly: they only mean something
// while a rollout is guarded.
func (f *GuardFlags) guarding() []string {
	var set []string
	for _, name := range []string{"on-breach", "follow", "timeout", "action-timeout", "max-sigkills", "max-unclean-exits",
		"max-new-pod-restarts", "ignore-container", "max-grace-usage", "probe", "probe-rate", "probe-concurrency", "probe-timeout",
		"probe-new-connections", "probe-insecure", "probe-identity-header", "probe-streams", "probe-tail", "max-probe-errors",
		"max-probe-error-rate", "prometheus-url", "prometheus-query", "max-query-value", "prometheus-interval", "record-events",
		"debug-trace", "html"} {
		if f.flags != nil && f.flags.Changed(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

// checkTimeoutCoversGrace rejects a --timeout the old pods' grace period cannot
// fit in: the guard would give up on every pod that drains as it should.
func (f *GuardFlags) checkTimeoutCoversGrace(w workload.Workload) error {
	grace := time.Duration(ptr.Deref(w.Template().Spec.TerminationGracePeriodSeconds, 30)) * time.Second
	if f.Timeout > 0 && f.Timeout < grace {
		return fmt.Errorf("--timeout %s is shorter than %s's terminationGracePeriodSeconds (%s): the guard would give up before an old pod may finish draining", f.Timeout, workload.Ref(w), grace)
	}
	return nil
}
