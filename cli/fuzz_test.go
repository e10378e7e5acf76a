package cli

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
)

// Hostile flag values: parsing and validating restart's and watch's flags never
// panics, and a rejection is one line the user can read (exitCode prints it as
// "error: ..."; a newline would be folded into a mess).

// restartFlags are restart's guard and budget flags on a fresh FlagSet, as the command registers them.
func restartFlags() (*GuardFlags, *BudgetFlags, *pflag.FlagSet) {
	guard, budget := NewGuardFlags(policy.ActionPause), NewBudgetFlags()
	fs := pflag.NewFlagSet("restart", pflag.ContinueOnError)
	fs.SetOutput(discardWriter{})
	guard.AddFlags(fs, "on breach")
	budget.AddFlags(fs)
	return &guard, &budget, fs
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// parseAndValidate sets --name=value and validates as restart's Validate does; the
// error is the first that would reach the user.
func parseAndValidate(name, value string) (*GuardFlags, *BudgetFlags, error) {
	guard, budget, fs := restartFlags()
	if err := fs.Parse([]string{"--" + name + "=" + value}); err != nil {
		return guard, budget, err
	}
	if err := budget.Validate(); err != nil {
		return guard, budget, err
	}
	return guard, budget, guard.Validate()
}

// checkOneLine fails when a rejection is empty or spans lines.
func checkOneLine(t *testing.T, input string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); strings.TrimSpace(msg) == "" || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("input %q: error is not one line: %q", input, msg)
	}
}

// durationFlags are every duration flag of restart and watch.
var durationFlags = []string{
	"timeout", "action-timeout", "probe-timeout", "probe-tail", "prometheus-interval",
	"endpoint-propagation", "drain-delay", "max-request", "safety-margin",
}

func FuzzDurationFlags(f *testing.F) {
	// Values from the README, the scripts and the e2e suite, and their near misses.
	for i, v := range []string{"5s", "10m", "120s", "1m30s", "500ms", "2s", "3m", "0", "0s", "-1s", "1h", "15s",
		"5", "1e3s", "9223372036854775807ns", "1.5.5s", "", "μs", "5 s"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := durationFlags[int(which)%len(durationFlags)]
		guard, budget, err := parseAndValidate(name, value)
		checkOneLine(t, "--"+name+"="+value, err)
		if err != nil {
			return
		}
		// Accepted values are the ones the guard can work with.
		switch {
		case guard.Timeout < 0, guard.ActionTimeout <= 0, guard.ProbeTimeout <= 0, guard.PrometheusInterval <= 0,
			budget.EndpointPropagation < 0, budget.DrainDelay < 0, budget.MaxRequest < 0, budget.SafetyMargin < 0:
			t.Errorf("--%s=%q accepted: guard %+v, budget %+v", name, value, guard, budget.GraceBudget)
		}
	})
}

// budgetFlags are the breach limits and the probe's figures.
var budgetFlags = []string{
	"max-sigkills", "max-unclean-exits", "max-new-pod-restarts", "max-grace-usage", "max-probe-errors",
	"max-probe-error-rate", "max-query-value", "probe-rate", "probe-concurrency", "on-breach",
}

func FuzzBudgetFlags(f *testing.F) {
	for i, v := range []string{"0", "1", "-1", "-2", "0.9", "0.01", "1.5", "200", "100", "NaN", "Inf", "-Inf",
		"1e309", "0x10", "2147483648", "pause", "rollback", "none", "auto", "Pause", ""} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := budgetFlags[int(which)%len(budgetFlags)]
		guard, _, err := parseAndValidate(name, value)
		checkOneLine(t, "--"+name+"="+value, err)
		if err != nil {
			return
		}
		l := guard.limits()
		switch {
		case l.MaxSIGKILLs < 0, l.MaxUncleanExits < -1, l.MaxNewPodRestarts < -1, l.MaxProbeErrors < -1,
			!(l.MaxGraceUsage >= 0), l.MaxProbeErrorRate > 1, !(guard.ProbeRate > 0), guard.ProbeConcurrency <= 0:
			t.Errorf("--%s=%q accepted: limits %+v, probe rate %g, concurrency %d", name, value, l, guard.ProbeRate, guard.ProbeConcurrency)
		}
	})
}
