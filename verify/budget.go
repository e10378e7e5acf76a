package verify

import (
	"fmt"
	"math"
	"time"
)

// Annotation keys that override the budget inputs for one Deployment.
const (
	AnnotationEndpointPropagation = "safe-rollout.io/endpoint-propagation"
	AnnotationDrainDelay          = "safe-rollout.io/drain-delay"
	AnnotationMaxRequest          = "safe-rollout.io/max-request"
	AnnotationSafetyMargin        = "safe-rollout.io/safety-margin"
)

// GraceBudget holds the inputs of the grace-period formula:
// grace >= endpoint_propagation + drain_delay + max_request + safety_margin.
type GraceBudget struct {
	EndpointPropagation time.Duration
	DrainDelay          time.Duration
	MaxRequest          time.Duration
	SafetyMargin        time.Duration
	// Stated marks the inputs someone gave (flags, annotations); the others are
	// DefaultGraceBudget's assumptions. A grace period short of what only the
	// assumptions add is a warning: a failure must rest on stated numbers and on
	// the manifest's own facts (its preStop sleeps).
	Stated BudgetInputs
	// PropagationFrom is the load balancer whose assumed deregistration time
	// replaced the default endpoint propagation; nil when none did.
	PropagationFrom *LoadBalancerFront
}

// BudgetInputs marks each input of the grace budget.
type BudgetInputs struct {
	EndpointPropagation, DrainDelay, MaxRequest, SafetyMargin bool
}

// AllStated marks every input as given, for callers whose inputs are all measured.
func AllStated() BudgetInputs {
	return BudgetInputs{EndpointPropagation: true, DrainDelay: true, MaxRequest: true, SafetyMargin: true}
}

// DefaultGraceBudget is used when neither flags nor annotations say otherwise.
func DefaultGraceBudget() GraceBudget {
	return GraceBudget{
		EndpointPropagation: 5 * time.Second,
		DrainDelay:          5 * time.Second,
		MaxRequest:          15 * time.Second,
		SafetyMargin:        5 * time.Second,
	}
}

// WithAnnotations returns the budget with the Deployment's annotations applied on top.
func (b GraceBudget) WithAnnotations(annotations map[string]string) (GraceBudget, error) {
	for key, field := range map[string]struct {
		value  *time.Duration
		stated *bool
	}{
		AnnotationEndpointPropagation: {&b.EndpointPropagation, &b.Stated.EndpointPropagation},
		AnnotationDrainDelay:          {&b.DrainDelay, &b.Stated.DrainDelay},
		AnnotationMaxRequest:          {&b.MaxRequest, &b.Stated.MaxRequest},
		AnnotationSafetyMargin:        {&b.SafetyMargin, &b.Stated.SafetyMargin},
	} {
		raw, ok := annotations[key]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return b, fmt.Errorf("annotation %s: %q is not a non-negative duration such as 5s", key, raw)
		}
		*field.value, *field.stated = d, true
	}
	return b, nil
}

// Validate rejects negative inputs, which would make the formula meaningless.
func (b GraceBudget) Validate() error {
	for name, d := range map[string]time.Duration{
		"--endpoint-propagation": b.EndpointPropagation,
		"--drain-delay":          b.DrainDelay,
		"--max-request":          b.MaxRequest,
		"--safety-margin":        b.SafetyMargin,
	} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative, got %s", name, d)
		}
	}
	return nil
}

// Requirement is the budget formula evaluated with one effective drain delay.
type Requirement struct {
	GraceBudget
	// EffectiveDrain is the drain delay actually spent: the larger of the budget's
	// drain delay and a preStop sleep.
	EffectiveDrain time.Duration
	Total          time.Duration
	// PreStopSleep is the preStop sleep the requirement was evaluated with.
	PreStopSleep time.Duration
	// Known sums only the stated inputs and the preStop sleep: what the grace
	// period needs for a fact.
	Known time.Duration
}

// Require evaluates the formula; a preStop sleep longer than the drain delay replaces it.
// The sum saturates: inputs too large for a Duration make the requirement
// unbounded (∞), never a negative number that every grace period would meet.
func (b GraceBudget) Require(preStopSleep time.Duration) Requirement {
	drain := max(b.DrainDelay, preStopSleep)
	stated := func(d time.Duration, ok bool) time.Duration {
		if ok {
			return d
		}
		return 0
	}
	return Requirement{
		GraceBudget:    b,
		EffectiveDrain: drain,
		Total:          sumDurations(b.EndpointPropagation, drain, b.MaxRequest, b.SafetyMargin),
		PreStopSleep:   preStopSleep,
		Known: sumDurations(stated(b.EndpointPropagation, b.Stated.EndpointPropagation),
			max(stated(b.DrainDelay, b.Stated.DrainDelay), preStopSleep),
			stated(b.MaxRequest, b.Stated.MaxRequest), stated(b.SafetyMargin, b.Stated.SafetyMargin)),
	}
}

