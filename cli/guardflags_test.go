package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
)

// parseGuardFlags registers the guard flags on a fresh FlagSet and parses args.
func parseGuardFlags(t *testing.T, onBreach policy.Action, args ...string) *GuardFlags {
	t.Helper()
	f := NewGuardFlags(onBreach)
	fs := pflag.NewFlagSet("guard", pflag.ContinueOnError)
	f.AddFlags(fs, "on breach")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return &f
}

func TestGuardFlagsDefaults(t *testing.T) {
	f := parseGuardFlags(t, policy.ActionPause)
	if f.OnBreach != "pause" || f.Timeout != 0 || f.Progress != progressAuto || f.MaxSIGKILLs != 0 || f.MaxUncleanExits != 0 || f.MaxNewPodRestarts != 0 || len(f.IgnoreContainers) != 0 ||
		f.MaxGraceUsage != 0.9 || f.Strict || f.ProbeRate != 20 || f.ProbeConcurrency != 4 || f.ProbeTimeout != 2*time.Second ||
		f.ProbeNewConnections || f.ProbeTail != 2*time.Second || f.MaxProbeErrors != 0 || f.MaxProbeErrorRate != -1 ||
		f.PrometheusInterval != 5*time.Second || f.MaxQueryValue != 0 || len(f.Probes) != 0 {
		t.Errorf("defaults = %+v", f)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
	if w := parseGuardFlags(t, policy.ActionAuto); w.OnBreach != "auto" || w.Validate() != nil {
		t.Errorf("watch's default --on-breach = %q (%v), want auto accepted", w.OnBreach, w.Validate())
	}
}

func TestGuardFlagsValidate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		output  string
		wantErr string // "" accepts
	}{
		{"every flag, valid", []string{
			"--timeout=10m", "--progress=plain", "--on-breach=rollback", "--max-sigkills=1", "--max-unclean-exits=2", "--max-grace-usage=0.8", "--strict",
			"--probe=http://127.0.0.1:1/healthz", "--probe=https://127.0.0.1:2/", "--probe=grpc://127.0.0.1:3/web.Shop",
			"--probe-rate=50", "--probe-concurrency=8", "--probe-timeout=500ms", "--probe-new-connections", "--probe-tail=5s",
			"--max-probe-errors=3", "--max-probe-error-rate=0.01",
			"--prometheus-url=https://prom.example:9090/", "--prometheus-query=sum(rate(errors[1m]))", "--max-query-value=0.5", "--prometheus-interval=10s",
		}, "json", ""},
		{"on-breach pause", []string{"--on-breach=pause"}, "", ""},
		{"on-breach none", []string{"--on-breach=none"}, "", ""},
		{"on-breach auto", []string{"--on-breach=auto"}, "", ""},
		{"on-breach unknown", []string{"--on-breach=explode"}, "", `invalid --on-breach "explode"`},
		{"on-breach empty", []string{"--on-breach="}, "", `invalid --on-breach ""`},
		{"on-breach in capitals", []string{"--on-breach=Pause"}, "", `invalid --on-breach "Pause"`},
		{"step of two at once", []string{"--concurrency=2", "--budget-scope=workload"}, "", ""},
		{"no concurrency", []string{"--concurrency=0"}, "", "--concurrency must be at least 1, got 0"},
		{"unknown budget scope", []string{"--budget-scope=release"}, "", `invalid --budget-scope "release": use step or workload`},
		{"probe with two at once", []string{"--concurrency=2", "--probe=http://127.0.0.1:1/"}, "", "--probe guards one workload at a time: use --concurrency 1"},
		{"negative timeout", []string{"--timeout=-1s"}, "", "--timeout must not be negative, got -1s"},
		{"zero timeout", []string{"--timeout=0"}, "", ""},
		{"negative max-sigkills", []string{"--max-sigkills=-1"}, "", "--max-sigkills must not be negative"},
		{"negative max-grace-usage", []string{"--max-grace-usage=-0.5"}, "", "--max-grace-usage must not be negative"},
		{"zero probe rate", []string{"--probe-rate=0"}, "", "--probe-rate, --probe-concurrency and --probe-timeout must be positive"},
		{"negative probe rate", []string{"--probe-rate=-5"}, "", "must be positive"},
		{"zero probe concurrency", []string{"--probe-concurrency=0"}, "", "must be positive"},
		{"zero probe timeout", []string{"--probe-timeout=0s"}, "", "must be positive"},
		{"error rate above 1", []string{"--max-probe-error-rate=1.5"}, "", "--max-probe-error-rate is a fraction between 0 and 1, got 1.5"},
		{"NaN grace usage", []string{"--max-grace-usage=NaN"}, "", "--max-grace-usage must be a number, got NaN"},
		{"NaN probe rate", []string{"--probe-rate=nan"}, "", "--probe-rate must be a number, got NaN"},
		{"NaN error rate", []string{"--max-probe-error-rate=NaN"}, "", "--max-probe-error-rate must be a number, got NaN"},
		{"NaN query value", []string{"--max-query-value=NaN"}, "", "--max-query-value must be a number, got NaN"},
		{"infinite query value", []string{"--max-query-value=+Inf"}, "", ""},
		{"error rate 1", []string{"--max-probe-error-rate=1"}, "", ""},
		{"error rate 0", []string{"--max-probe-error-rate=0"}, "", ""},
		{"prometheus url without query", []string{"--prometheus-url=http://prom:9090"}, "", "--prometheus-url and --prometheus-query go together"},
		{"prometheus query without url", []string{"--prometheus-query=up"}, "", "--prometheus-url and --prometheus-query go together"},
		{"prometheus url not http", []string{"--prometheus-url=ftp://prom:9090", "--prometheus-query=up"}, "", `--prometheus-url "ftp://prom:9090": not an http(s) URL`},
		{"prometheus url without scheme", []string{"--prometheus-url=prom:9090", "--prometheus-query=up"}, "", "not an http(s) URL"},
		{"prometheus url without host", []string{"--prometheus-url=http://", "--prometheus-query=up"}, "", "not an http(s) URL"},
		{"prometheus url unparsable", []string{"--prometheus-url=http://prom:port", "--prometheus-query=up"}, "", "not an http(s) URL"},
		{"prometheus http url", []string{"--prometheus-url=http://prom.monitoring:9090", "--prometheus-query=up"}, "", ""},
		{"prometheus interval zero", []string{"--prometheus-interval=0s"}, "", "--prometheus-interval must be positive"},
		{"probe bad scheme", []string{"--probe=ftp://10.0.0.1/"}, "", `--probe "ftp://10.0.0.1/": scheme must be http, https or grpc`},
		{"probe grpc without port", []string{"--probe=grpc://10.0.0.1"}, "", "grpc:// needs a port"},
		{"probe not a URL", []string{"--probe=web:8080"}, "", "not a URL"},
		{"second probe bad", []string{"--probe=http://10.0.0.1/", "--probe=10.0.0.2"}, "", `--probe "10.0.0.2"`},
		{"progress unknown", []string{"--progress=loud"}, "", `unsupported --progress "loud"`},
		{"output unknown", nil, "xml", `unsupported output format "xml"`},
		{"output yaml", nil, "yaml", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parseGuardFlags(t, policy.ActionPause, tc.args...)
			f.Output = tc.output
			err := f.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate(%q) = %v, want it accepted", tc.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

func TestGuardFlagsBudgets(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want policy.BreachLimits
	}{
		{"defaults", nil,
			policy.BreachLimits{MaxSIGKILLs: 0, MaxGraceUsage: 0.9, MaxProbeErrors: 0, MaxProbeErrorRate: -1}},
		{"count budget", []string{"--max-probe-errors=5"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: 5, MaxProbeErrorRate: -1}},
		{"rate budget replaces the count budget", []string{"--max-probe-error-rate=0.05"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: -1, MaxProbeErrorRate: 0.05}},
		{"rate budget 0 replaces it too", []string{"--max-probe-error-rate=0"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: -1, MaxProbeErrorRate: 0}},
		{"rate and count", []string{"--max-probe-error-rate=0.05", "--max-probe-errors=3"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: 3, MaxProbeErrorRate: 0.05}},
		{"rate and an explicit count of 0", []string{"--max-probe-errors=0", "--max-probe-error-rate=0.05"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: 0, MaxProbeErrorRate: 0.05}},
		{"rate disabled explicitly", []string{"--max-probe-error-rate=-1"},
			policy.BreachLimits{MaxGraceUsage: 0.9, MaxProbeErrors: 0, MaxProbeErrorRate: -1}},
		{"strict grace usage", []string{"--strict", "--max-grace-usage=0.75"},
			policy.BreachLimits{MaxGraceUsage: 0.75, StrictGraceUsage: true, MaxProbeErrorRate: -1}},
		{"unlimited unclean exits and new pod restarts", []string{"--max-unclean-exits=-1", "--max-new-pod-restarts=-1"},
			policy.BreachLimits{MaxUncleanExits: -1, MaxNewPodRestarts: -1, MaxGraceUsage: 0.9, MaxProbeErrorRate: -1}},
		{"sigkills, unclean exits, query", []string{"--max-sigkills=2", "--max-unclean-exits=1", "--max-query-value=0.25"},
			policy.BreachLimits{MaxSIGKILLs: 2, MaxUncleanExits: 1, MaxGraceUsage: 0.9, MaxQueryValue: 0.25, MaxProbeErrorRate: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseGuardFlags(t, policy.ActionPause, tc.args...).limits(); got != tc.want {
				t.Errorf("budgets(%q) =\n%+v\nwant\n%+v", tc.args, got, tc.want)
			}
		})
	}

	// Without a FlagSet nothing says --max-probe-errors was given: the rate wins.
	f := NewGuardFlags(policy.ActionPause)
	f.MaxProbeErrorRate, f.MaxProbeErrors = 0.1, 4
	if got := f.limits(); got.MaxProbeErrors != -1 || got.MaxProbeErrorRate != 0.1 {
		t.Errorf("budgets without flags = %+v, want the rate budget only", got)
	}
}

// The commands reject bad guard flags before contacting the cluster.
func TestGuardFlagsBadInputThroughCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restart", "deployment/web", "--on-breach=explode"}, `invalid --on-breach "explode"`},
		{[]string{"restart", "deployment/web", "--timeout=-5s"}, "--timeout must not be negative"},
		{[]string{"watch", "deployment/web", "--max-probe-error-rate=2"}, "--max-probe-error-rate is a fraction"},
		{[]string{"watch", "deployment/web", "--prometheus-url=http://prom:9090"}, "go together"},
		{[]string{"watch", "deployment/web", "--prometheus-query=up"}, "go together"},
		{[]string{"restart", "deployment/web", "--prometheus-url=file:///etc/passwd", "--prometheus-query=up"}, "not an http(s) URL"},
		{[]string{"watch", "deployment/web", "--probe=ftp://10.0.0.1/"}, "scheme must be http, https or grpc"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCmd(t, tc.args...)
			assertOneErrorLine(t, r)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.want)
			}
		})
	}
}

func TestGuardFlagsRejectNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"--max-unclean-exits=-2"}, {"--max-new-pod-restarts=-5"}, {"--max-probe-errors=-3"},
		{"--probe-rate=0"}, {"--action-timeout=0s"}, {"--timeout=-1s"},
	} {
		if err := parseGuardFlags(t, policy.ActionPause, args...).Validate(); err == nil {
			t.Errorf("Validate(%q) accepted nonsense", args)
		}
	}
}

// A dry run guards nothing: guard flags with it are rejected before any read.
func TestRestartDryRunRejectsGuardFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--on-breach=rollback", "--probe", "http://127.0.0.1:1/"}, "--on-breach, --probe do not apply"},
		{[]string{"--html", filepath.Join(t.TempDir(), "r.html")}, "--html does not apply"},
		{[]string{"--record-events", "--probe-tail=5s"}, "--probe-tail, --record-events do not apply"},
	} {
		r := runCmd(t, append([]string{"restart", "deploy/web", "--dry-run=server"}, tc.args...)...)
		assertOneErrorLine(t, r)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, r.stderr, tc.want)
		}
	}
}

// --on-breach lists exactly the values it accepts, auto included, and both
// commands' help explains each of them.
func TestOnBreachValuesAndHelp(t *testing.T) {
	r := runCmd(t, "restart", "deployment/web", "--on-breach=bogus")
	assertOneErrorLine(t, r)
	if want := "error: invalid --on-breach \"bogus\": use pause, rollback, none or auto\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	for _, a := range policy.Actions() {
		if !strings.Contains(r.stderr, string(a)) {
			t.Errorf("the error does not list %q, which --on-breach accepts", a)
		}
	}
	for cmd, def := range map[string]policy.Action{"restart": policy.ActionPause, "watch": policy.ActionAuto} {
		help := runCmd(t, cmd, "--help").stdout
		_, flag, _ := strings.Cut(help, "--on-breach string")
		flag, _, _ = strings.Cut(flag, "\n      --")
		flag = strings.Join(strings.Fields(flag), " ")
		for _, want := range []string{"pause (", "rollback (", "none (", "auto (rollback when the rollout changed more than restartedAt", `(default "` + string(def) + `")`} {
			if !strings.Contains(flag, want) {
				t.Errorf("%s --help: --on-breach says %q, want it to contain %q", cmd, flag, want)
			}
		}
	}
}
