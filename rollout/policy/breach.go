// Package policy decides, without side effects, which breach limits a rollout
// exceeded and what to do about it. It reads figures and templates, never the
// cluster.
package policy

import (
	"fmt"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// Budget names, stable keys of the report's breaches[].budget.
const (
	BudgetSIGKILLs       = "sigkills"
	BudgetUncleanExits   = "unclean-exits"
	BudgetGraceUsage     = "grace-usage"
	BudgetProbeErrors    = "probe-errors"
	BudgetProbeErrorRate = "probe-error-rate"
	BudgetPrometheus     = "prometheus"
	BudgetProgress       = "progress"
	BudgetNewPodRestarts = "new-pod-restarts"
)

// BreachLimits are the limits whose breach triggers --on-breach.
type BreachLimits struct {
	MaxSIGKILLs     int
	MaxUncleanExits int // negative: unlimited, only reported
	// MaxNewPodRestarts bounds restarts and failed starts of the new pods;
	// negative: unlimited.
	MaxNewPodRestarts int
	// MaxGraceUsage flags pods that used more than this fraction of their grace
	// period; it is a breach only with StrictGraceUsage.
	MaxGraceUsage    float64
	StrictGraceUsage bool
	// Probe budgets apply when a probe runs; negative disables one.
	MaxProbeErrors    int
	MaxProbeErrorRate float64
	// MaxQueryValue bounds the Prometheus query's value when a query is set.
	MaxQueryValue float64
}

// Breach is one budget that was exceeded, and what the guard did about it.
type Breach struct {
	Budget   string    `json:"budget"`
	Observed float64   `json:"observed"`
	Limit    float64   `json:"limit"`
	Pod      string    `json:"pod,omitempty"`
	At       time.Time `json:"at"`
	Message  string    `json:"message"`
	// Action is paused, rolled-back, rollback-refused, pause-refused, none, or
	// failed: ERROR.
	Action string `json:"action"`
	// ActionLatencySeconds is from the detection to the action's end; null
	// when the action is none.
	ActionLatencySeconds *float64 `json:"actionLatencySeconds"`
	// Attempts are the API calls the action made, with their errors.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one API call of an action.
type Attempt struct {
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// Observations are the figures the limits are checked against.
type Observations struct {
	SIGKILLs, UncleanExits int
	LastSIGKILLPod         string
	LastUncleanPod         string
	// NewPodRestarts counts the new pods' restarts and failed starts;
	// NewPodFailure describes the worst, e.g. "web-abc container app exited 1 (Error)".
	NewPodRestarts int
	NewPodFailure  string
	NewPodFailed   string // its pod
	// GraceUsage is the largest fraction of its grace period an exited pod used.
	GraceUsage    float64
	GraceUsagePod string

	ProbeRunning  bool
	ProbeRequests int
	ProbeErrors   int
	QueryValue    *float64
	QueryName     string
}

// ProbeErrorRateMinSample keeps the first unlucky request from breaching a rate limit.
const ProbeErrorRateMinSample = 20

// Evaluate returns the limits that obs exceeds, skipping the budgets in already.
func (b BreachLimits) Evaluate(obs Observations, already map[string]bool, at time.Time) []Breach {
	var out []Breach
	add := func(budget string, observed, limit float64, pod, msg string) {
		if !already[budget] {
			out = append(out, Breach{Budget: budget, Observed: observed, Limit: limit, Pod: pod, At: at, Message: msg})
		}
	}
	if obs.SIGKILLs > b.MaxSIGKILLs {
		add(BudgetSIGKILLs, float64(obs.SIGKILLs), float64(b.MaxSIGKILLs), obs.LastSIGKILLPod,
			fmt.Sprintf("%s SIGKILLed at the grace deadline (budget %d)", verify.Count(obs.SIGKILLs, "container", "containers"), b.MaxSIGKILLs))
	}
	if b.MaxUncleanExits >= 0 && obs.UncleanExits > b.MaxUncleanExits {
		add(BudgetUncleanExits, float64(obs.UncleanExits), float64(b.MaxUncleanExits), obs.LastUncleanPod,
			fmt.Sprintf("%s died on SIGTERM without draining (budget %d)", verify.Count(obs.UncleanExits, "container", "containers"), b.MaxUncleanExits))
	}
	if b.MaxNewPodRestarts >= 0 && obs.NewPodRestarts > b.MaxNewPodRestarts {
		add(BudgetNewPodRestarts, float64(obs.NewPodRestarts), float64(b.MaxNewPodRestarts), obs.NewPodFailed,
			fmt.Sprintf("new pods restarted or failed to start %d times: %s (budget %d)", obs.NewPodRestarts, obs.NewPodFailure, b.MaxNewPodRestarts))
	}
	if b.StrictGraceUsage && b.MaxGraceUsage > 0 && obs.GraceUsage > b.MaxGraceUsage {
		add(BudgetGraceUsage, obs.GraceUsage, b.MaxGraceUsage, obs.GraceUsagePod,
			fmt.Sprintf("a pod used %.0f%% of its grace period (budget %.0f%%)", obs.GraceUsage*100, b.MaxGraceUsage*100))
	}
	if obs.ProbeRunning {
		if b.MaxProbeErrors >= 0 && obs.ProbeErrors > b.MaxProbeErrors {
			add(BudgetProbeErrors, float64(obs.ProbeErrors), float64(b.MaxProbeErrors), "",
				fmt.Sprintf("%s in %s (budget %d)", verify.Count(obs.ProbeErrors, "probe error", "probe errors"), verify.Count(obs.ProbeRequests, "request", "requests"), b.MaxProbeErrors))
		}
		if b.MaxProbeErrorRate >= 0 && obs.ProbeRequests > 0 {
			rate := float64(obs.ProbeErrors) / float64(obs.ProbeRequests)
			if rate > b.MaxProbeErrorRate && obs.ProbeRequests >= ProbeErrorRateMinSample {
				add(BudgetProbeErrorRate, rate, b.MaxProbeErrorRate, "",
					fmt.Sprintf("probe error rate %.3f (%d of %d) above %.3f", rate, obs.ProbeErrors, obs.ProbeRequests, b.MaxProbeErrorRate))
			}
		}
	}
	if obs.QueryValue != nil && *obs.QueryValue > b.MaxQueryValue {
		add(BudgetPrometheus, *obs.QueryValue, b.MaxQueryValue, "",
			fmt.Sprintf("Prometheus query %s = %g, above %g", obs.QueryName, *obs.QueryValue, b.MaxQueryValue))
	}
	return out
}