// Assumed names the inputs that come from assumptions and add to the total: a
// drain delay a longer preStop sleep replaces is not one of them.
func (r Requirement) Assumed() []string {
	var out []string
	for _, in := range []struct {
		name   string
		value  time.Duration
		stated bool
	}{
		{r.propagationName(), r.EndpointPropagation, r.Stated.EndpointPropagation},
		{"drain delay", r.DrainDelay - min(r.DrainDelay, r.PreStopSleep), r.Stated.DrainDelay},
		{"max request", r.MaxRequest, r.Stated.MaxRequest},
		{"safety margin", r.SafetyMargin, r.Stated.SafetyMargin},
	} {
		if !in.stated && in.value > 0 {
			out = append(out, in.name)
		}
	}
	return out
}

// propagationName is "endpoint propagation", with the load balancer it was
// assumed for when one fronts the pods.
func (r Requirement) propagationName() string {
	if f := r.PropagationFrom; f != nil {
		return fmt.Sprintf("endpoint propagation (%s assumed for %s, %s)", seconds(f.Propagation), f.Kind, f.Evidence)
	}
	return "endpoint propagation"
}

// Unbounded tells that no grace period can meet the requirement: a preStop hook
// that never ends, or inputs whose sum is beyond a Duration.
func (r Requirement) Unbounded() bool {
	return r.Total == maxDuration
}

// Seconds is the requirement rounded up to whole seconds, as terminationGracePeriodSeconds
// wants; math.MaxInt64 when the requirement is unbounded.
func (r Requirement) Seconds() int64 {
	if r.Unbounded() {
		return math.MaxInt64
	}
	return int64(math.Ceil(r.Total.Seconds()))
}

// KnownSeconds is Known rounded up to whole seconds; math.MaxInt64 when it never ends.
func (r Requirement) KnownSeconds() int64 {
	if r.Known == maxDuration {
		return math.MaxInt64
	}
	return int64(math.Ceil(r.Known.Seconds()))
}

// Formula spells the sum with its numbers, e.g. "5s endpoint propagation + 5s drain delay + ...".
func (r Requirement) Formula() string {
	propagation := "endpoint propagation"
	if f := r.PropagationFrom; f != nil {
		propagation += " (assumed: " + f.Kind + ")"
	}
	return fmt.Sprintf("%s %s + %s drain delay + %s max request + %s safety margin",
		seconds(r.EndpointPropagation), propagation, seconds(r.EffectiveDrain), seconds(r.MaxRequest), seconds(r.SafetyMargin))
}

// unbounded is how messages print a duration that never ends (a saturated sum,
// sleep infinity).
const unbounded = "∞"

// seconds prints a duration in seconds: "5s", "7.50s", or ∞ when it never ends.
func seconds(d time.Duration) string {
	switch {
	case d == maxDuration:
		return unbounded
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// wholeSeconds prints a count of seconds from Requirement.Seconds: "30s", or ∞.
func wholeSeconds(n int64) string {
	if n == math.MaxInt64 {
		return unbounded
	}
	return fmt.Sprintf("%ds", n)
}

// maxDuration stands for "never ends": sums of durations saturate there instead
// of wrapping around to a negative duration that passes every comparison.
const maxDuration = time.Duration(math.MaxInt64)

// addSaturating adds two durations, stopping at the largest (or smallest)
// Duration instead of overflowing.
func addSaturating(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > maxDuration-b:
		return maxDuration
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

func sumDurations(ds ...time.Duration) time.Duration {
	var total time.Duration
	for _, d := range ds {
		total = addSaturating(total, d)
	}
	return total
}

// secondsDuration converts whole seconds from a manifest (terminationGracePeriodSeconds,
// a sleep action's seconds) to a Duration, saturating for values beyond its range.
func secondsDuration(s int64) time.Duration {
	const limit = int64(maxDuration / time.Second)
	switch {
	case s > limit:
		return maxDuration
	case s < -limit:
		return -maxDuration
	}
	return time.Duration(s) * time.Second
}
