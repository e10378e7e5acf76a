package verify

import (
	"math"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

func TestDefaultGraceBudget(t *testing.T) {
	want := GraceBudget{EndpointPropagation: 5 * time.Second, DrainDelay: 5 * time.Second, MaxRequest: 15 * time.Second, SafetyMargin: 5 * time.Second}
	if got := DefaultGraceBudget(); got != want {
		t.Errorf("DefaultGraceBudget() = %+v, want %+v", got, want)
	}
	if err := DefaultGraceBudget().Validate(); err != nil {
		t.Errorf("DefaultGraceBudget().Validate() = %v", err)
	}
}

func TestWithAnnotations(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        GraceBudget
		wantErr     string
	}{
		{name: "none", annotations: nil, want: DefaultGraceBudget()},
		{name: "unrelated annotations", annotations: map[string]string{"deployment.kubernetes.io/revision": "3"}, want: DefaultGraceBudget()},
		{name: "every input", annotations: map[string]string{
			AnnotationEndpointPropagation: "2s", AnnotationDrainDelay: "8s", AnnotationMaxRequest: "1m", AnnotationSafetyMargin: "500ms",
		}, want: GraceBudget{EndpointPropagation: 2 * time.Second, DrainDelay: 8 * time.Second, MaxRequest: time.Minute, SafetyMargin: 500 * time.Millisecond, Stated: AllStated()}},
		{name: "one input", annotations: map[string]string{AnnotationMaxRequest: "45s"},
			want: GraceBudget{EndpointPropagation: 5 * time.Second, DrainDelay: 5 * time.Second, MaxRequest: 45 * time.Second, SafetyMargin: 5 * time.Second,
				Stated: BudgetInputs{MaxRequest: true}}},
		{name: "zero is allowed", annotations: map[string]string{AnnotationSafetyMargin: "0s"},
			want: GraceBudget{EndpointPropagation: 5 * time.Second, DrainDelay: 5 * time.Second, MaxRequest: 15 * time.Second, Stated: BudgetInputs{SafetyMargin: true}}},
		{name: "not a duration", annotations: map[string]string{AnnotationDrainDelay: "soon"},
			wantErr: `annotation safe-rollout.io/drain-delay: "soon" is not a non-negative duration`},
		{name: "no unit", annotations: map[string]string{AnnotationMaxRequest: "30"},
			wantErr: `annotation safe-rollout.io/max-request: "30"`},
		{name: "negative", annotations: map[string]string{AnnotationEndpointPropagation: "-1s"},
			wantErr: `annotation safe-rollout.io/endpoint-propagation: "-1s"`},
		{name: "empty", annotations: map[string]string{AnnotationSafetyMargin: ""},
			wantErr: `annotation safe-rollout.io/safety-margin: ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DefaultGraceBudget().WithAnnotations(tc.annotations)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WithAnnotations(%v) error = %v, want one containing %q", tc.annotations, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("WithAnnotations(%v) error = %v", tc.annotations, err)
			}
			if got != tc.want {
				t.Errorf("WithAnnotations(%v) = %+v, want %+v", tc.annotations, got, tc.want)
			}
		})
	}
}

func TestWithAnnotationsStartsFromTheFlags(t *testing.T) {
	flags := GraceBudget{EndpointPropagation: time.Second, DrainDelay: 2 * time.Second, MaxRequest: 3 * time.Second, SafetyMargin: 4 * time.Second}
	got, err := flags.WithAnnotations(map[string]string{AnnotationDrainDelay: "20s"})
	if err != nil {
		t.Fatal(err)
	}
	want := flags
	want.DrainDelay = 20 * time.Second
	want.Stated.DrainDelay = true
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if flags.DrainDelay != 2*time.Second {
		t.Errorf("WithAnnotations modified its receiver: %+v", flags)
	}
}

// The annotations reach the checks: a Deployment that measured a long max request
// needs a longer grace period.
func TestAnnotationsOverrideTheBudgetInChecks(t *testing.T) {
	d := deployment(withAnnotations(AnnotationMaxRequest, "40s", AnnotationDrainDelay, "1s"))
	b, err := DefaultGraceBudget().WithAnnotations(d.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	r := CheckDeployment(d, b, localEnv)
	// 30s < 41s, the stated 1s drain delay and 40s max request alone: a fact.
	gb := findCheck(t, r, CheckGraceBudget, "")
	if gb.Status != StatusFail || !strings.Contains(gb.Message, "< 51s = 5s endpoint propagation + 1s drain delay + 40s max request + 5s safety margin; even without the assumed endpoint propagation, safety margin it needs 41s") {
		t.Errorf("grace-budget = %s %q", gb.Status, gb.Message)
	}
	rr := findCheck(t, r, CheckReadinessReaction, "app")
	if rr.Status != StatusWarn || !strings.Contains(rr.Message, "slower than the 1s drain delay") {
		t.Errorf("readiness-reaction = %s %q", rr.Status, rr.Message)
	}
}

func TestBudgetValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    GraceBudget
		want string
	}{
		{"endpoint propagation", GraceBudget{EndpointPropagation: -time.Second}, "--endpoint-propagation must not be negative, got -1s"},
		{"drain delay", GraceBudget{DrainDelay: -time.Second}, "--drain-delay must not be negative"},
		{"max request", GraceBudget{MaxRequest: -time.Millisecond}, "--max-request must not be negative, got -1ms"},
		{"safety margin", GraceBudget{SafetyMargin: -time.Minute}, "--safety-margin must not be negative"},
	} {
		err := tc.b.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := (GraceBudget{}).Validate(); err != nil {
		t.Errorf("zero budget: Validate() = %v", err)
	}
}

func TestRequire(t *testing.T) {
	b := DefaultGraceBudget()
	tests := []struct {
		name         string
		sleep        time.Duration
		wantDrain    time.Duration
		wantTotal    time.Duration
		wantSeconds  int64
		wantFormular string
	}{
		{"no preStop sleep", 0, 5 * time.Second, 30 * time.Second, 30,
			"5s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin"},
		{"shorter sleep keeps the drain delay", 3 * time.Second, 5 * time.Second, 30 * time.Second, 30,
			"5s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin"},
		{"equal sleep", 5 * time.Second, 5 * time.Second, 30 * time.Second, 30,
			"5s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin"},
		{"longer sleep replaces the drain delay", 12 * time.Second, 12 * time.Second, 37 * time.Second, 37,
			"5s endpoint propagation + 12s drain delay + 15s max request + 5s safety margin"},
		{"fractional sleep rounds up", 7500 * time.Millisecond, 7500 * time.Millisecond, 32500 * time.Millisecond, 33,
			"5s endpoint propagation + 7.50s drain delay + 15s max request + 5s safety margin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Require(tc.sleep)
			if r.EffectiveDrain != tc.wantDrain || r.Total != tc.wantTotal || r.Seconds() != tc.wantSeconds {
				t.Errorf("Require(%s) = drain %s, total %s, seconds %d; want %s, %s, %d",
					tc.sleep, r.EffectiveDrain, r.Total, r.Seconds(), tc.wantDrain, tc.wantTotal, tc.wantSeconds)
			}
			if got := r.Formula(); got != tc.wantFormular {
				t.Errorf("Formula() = %q, want %q", got, tc.wantFormular)
			}
			if r.GraceBudget != b {
				t.Errorf("Requirement.GraceBudget = %+v, want %+v", r.GraceBudget, b)
			}
		})
	}
}

func TestFormulaSubSecond(t *testing.T) {
	r := GraceBudget{EndpointPropagation: 1250 * time.Millisecond, DrainDelay: 0, MaxRequest: 2 * time.Minute, SafetyMargin: 100 * time.Millisecond}.Require(0)
	want := "1.25s endpoint propagation + 0s drain delay + 120s max request + 0.10s safety margin"
	if got := r.Formula(); got != want {
		t.Errorf("Formula() = %q, want %q", got, want)
	}
	if got := r.Seconds(); got != 122 {
		t.Errorf("Seconds() = %d, want 122", got)
	}
}

func TestAddSaturating(t *testing.T) {
	const minDuration = time.Duration(math.MinInt64)
	for _, tc := range []struct {
		a, b, want time.Duration
	}{
		{5 * time.Second, 10 * time.Second, 15 * time.Second},
		{maxDuration, 0, maxDuration},
		{maxDuration, time.Nanosecond, maxDuration},
		{maxDuration - time.Second, time.Second, maxDuration},
		{maxDuration - time.Second, 2 * time.Second, maxDuration},
		{maxDuration, maxDuration, maxDuration},
		{minDuration, -time.Nanosecond, minDuration},
		{minDuration + time.Second, -2 * time.Second, minDuration},
		{maxDuration, minDuration, -time.Nanosecond},
		{-5 * time.Second, 2 * time.Second, -3 * time.Second},
	} {
		if got := addSaturating(tc.a, tc.b); got != tc.want {
			t.Errorf("addSaturating(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSecondsDuration(t *testing.T) {
	for _, tc := range []struct {
		s    int64
		want time.Duration
	}{
		{30, 30 * time.Second},
		{0, 0},
		{9223372036, 9223372036 * time.Second},
		{9223372037, maxDuration},
		{math.MaxInt64, maxDuration},
		{-9223372037, -maxDuration},
	} {
		if got := secondsDuration(tc.s); got != tc.want {
			t.Errorf("secondsDuration(%d) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

// A sum beyond a Duration used to wrap around to a negative requirement that
// every grace period met; now it saturates and prints as ∞.
func TestRequireSaturates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       GraceBudget
		sleep   time.Duration
		formula string
	}{
		{"preStop sleep infinity", DefaultGraceBudget(), maxDuration,
			"5s endpoint propagation + ∞ drain delay + 15s max request + 5s safety margin"},
		{"inputs whose sum is beyond a Duration", *budgetWith(func(b *GraceBudget) { b.MaxRequest = 2562047 * time.Hour; b.SafetyMargin = time.Hour }), 0,
			"5s endpoint propagation + 5s drain delay + 9223369200s max request + 3600s safety margin"},
		{"every input at the maximum", GraceBudget{EndpointPropagation: maxDuration, DrainDelay: maxDuration, MaxRequest: maxDuration, SafetyMargin: maxDuration}, maxDuration,
			"∞ endpoint propagation + ∞ drain delay + ∞ max request + ∞ safety margin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.b.Require(tc.sleep)
			if r.Total != maxDuration || !r.Unbounded() || r.Seconds() != math.MaxInt64 {
				t.Errorf("Require = total %d, unbounded %v, seconds %d; want saturated", r.Total, r.Unbounded(), r.Seconds())
			}
			if got := r.Formula(); got != tc.formula {
				t.Errorf("Formula() = %q, want %q", got, tc.formula)
			}
		})
	}
	if r := DefaultGraceBudget().Require(maxDuration - time.Hour); r.Unbounded() || r.Seconds() <= 0 {
		t.Errorf("a sum just below the maximum: unbounded %v, seconds %d", r.Unbounded(), r.Seconds())
	}
}

func TestGraceBudgetSaturates(t *testing.T) {
	huge := budgetWith(func(b *GraceBudget) { b.MaxRequest = 2562047 * time.Hour; b.Stated = AllStated() })
	hugePlus := budgetWith(func(b *GraceBudget) {
		b.MaxRequest = 2562047 * time.Hour
		b.SafetyMargin = time.Hour
		b.Stated = AllStated()
	})
	zero := &GraceBudget{}
	sleeping := func(cmd ...string) *appsv1.Deployment {
		return deployment(withContainers(goodContainer("app", execPreStop(cmd...))))
	}
	runCheckCases(t, CheckGraceBudget, []checkCase{
		{name: "--max-request=2562047h", dep: deployment(), budget: huge, want: StatusFail,
			contains: []string{"terminationGracePeriodSeconds 30 < 9223369215s"}},
		{name: "--max-request=2562047h --safety-margin=1h", dep: deployment(), budget: hugePlus, want: StatusFail,
			contains: []string{"terminationGracePeriodSeconds 30 < ∞ = 5s endpoint propagation + 5s drain delay + 9223369200s max request + 3600s safety margin"},
			fixHas:   "no grace period is long enough"},
		{name: "sleep infinity, grace 30", dep: sleeping("sleep", "infinity"), want: StatusFail,
			contains: []string{"terminationGracePeriodSeconds 30 < ∞ = 5s endpoint propagation + ∞ drain delay + 15s max request + 5s safety margin"},
			fixHas:   "make every preStop hook end"},
		{name: "sleep infinity in a draining hook", dep: sleeping("sh", "-c", "curl -s localhost:8080/drain; exec sleep infinity"), want: StatusFail,
			contains: []string{"< ∞"}},
		{name: "sleep infinity, the longest grace period", dep: deployment(withGrace(math.MaxInt64), withContainers(goodContainer("app", execPreStop("sleep", "inf")))),
			want: StatusFail, contains: []string{"terminationGracePeriodSeconds 9223372036854775807 < ∞"}},
		{name: "a sleep as long as the grace period, with nothing else in the budget", dep: sleeping("sleep", "30"), budget: zero, want: StatusFail,
			contains: []string{"terminationGracePeriodSeconds 30 is not longer than the 30s a preStop hook sleeps (30s = 0s endpoint propagation + 30s drain delay"},
			fixHas:   "shorten the preStop sleep"},
		{name: "a draining hook's sleep counts", dep: sleeping("sh", "-c", "curl -XPOST localhost:8080/drain && sleep 15"), want: StatusWarn,
			contains: []string{"terminationGracePeriodSeconds 30 < 40s = 5s endpoint propagation + 15s drain delay", "short only by the assumed endpoint propagation, max request, safety margin"}},
		{name: "a draining hook's sleep counts, measured inputs", dep: sleeping("sh", "-c", "curl -XPOST localhost:8080/drain && sleep 15"),
			budget: budgetWith(func(b *GraceBudget) { b.Stated = AllStated() }), want: StatusFail,
			contains: []string{"terminationGracePeriodSeconds 30 < 40s = 5s endpoint propagation + 15s drain delay"}},
		{name: "sleep infinity with assumed inputs is a fact", dep: sleeping("sleep", "infinity"), want: StatusFail, fixHas: "make every preStop hook end"},
		{name: "a sleep just shorter, with nothing else in the budget", dep: sleeping("sleep", "29"), budget: zero, want: StatusPass,
			contains: []string{"terminationGracePeriodSeconds 30 >= 29s"}},
	})
}
