package rehearsal

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

func TestStops(t *testing.T) {
	for _, tc := range []struct {
		outcome   report.Outcome
		keepGoing bool
		want      bool
	}{
		{report.OutcomeSucceeded, false, false},
		{report.OutcomeSucceeded, true, false},
		{report.OutcomePaused, false, true},
		{report.OutcomeRolledBack, false, true},
		// --on-breach=none: a completed rollout with breaches reported goes on...
		{report.OutcomeFailed, true, false},
		{report.OutcomeFailed, false, true},
		// ...one that did not complete stops all the same.
		{report.OutcomeTimeout, true, true},
		{report.OutcomeInterrupted, true, true},
		{report.OutcomeDeleted, true, true},
		{report.OutcomeSuperseded, true, true},
	} {
		if got := Stops(tc.outcome, tc.keepGoing); got != tc.want {
			t.Errorf("Stops(%s, keepGoing %v) = %v, want %v", tc.outcome, tc.keepGoing, got, tc.want)
		}
	}
}

func TestRunnerRun(t *testing.T) {
	refused := errors.New("the API refused the restart")
	for _, tc := range []struct {
		name       string
		keepGoing  bool
		outcomes   []report.Outcome // per round; "" fails the round with refused
		wantRounds int
		wantStop   int
		wantErr    bool
		wantMsg    string
		wantResult report.Outcome
	}{
		{name: "every round clean", outcomes: []report.Outcome{"succeeded", "succeeded", "succeeded"},
			wantRounds: 3, wantResult: report.OutcomeSucceeded, wantMsg: "3 rounds, every rollout complete within its limits"},
		{name: "a pause stops it", outcomes: []report.Outcome{"succeeded", "paused", "succeeded"},
			wantRounds: 2, wantStop: 2, wantResult: report.OutcomePaused, wantMsg: "round 2: round 2's message; round 3 not run"},
		{name: "a breach in the last round", outcomes: []report.Outcome{"succeeded", "succeeded", "rolled-back"},
			wantRounds: 3, wantStop: 3, wantResult: report.OutcomeRolledBack, wantMsg: "round 3: round 3's message"},
		{name: "none runs every round", keepGoing: true, outcomes: []report.Outcome{"failed", "succeeded", "failed"},
			wantRounds: 3, wantResult: report.OutcomeFailed, wantMsg: "round 1: round 1's message"},
		{name: "none stops on a timeout", keepGoing: true, outcomes: []report.Outcome{"failed", "timeout", "succeeded", "succeeded"},
			wantRounds: 2, wantStop: 2, wantResult: report.OutcomeFailed, wantMsg: "round 1: round 1's message; rounds 3-4 not run"},
		{name: "a round that cannot run", outcomes: []report.Outcome{"succeeded", "", "succeeded"},
			wantRounds: 1, wantStop: 2, wantErr: true, wantResult: report.OutcomeFailed, wantMsg: "round 2: the API refused the restart; round 3 not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []int
			r := Runner{Rounds: len(tc.outcomes), KeepGoing: tc.keepGoing, Round: func(_ context.Context, round int) (*report.Rollout, error) {
				ran = append(ran, round)
				o := tc.outcomes[round-1]
				if o == "" {
					return nil, refused
				}
				return &report.Rollout{Outcome: o, Message: "round " + string(rune('0'+round)) + "'s message"}, nil
			}}
			rounds, stopped, err := r.Run(context.Background())
			if len(rounds) != tc.wantRounds || stopped != tc.wantStop || (err != nil) != tc.wantErr {
				t.Fatalf("Run = %d rounds, stopped in %d, err %v; want %d, %d, error %v", len(rounds), stopped, err, tc.wantRounds, tc.wantStop, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, refused) {
				t.Errorf("err = %v, want it to wrap the round's", err)
			}
			if want := tc.wantRounds + btoi(tc.wantErr); len(ran) != want {
				t.Errorf("rounds started %v, want %d (none after the stop)", ran, want)
			}
			rep := New("deployment/web", "shop", "pause", len(tc.outcomes), rounds, nil, stopped, err)
			if rep.Outcome != tc.wantResult || rep.Message != tc.wantMsg || rep.StoppedInRound != tc.wantStop {
				t.Errorf("report: %s %q stopped in %d; want %s %q %d", rep.Outcome, rep.Message, rep.StoppedInRound, tc.wantResult, tc.wantMsg, tc.wantStop)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pod is a reported old pod that went not ready after notReady seconds.
func pod(notReady float64, verdict string) report.PodReport {
	return report.PodReport{Name: "p", SecondsToNotReady: &notReady, Verdict: verdict}
}

func TestFigures(t *testing.T) {
	round1 := &report.Rollout{
		Outcome: report.OutcomeFailed,
		Summary: report.Summary{OldPods: 2, SIGKILLs: 1, UncleanExits: 0},
		Pods:    []report.PodReport{pod(0.2, report.VerdictOK), pod(0.4, report.VerdictSIGKILL)},
		Probe: &report.ProbeSection{ProbeReport: traffic.ProbeReport{Requests: 400, Errors: 6,
			ErrorsByClass: map[string]int{traffic.ErrClassRefused: 4, traffic.ErrClassReset: 2}, LatencyMs: traffic.LatencyMs{P50: 1, P95: 9, P99: 40}}},
	}
	round1.Propagation = report.NewPercentiles([]float64{0.2, 0.4})
	round2 := &report.Rollout{
		Outcome: report.OutcomeSucceeded,
		Summary: report.Summary{OldPods: 3, UncleanExits: 2, ExitedBeforeNotServing: 1, Evicted: 1},
		// An evicted pod's drain is not the rollout's: no propagation sample.
		Pods: []report.PodReport{pod(1.0, report.VerdictUnclean), pod(0.6, report.VerdictNoDrain), pod(9, report.VerdictEvicted)},
		Probe: &report.ProbeSection{ProbeReport: traffic.ProbeReport{Requests: 600, Errors: 0, ErrorsByClass: map[string]int{},
			LatencyMs: traffic.LatencyMs{P50: 1, P95: 5, P99: 8}}},
	}
	round2.Propagation = report.NewPercentiles([]float64{1.0, 0.6})
	noProbe := &report.Rollout{Outcome: report.OutcomeSucceeded, Summary: report.Summary{OldPods: 1}, Pods: []report.PodReport{pod(0.3, report.VerdictOK)}}
	whole := &traffic.ProbeReport{Requests: 1000, Errors: 6, ErrorsByClass: map[string]int{traffic.ErrClassRefused: 4, traffic.ErrClassReset: 2},
		LatencyMs: traffic.LatencyMs{P50: 1, P95: 7, P99: 30}}

	// --probe-identity-header: rounds with a data-plane figure per pod (one
	// pod without samples); the overall figure is over every round's pods.
	dataPlaneRound := func(secs ...float64) *report.Rollout {
		r := &report.Rollout{Outcome: report.OutcomeSucceeded}
		var measured []float64
		for _, s := range secs {
			p := pod(0.1, report.VerdictOK)
			if s >= 0 {
				p.DataPlanePropagationSeconds = ptr.To(s)
				measured = append(measured, s)
			}
			r.Pods = append(r.Pods, p)
			r.Summary.OldPods++
		}
		r.Propagation = report.NewPercentiles(make([]float64, len(secs)))
		pct := report.NewPercentiles(measured)
		r.DataPlanePropagation = &pct
		return r
	}
	dp1, dp2 := dataPlaneRound(0.5, -1), dataPlaneRound(1.5, 2.5)

	for _, tc := range []struct {
		name string
		got  Figures
		want Figures
	}{
		{"a round with a data-plane figure", Figures{DataPlanePropagation: RoundFigures(dp1).DataPlanePropagation}, Figures{
			DataPlanePropagation: &report.Percentiles{Samples: 1, P50: ptr.To(0.5), P95: ptr.To(0.5), Max: ptr.To(0.5)}}},
		{"overall data-plane: over every round's pods", Figures{DataPlanePropagation: Overall([]*report.Rollout{dp1, round1, dp2}, nil).DataPlanePropagation}, Figures{
			DataPlanePropagation: &report.Percentiles{Samples: 3, P50: ptr.To(1.5), P95: ptr.To(2.5), Max: ptr.To(2.5)}}},
		{"a round with probe traffic", RoundFigures(round1), Figures{
			Probe: &ProbeFigures{Requests: 400, Errors: 6, ErrorsByClass: map[string]int{"connection-refused": 4, "connection-reset": 2},
				ErrorRate: 0.015, LatencyMs: traffic.LatencyMs{P50: 1, P95: 9, P99: 40}},
			OldPods: 2, SIGKILLs: 1, Propagation: report.NewPercentiles([]float64{0.2, 0.4}),
		}},
		{"a round without", RoundFigures(noProbe), Figures{OldPods: 1}},
		{"overall: sums, propagation over every pod, the whole traffic", Overall([]*report.Rollout{round1, round2}, whole), Figures{
			Probe: &ProbeFigures{Requests: 1000, Errors: 6, ErrorsByClass: map[string]int{"connection-refused": 4, "connection-reset": 2},
				ErrorRate: 0.006, LatencyMs: traffic.LatencyMs{P50: 1, P95: 7, P99: 30}},
			OldPods: 5, SIGKILLs: 1, UncleanExits: 2, ExitedBeforeNotServing: 1,
			Propagation: report.Percentiles{Samples: 4, P50: ptr.To(0.4), P95: ptr.To(1.0), Max: ptr.To(1.0)},
		}},
		{"overall without probe", Overall([]*report.Rollout{noProbe}, nil), Figures{OldPods: 1, Propagation: report.NewPercentiles([]float64{0.3})}},
		{"no round", Overall(nil, nil), Figures{Propagation: report.Percentiles{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				got, _ := json.Marshal(tc.got)
				want, _ := json.Marshal(tc.want)
				t.Errorf("figures\n got %s\nwant %s", got, want)
			}
		})
	}
}

// rehearsalOf is a report whose overall figures are f.
func rehearsalOf(rounds int, f Figures) *Report {
	r := &Report{Kind: Kind, SchemaVersion: SchemaVersion, Workload: "deployment/web", Namespace: "shop", Overall: f}
	for i := range rounds {
		r.Rounds = append(r.Rounds, Round{Round: i + 1})
	}
	return r
}

func TestCompare(t *testing.T) {
	before := rehearsalOf(3, Figures{
		Probe: &ProbeFigures{Requests: 1000, Errors: 50, ErrorsByClass: map[string]int{"connection-refused": 40, "eof": 10}, ErrorRate: 0.05,
			LatencyMs: traffic.LatencyMs{P50: 2, P95: 50, P99: 120}},
		OldPods: 6, UncleanExits: 6, Propagation: report.Percentiles{Samples: 6, P95: ptr.To(0.5), Max: ptr.To(0.8)},
	})
	after := rehearsalOf(3, Figures{
		Probe: &ProbeFigures{Requests: 1200, Errors: 0, ErrorsByClass: map[string]int{"timeout": 0}, ErrorRate: 0,
			LatencyMs: traffic.LatencyMs{P50: 2, P95: 25, P99: 60}},
		OldPods: 6, Propagation: report.Percentiles{Samples: 6, P95: ptr.To(0.4), Max: ptr.To(0.4)},
	})
	noProbe := rehearsalOf(2, Figures{OldPods: 4, SIGKILLs: 4})
	withDataPlane := rehearsalOf(3, Figures{OldPods: 6, DataPlanePropagation: &report.Percentiles{Samples: 6, P95: ptr.To(1.5), Max: ptr.To(2.0)}})

	type row struct {
		before, after, change, relative string
	}
	show := func(v *float64) string {
		if v == nil {
			return "nil"
		}
		return strings.TrimRight(strings.TrimRight(strconvFloat(*v), "0"), ".")
	}
	for _, tc := range []struct {
		name          string
		before, after *Report
		want          map[string]row // figure -> row; every row listed
	}{
		{"a fix", before, after, map[string]row{
			"rounds":                    {"3", "3", "0", "0"},
			"requests":                  {"1000", "1200", "200", "0.2"},
			"errors":                    {"50", "0", "-50", "-1"},
			"error rate":                {"5", "0", "-5", "-1"},
			"errors connection-refused": {"40", "0", "-40", "-1"},
			"errors eof":                {"10", "0", "-10", "-1"},
			"errors timeout":            {"0", "0", "0", "nil"},
			"latency p50":               {"2", "2", "0", "0"},
			"latency p95":               {"50", "25", "-25", "-0.5"},
			"latency p99":               {"120", "60", "-60", "-0.5"},
			"old pods":                  {"6", "6", "0", "0"},
			"SIGKILLs":                  {"0", "0", "0", "nil"},
			"unclean exits":             {"6", "0", "-6", "-1"},
			"exits before not serving":  {"0", "0", "0", "nil"},
			"propagation p95 (API)":     {"0.5", "0.4", "-0.1", "-0.2"},
			"propagation max (API)":     {"0.8", "0.4", "-0.4", "-0.5"},
		}},
		{"no probe traffic before: its rows have no before and no change", noProbe, after, map[string]row{
			"rounds":                   {"2", "3", "1", "0.5"},
			"requests":                 {"nil", "1200", "nil", "nil"},
			"errors":                   {"nil", "0", "nil", "nil"},
			"error rate":               {"nil", "0", "nil", "nil"},
			"errors timeout":           {"nil", "0", "nil", "nil"},
			"latency p50":              {"nil", "2", "nil", "nil"},
			"latency p95":              {"nil", "25", "nil", "nil"},
			"latency p99":              {"nil", "60", "nil", "nil"},
			"old pods":                 {"4", "6", "2", "0.5"},
			"SIGKILLs":                 {"4", "0", "-4", "-1"},
			"unclean exits":            {"0", "0", "0", "nil"},
			"exits before not serving": {"0", "0", "0", "nil"},
			"propagation p95 (API)":    {"nil", "0.4", "nil", "nil"},
			"propagation max (API)":    {"nil", "0.4", "nil", "nil"},
		}},
		{"a data-plane figure on one side adds its rows; no traffic on either side, no probe rows", withDataPlane, noProbe, map[string]row{
			"rounds":                       {"3", "2", "-1", "-0.333"},
			"old pods":                     {"6", "4", "-2", "-0.333"},
			"SIGKILLs":                     {"0", "4", "4", "nil"},
			"unclean exits":                {"0", "0", "0", "nil"},
			"exits before not serving":     {"0", "0", "0", "nil"},
			"propagation p95 (API)":        {"nil", "nil", "nil", "nil"},
			"propagation max (API)":        {"nil", "nil", "nil", "nil"},
			"propagation p95 (data plane)": {"1.5", "nil", "nil", "nil"},
			"propagation max (data plane)": {"2", "nil", "nil", "nil"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Compare(tc.before, tc.after)
			if c.Before.Rounds != len(tc.before.Rounds) || c.Before.Workload != "deployment/web" {
				t.Errorf("before = %+v", c.Before)
			}
			got := map[string]row{}
			for _, r := range c.Rows {
				got[r.Figure] = row{show(r.Before), show(r.After), show(r.Change), show(r.RelativeChange)}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rows\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func strconvFloat(v float64) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func TestParse(t *testing.T) {
	saved, err := json.Marshal(New("deployment/web", "shop", "none", 1,
		[]*report.Rollout{{Outcome: report.OutcomeSucceeded, Summary: report.Summary{OldPods: 2}}}, nil, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, wantErr string
	}{
		{"a rehearsal", string(saved), ""},
		{"a restart's report", `{"namespace":"shop","deployment":"web","outcome":"succeeded"}`, `not a rehearsal report: kind "", want "Rehearsal"`},
		{"a newer schema", `{"kind":"Rehearsal","schemaVersion":2}`, "not a rehearsal report of schemaVersion 2: this version reads 1"},
		{"not JSON", "ROUND OUTCOME\n1 succeeded\n", "not a rehearsal report (want the JSON of rehearse -o json)"},
		{"empty", "", "not a rehearsal report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.data))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.wantErr == "":
				if r.Workload != "deployment/web" || len(r.Rounds) != 1 || r.Overall.OldPods != 2 {
					t.Errorf("parsed %+v", r)
				}
			case err == nil || !errors.Is(err, ErrNotRehearsal) || !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Parse error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
