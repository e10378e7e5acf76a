package policy

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
)

// defaultBreachLimits are the flags' defaults with a probe and a query set: no
// SIGKILL, unlimited unclean exits, 90 % grace usage reported only, no probe
// error (the count budget), no rate budget, query value at most 0.
func defaultBreachLimits() BreachLimits {
	return BreachLimits{MaxSIGKILLs: 0, MaxUncleanExits: -1, MaxGraceUsage: 0.9, MaxProbeErrors: 0, MaxProbeErrorRate: -1}
}

type wantBreach struct {
	budget          string
	observed, limit float64
	pod             string
}

func (w wantBreach) String() string {
	return fmt.Sprintf("%s %g/%g %s", w.budget, w.observed, w.limit, w.pod)
}

func TestBreachLimitsEvaluate(t *testing.T) {
	with := func(mutate func(*BreachLimits)) BreachLimits {
		b := defaultBreachLimits()
		mutate(&b)
		return b
	}
	probe := func(requests, errors int) Observations {
		return Observations{ProbeRunning: true, ProbeRequests: requests, ProbeErrors: errors}
	}
	query := func(v float64) Observations {
		return Observations{QueryValue: &v, QueryName: "errors"}
	}
	rate := func(r float64) func(*BreachLimits) {
		return func(b *BreachLimits) { b.MaxProbeErrorRate, b.MaxProbeErrors = r, -1 }
	}
	tests := []struct {
		name    string
		budgets BreachLimits
		obs     Observations
		already map[string]bool
		want    []wantBreach
	}{
		{"nothing observed", defaultBreachLimits(), Observations{}, nil, nil},

		{"sigkills: none, budget 0", defaultBreachLimits(), Observations{SIGKILLs: 0}, nil, nil},
		{"sigkills: one above budget 0", defaultBreachLimits(), Observations{SIGKILLs: 1, LastSIGKILLPod: "web-a"}, nil,
			[]wantBreach{{BudgetSIGKILLs, 1, 0, "web-a"}}},
		{"sigkills: below budget 2", with(func(b *BreachLimits) { b.MaxSIGKILLs = 2 }), Observations{SIGKILLs: 1, LastSIGKILLPod: "web-a"}, nil, nil},
		{"sigkills: at budget 2", with(func(b *BreachLimits) { b.MaxSIGKILLs = 2 }), Observations{SIGKILLs: 2, LastSIGKILLPod: "web-b"}, nil, nil},
		{"sigkills: above budget 2", with(func(b *BreachLimits) { b.MaxSIGKILLs = 2 }), Observations{SIGKILLs: 3, LastSIGKILLPod: "web-c"}, nil,
			[]wantBreach{{BudgetSIGKILLs, 3, 2, "web-c"}}},

		{"unclean: unlimited by default", defaultBreachLimits(), Observations{UncleanExits: 1000, LastUncleanPod: "web-a"}, nil, nil},
		{"unclean: unlimited with any negative", with(func(b *BreachLimits) { b.MaxUncleanExits = -7 }), Observations{UncleanExits: 3}, nil, nil},
		{"unclean: budget 0 breached by one", with(func(b *BreachLimits) { b.MaxUncleanExits = 0 }), Observations{UncleanExits: 1, LastUncleanPod: "web-a"}, nil,
			[]wantBreach{{BudgetUncleanExits, 1, 0, "web-a"}}},
		{"unclean: below budget 2", with(func(b *BreachLimits) { b.MaxUncleanExits = 2 }), Observations{UncleanExits: 1}, nil, nil},
		{"unclean: at budget 2", with(func(b *BreachLimits) { b.MaxUncleanExits = 2 }), Observations{UncleanExits: 2}, nil, nil},
		{"unclean: above budget 2", with(func(b *BreachLimits) { b.MaxUncleanExits = 2 }), Observations{UncleanExits: 3, LastUncleanPod: "web-c"}, nil,
			[]wantBreach{{BudgetUncleanExits, 3, 2, "web-c"}}},

		{"grace: report-only without strict", defaultBreachLimits(), Observations{GraceUsage: 0.99, GraceUsagePod: "web-a"}, nil, nil},
		{"grace: strict, below", with(func(b *BreachLimits) { b.StrictGraceUsage = true }), Observations{GraceUsage: 0.85, GraceUsagePod: "web-a"}, nil, nil},
		{"grace: strict, at", with(func(b *BreachLimits) { b.StrictGraceUsage = true }), Observations{GraceUsage: 0.9, GraceUsagePod: "web-a"}, nil, nil},
		{"grace: strict, above", with(func(b *BreachLimits) { b.StrictGraceUsage = true }), Observations{GraceUsage: 0.95, GraceUsagePod: "web-a"}, nil,
			[]wantBreach{{BudgetGraceUsage, 0.95, 0.9, "web-a"}}},
		{"grace: strict, budget 0 disables it", with(func(b *BreachLimits) { b.StrictGraceUsage, b.MaxGraceUsage = true, 0 }), Observations{GraceUsage: 1}, nil, nil},

		{"probe errors: no probe running", defaultBreachLimits(), Observations{ProbeRequests: 10, ProbeErrors: 5}, nil, nil},
		{"probe errors: none, budget 0", defaultBreachLimits(), probe(100, 0), nil, nil},
		{"probe errors: one above budget 0", defaultBreachLimits(), probe(100, 1), nil,
			[]wantBreach{{BudgetProbeErrors, 1, 0, ""}}},
		{"probe errors: below budget 3", with(func(b *BreachLimits) { b.MaxProbeErrors = 3 }), probe(100, 2), nil, nil},
		{"probe errors: at budget 3", with(func(b *BreachLimits) { b.MaxProbeErrors = 3 }), probe(100, 3), nil, nil},
		{"probe errors: above budget 3", with(func(b *BreachLimits) { b.MaxProbeErrors = 3 }), probe(100, 4), nil,
			[]wantBreach{{BudgetProbeErrors, 4, 3, ""}}},
		{"probe errors: count budget disabled", with(func(b *BreachLimits) { b.MaxProbeErrors = -1 }), probe(100, 100), nil, nil},
		{"probe errors: count not subject to the minimum sample", defaultBreachLimits(), probe(1, 1), nil,
			[]wantBreach{{BudgetProbeErrors, 1, 0, ""}}},

		{"rate: below", with(rate(0.1)), probe(100, 9), nil, nil},
		{"rate: at", with(rate(0.1)), probe(100, 10), nil, nil},
		{"rate: above", with(rate(0.1)), probe(100, 11), nil,
			[]wantBreach{{BudgetProbeErrorRate, 0.11, 0.1, ""}}},
		{"rate: above, under the minimum sample", with(rate(0.1)), probe(19, 19), nil, nil},
		{"rate: above, at the minimum sample", with(rate(0.1)), probe(20, 3), nil,
			[]wantBreach{{BudgetProbeErrorRate, 0.15, 0.1, ""}}},
		{"rate: no requests yet", with(rate(0)), Observations{ProbeRunning: true}, nil, nil},
		{"rate: budget 0, one error in the sample", with(rate(0)), probe(20, 1), nil,
			[]wantBreach{{BudgetProbeErrorRate, 0.05, 0, ""}}},
		{"rate: disabled", with(rate(-1)), probe(100, 100), nil, nil},
		{"rate: not without a probe", with(rate(0)), Observations{ProbeRequests: 100, ProbeErrors: 50}, nil, nil},
		{"rate and count both set", with(func(b *BreachLimits) { b.MaxProbeErrorRate, b.MaxProbeErrors = 0.01, 5 }), probe(100, 6), nil,
			[]wantBreach{{BudgetProbeErrors, 6, 5, ""}, {BudgetProbeErrorRate, 0.06, 0.01, ""}}},

		{"prometheus: no value yet", defaultBreachLimits(), Observations{QueryName: "errors"}, nil, nil},
		{"prometheus: below", with(func(b *BreachLimits) { b.MaxQueryValue = 0.5 }), query(0.4), nil, nil},
		{"prometheus: at", with(func(b *BreachLimits) { b.MaxQueryValue = 0.5 }), query(0.5), nil, nil},
		{"prometheus: above", with(func(b *BreachLimits) { b.MaxQueryValue = 0.5 }), query(0.75), nil,
			[]wantBreach{{BudgetPrometheus, 0.75, 0.5, ""}}},
		{"prometheus: default limit 0", defaultBreachLimits(), query(0.001), nil,
			[]wantBreach{{BudgetPrometheus, 0.001, 0, ""}}},
		{"prometheus: negative limit", with(func(b *BreachLimits) { b.MaxQueryValue = -1 }), query(-0.5), nil,
			[]wantBreach{{BudgetPrometheus, -0.5, -1, ""}}},

		{"every budget at once, in order", with(func(b *BreachLimits) {
			b.MaxUncleanExits, b.StrictGraceUsage, b.MaxProbeErrorRate = 0, true, 0.1
		}), Observations{
			SIGKILLs: 1, LastSIGKILLPod: "web-k", UncleanExits: 2, LastUncleanPod: "web-u", GraceUsage: 1, GraceUsagePod: "web-g",
			ProbeRunning: true, ProbeRequests: 40, ProbeErrors: 8, QueryValue: ptr.To(3.0), QueryName: "q",
		}, nil, []wantBreach{
			{BudgetSIGKILLs, 1, 0, "web-k"}, {BudgetUncleanExits, 2, 0, "web-u"}, {BudgetGraceUsage, 1, 0.9, "web-g"},
			{BudgetProbeErrors, 8, 0, ""}, {BudgetProbeErrorRate, 0.2, 0.1, ""}, {BudgetPrometheus, 3, 0, ""},
		}},
		{"already breached budgets are not repeated", with(func(b *BreachLimits) { b.MaxProbeErrorRate = 0.1 }), Observations{
			SIGKILLs: 2, LastSIGKILLPod: "web-k", ProbeRunning: true, ProbeRequests: 40, ProbeErrors: 8,
		}, map[string]bool{BudgetSIGKILLs: true, BudgetProbeErrorRate: true}, []wantBreach{{BudgetProbeErrors, 8, 0, ""}}},
		{"every breached budget already reported", defaultBreachLimits(), Observations{SIGKILLs: 5, ProbeRunning: true, ProbeRequests: 5, ProbeErrors: 5},
			map[string]bool{BudgetSIGKILLs: true, BudgetProbeErrors: true}, nil},
		{"already holds other budgets only", defaultBreachLimits(), Observations{SIGKILLs: 1, LastSIGKILLPod: "web-k"},
			map[string]bool{BudgetProgress: true, BudgetPrometheus: true, BudgetSIGKILLs: false}, []wantBreach{{BudgetSIGKILLs, 1, 0, "web-k"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.budgets.Evaluate(tc.obs, tc.already, rollouttest.At(12))
			var gotW []string
			for _, b := range got {
				gotW = append(gotW, wantBreach{b.Budget, round3(b.Observed), b.Limit, b.Pod}.String())
			}
			var wantW []string
			for _, w := range tc.want {
				wantW = append(wantW, w.String())
			}
			if strings.Join(gotW, "; ") != strings.Join(wantW, "; ") {
				t.Fatalf("Evaluate = [%s], want [%s]", strings.Join(gotW, "; "), strings.Join(wantW, "; "))
			}
			for _, b := range got {
				if !b.At.Equal(rollouttest.At(12)) {
					t.Errorf("%s: at %s, want the evaluation time", b.Budget, b.At)
				}
				if b.Message == "" || b.Action != "" || b.ActionLatencySeconds != nil {
					t.Errorf("%s: message %q, action %q, latency %v; want a message and no action yet", b.Budget, b.Message, b.Action, b.ActionLatencySeconds)
				}
			}
		})
	}
}

func TestBreachLimitsEvaluateMessages(t *testing.T) {
	b := BreachLimits{MaxSIGKILLs: 0, MaxUncleanExits: 1, MaxGraceUsage: 0.9, StrictGraceUsage: true, MaxProbeErrors: 2, MaxProbeErrorRate: 0.05, MaxQueryValue: 1}
	obs := Observations{
		SIGKILLs: 1, UncleanExits: 2, GraceUsage: 0.97,
		ProbeRunning: true, ProbeRequests: 50, ProbeErrors: 3,
		QueryValue: ptr.To(2.5), QueryName: "sum(rate(errors[1m]))",
	}
	want := map[string]string{
		BudgetSIGKILLs:       "1 container SIGKILLed at the grace deadline (budget 0)",
		BudgetUncleanExits:   "2 containers died on SIGTERM without draining (budget 1)",
		BudgetGraceUsage:     "a pod used 97% of its grace period (budget 90%)",
		BudgetProbeErrors:    "3 probe errors in 50 requests (budget 2)",
		BudgetProbeErrorRate: "probe error rate 0.060 (3 of 50) above 0.050",
		BudgetPrometheus:     "Prometheus query sum(rate(errors[1m])) = 2.5, above 1",
	}
	got := b.Evaluate(obs, map[string]bool{}, rollouttest.At(0))
	if len(got) != len(want) {
		t.Fatalf("%d breaches, want %d: %+v", len(got), len(want), got)
	}
	for _, br := range got {
		if br.Message != want[br.Budget] {
			t.Errorf("%s message = %q, want %q", br.Budget, br.Message, want[br.Budget])
		}
	}
}

// Evaluate does not record what it returned: the caller marks budgets as breached.
func TestBreachLimitsEvaluateLeavesAlreadyAlone(t *testing.T) {
	already := map[string]bool{}
	b := defaultBreachLimits()
	obs := Observations{SIGKILLs: 1}
	for range 2 {
		if got := b.Evaluate(obs, already, rollouttest.At(0)); len(got) != 1 {
			t.Fatalf("Evaluate = %+v, want the SIGKILL breach", got)
		}
	}
	if len(already) != 0 {
		t.Errorf("Evaluate wrote to already: %v", already)
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
