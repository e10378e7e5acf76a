package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
)

func fp(v float64) *float64 { return &v }

func TestNewPercentiles(t *testing.T) {
	tests := []struct {
		name          string
		samples       []float64
		p50, p95, max *float64
	}{
		{"empty", nil, nil, nil, nil},
		{"empty slice", []float64{}, nil, nil, nil},
		{"one", []float64{1.23456}, fp(1.235), fp(1.235), fp(1.235)},
		{"two", []float64{2, 1}, fp(1), fp(2), fp(2)},
		{"five unsorted", []float64{5, 1, 4, 2, 3}, fp(3), fp(5), fp(5)},
		{"twenty", seq(1, 20, 1), fp(10), fp(19), fp(20)},
		{"twenty-one with an outlier", append(seq(0.1, 20, 0.1), 9), fp(1.1), fp(2), fp(9)},
		{"hundred", seq(1, 100, 1), fp(50), fp(95), fp(100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.samples...)
			p := NewPercentiles(tc.samples)
			if p.Samples != len(tc.samples) {
				t.Errorf("Samples = %d, want %d", p.Samples, len(tc.samples))
			}
			for _, c := range []struct {
				name      string
				got, want *float64
			}{{"p50", p.P50, tc.p50}, {"p95", p.P95, tc.p95}, {"max", p.Max, tc.max}} {
				if (c.got == nil) != (c.want == nil) || c.got != nil && *c.got != *c.want {
					t.Errorf("%s = %s, want %s", c.name, fmtPtr(c.got), fmtPtr(c.want))
				}
			}
			if !slices.Equal(in, tc.samples) {
				t.Errorf("NewPercentiles reordered its input: %v", tc.samples)
			}
		})
	}
}

// seq returns n samples start, start+step, ...
func seq(start float64, n int, step float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = round3(start + float64(i)*step)
	}
	return out
}

var fmtPtr = rollouttest.FmtPtr

// drained builds a deleted pod's timeline the way the guard does, from the pod
// and endpoint updates it would watch: offsets in seconds from its deletion
// (negative: never).
func drained(name string, deletion time.Time, notReady, notServing, removed, exitAfter float64, code int32, reason string) *state.PodTimeline {
	rel := func(s float64) time.Time { return deletion.Add(time.Duration(s * float64(time.Second))) }
	tl := &state.PodTimeline{Name: name}
	pod := testPod(func(p *corev1.Pod) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(deletion.Add(30 * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	}, running("app"))
	tl.ObservePod(pod, deletion, false)
	if notReady >= 0 {
		tl.ObserveEndpoint(conditions(false, true, true), true, rel(notReady))
	}
	if notServing >= 0 {
		tl.ObserveEndpoint(conditions(notReady < 0, false, notReady >= 0), true, rel(notServing))
	}
	if removed >= 0 {
		tl.ObserveEndpoint(nil, false, rel(removed))
	}
	if exitAfter >= 0 {
		exited("app", code, reason, rel(exitAfter))(pod)
		tl.ObservePod(pod, rel(exitAfter), false)
		tl.ObservePod(pod, rel(exitAfter+1), true)
	}
	return tl
}

func TestNewPodReportVerdicts(t *testing.T) {
	tests := []struct {
		name         string
		tl           *state.PodTimeline
		verdict      string
		class        progress.ExitClass
		code         *int32
		sigkill      bool
		drainedFirst bool
	}{
		{"not deleted", &state.PodTimeline{Name: "p"}, VerdictNotTerminated, "", nil, false, false},
		{"still terminating", drained("p", t0, 1, 2, -1, -1, 0, ""), VerdictStillPresent, "", nil, false, true},
		{"clean after draining", drained("p", t0, 1, 2, 3, 5, 0, "Completed"), VerdictOK, progress.ExitClean, ptr32(0), false, true},
		{"clean without any endpoint", drained("p", t0, -1, -1, -1, 1, 0, "Completed"), VerdictOK, progress.ExitClean, ptr32(0), false, false},
		{"clean before not serving", drained("p", t0, 1, 4, 5, 2, 0, "Completed"), VerdictNoDrain, progress.ExitClean, ptr32(0), false, false},
		{"clean, never not serving", drained("p", t0, 1, -1, 3, 2, 0, "Completed"), VerdictNoDrain, progress.ExitClean, ptr32(0), false, false},
		{"143 after not serving: graceful signal exit", drained("p", t0, 1, 2, 3, 4, 143, "Error"), VerdictOK, progress.ExitCleanSignal, ptr32(143), false, true},
		{"143 before not serving", drained("p", t0, 1, 5, 6, 4, 143, "Error"), VerdictUnclean, progress.ExitUnclean, ptr32(143), false, false},
		{"2 after not serving: a Go panic stays unclean", drained("p", t0, 1, 2, 3, 4, 2, "Error"), VerdictUnclean, progress.ExitUnclean, ptr32(2), false, true},
		{"137 SIGKILL", drained("p", t0, 1, 2, 3, 30, 137, "Error"), VerdictSIGKILL, progress.ExitSIGKILL, ptr32(137), true, true},
		{"1 at the deadline", drained("p", t0, 1, 2, 3, 30, 1, "Error"), VerdictSIGKILL, progress.ExitSIGKILL, ptr32(1), true, true},
		{"OOMKilled", drained("p", t0, 1, 2, 3, 4, 137, "OOMKilled"), VerdictOOMKilled, progress.ExitOOMKilled, ptr32(137), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPodReport(tc.tl)
			if r.Verdict != tc.verdict || r.Exit != tc.class || r.SIGKILL != tc.sigkill || r.ServingFalseBeforeExit != tc.drainedFirst {
				t.Errorf("report = verdict %q class %q sigkill %v drained %v; want %q %q %v %v",
					r.Verdict, r.Exit, r.SIGKILL, r.ServingFalseBeforeExit, tc.verdict, tc.class, tc.sigkill, tc.drainedFirst)
			}
			if (r.ExitCode == nil) != (tc.code == nil) || r.ExitCode != nil && *r.ExitCode != *tc.code {
				t.Errorf("ExitCode = %v, want %v", r.ExitCode, tc.code)
			}
			if r.Name != "p" {
				t.Errorf("Name = %q", r.Name)
			}
		})
	}
}

func ptr32(v int32) *int32 { return &v }

func TestReportSummarise(t *testing.T) {
	budget := verify.GraceBudget{EndpointPropagation: 1 * time.Second, DrainDelay: 3 * time.Second, MaxRequest: 10 * time.Second, SafetyMargin: 2 * time.Second}
	timelines := []*state.PodTimeline{
		{Name: "z-never-deleted"},
		drained("b-sigkill", t0.Add(2*time.Second), 2.5, 3, 4, 30, 137, "Error"),
		drained("c-unclean", t0.Add(1*time.Second), 0.5, 1, 2, 3, 2, "Error"),
		drained("a-clean", t0, 1, 2, 3, 10, 0, "Completed"),
		drained("a-naive", t0, -1, 2, 3, 1, 0, "Completed"), // endpoint never seen not ready
		drained("d-oom", t0.Add(3*time.Second), 1.5, 2, 3, 4, 137, "OOMKilled"),
	}
	r := &Rollout{StartedAt: t0.Add(-time.Second), FinishedAt: t0.Add(41500 * time.Millisecond)}
	r.Summarise(timelines, budget)

	var names []string
	for _, p := range r.Pods {
		names = append(names, p.Name)
	}
	if want := []string{"a-clean", "a-naive", "c-unclean", "b-sigkill", "d-oom", "z-never-deleted"}; !reflect.DeepEqual(names, want) {
		t.Errorf("pods in order %v, want %v (by deletion, then name, never deleted last)", names, want)
	}
	want := Summary{OldPods: 6, Gone: 5, Clean: 2, SIGKILLs: 1, OOMKills: 1, UncleanExits: 1, ExitedBeforeNotServing: 1}
	if r.Summary != want {
		t.Errorf("Summary = %+v, want %+v", r.Summary, want)
	}
	if r.Propagation.Samples != 4 || *r.Propagation.P50 != 1 || *r.Propagation.P95 != 2.5 || *r.Propagation.Max != 2.5 {
		t.Errorf("Propagation = %d samples, p50 %s p95 %s max %s; want 4, 1, 2.5, 2.5",
			r.Propagation.Samples, fmtPtr(r.Propagation.P50), fmtPtr(r.Propagation.P95), fmtPtr(r.Propagation.Max))
	}
	// 2.5 s measured + 3 s drain + 10 s request + 2 s margin = 17.5 s, rounded up.
	if r.RecommendedGraceSeconds == nil || *r.RecommendedGraceSeconds != 18 {
		t.Errorf("RecommendedGraceSeconds = %v, want 18", r.RecommendedGraceSeconds)
	}
	measured := budget
	measured.EndpointPropagation = 2500 * time.Millisecond
	if wantFormula := measured.Require(0).Formula(); r.RecommendationFormula != wantFormula {
		t.Errorf("formula = %q, want %q", r.RecommendationFormula, wantFormula)
	}
	if !strings.HasPrefix(r.RecommendationFormula, "2.50s endpoint propagation") || r.RecommendationPropagation != "measured-api" {
		t.Errorf("formula = %q (%s) does not use the measured propagation, larger than the configured 1 s", r.RecommendationFormula, r.RecommendationPropagation)
	}
	if r.DurationSeconds != 42.5 {
		t.Errorf("DurationSeconds = %v, want 42.5", r.DurationSeconds)
	}
}

func TestReportSummariseUsesMaxNotP95(t *testing.T) {
	var timelines []*state.PodTimeline
	for i := range 20 {
		timelines = append(timelines, drained(fmt.Sprintf("p%02d", i), t0.Add(time.Duration(i)*time.Second), float64(i+1)/10, 3, 4, 10, 0, "Completed"))
	}
	timelines = append(timelines, drained("slow", t0.Add(time.Minute), 9, 9.5, 10, 20, 0, "Completed"))
	r := &Rollout{}
	r.Summarise(timelines, verify.DefaultGraceBudget())
	if *r.Propagation.P95 != 2 || *r.Propagation.Max != 9 || r.Propagation.Samples != 21 || r.RecommendationPropagation != "measured-api" {
		t.Fatalf("Propagation = p95 %s max %s", fmtPtr(r.Propagation.P95), fmtPtr(r.Propagation.Max))
	}
	// 9 s measured + 5 s drain + 15 s request + 5 s margin.
	if r.RecommendedGraceSeconds == nil || *r.RecommendedGraceSeconds != 34 {
		t.Errorf("RecommendedGraceSeconds = %v, want 34", r.RecommendedGraceSeconds)
	}
	if want := "9s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin"; r.RecommendationFormula != want {
		t.Errorf("formula = %q, want %q", r.RecommendationFormula, want)
	}
}

func TestReportSummariseWithoutMeasurements(t *testing.T) {
	r := &Rollout{}
	r.Summarise([]*state.PodTimeline{{Name: "never-deleted"}, drained("no-endpoint", t0, -1, -1, -1, 1, 0, "Completed")}, verify.DefaultGraceBudget())
	if r.Propagation.Samples != 0 || r.Propagation.Max != nil {
		t.Errorf("Propagation = %+v, want no samples", r.Propagation)
	}
	if len(r.Pods) != 2 || r.Summary.OldPods != 2 || r.Summary.Clean != 1 {
		t.Errorf("pods %d, summary %+v", len(r.Pods), r.Summary)
	}
	if r.RecommendedGraceSeconds != nil || r.RecommendationFormula != "" {
		t.Errorf("recommendation %v %q without any measured propagation", r.RecommendedGraceSeconds, r.RecommendationFormula)
	}

	empty := &Rollout{}
	empty.Summarise(nil, verify.DefaultGraceBudget())
	out, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"pods":[]`) || !strings.Contains(string(out), `"recommendedGraceSeconds":null`) {
		t.Errorf("empty report JSON = %s", out)
	}
}

func TestReportJSONFields(t *testing.T) {
	r := &Rollout{Namespace: "shop", Deployment: "web", Outcome: OutcomeSucceeded, StartedAt: t0, FinishedAt: t0.Add(10 * time.Second)}
	r.Summarise([]*state.PodTimeline{
		drained("web-1", t0, 1, 2, 3, 30, 137, "Error"),
		drained("web-2", t0.Add(time.Second), 1, -1, 3, 2, 0, "Completed"),
	}, verify.DefaultGraceBudget())
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["outcome"] != "succeeded" {
		t.Errorf("outcome = %v", doc["outcome"])
	}
	// The API-level 1 s never lowers the configured 5 s: 5 + 5 + 15 + 5.
	if doc["recommendedGraceSeconds"] != float64(30) || doc["recommendationPropagation"] != "configured" {
		t.Errorf("recommendedGraceSeconds = %v (%v), want 30 from the configured propagation", doc["recommendedGraceSeconds"], doc["recommendationPropagation"])
	}
	prop, _ := doc["propagation"].(map[string]any)
	for _, k := range []string{"p50", "p95", "max"} {
		if prop[k] != float64(1) {
			t.Errorf("propagation.%s = %v, want 1", k, prop[k])
		}
	}
	pods, _ := doc["pods"].([]any)
	if len(pods) != 2 {
		t.Fatalf("pods = %v", doc["pods"])
	}
	first, _ := pods[0].(map[string]any)
	wantFirst := map[string]any{
		"name": "web-1", "exitCode": float64(137), "reason": "Error", "sigkill": true,
		"secondsToNotServing": float64(2), "secondsToEndpointRemoval": float64(3), "terminationSeconds": float64(30), "graceSeconds": float64(30),
	}
	for k, v := range wantFirst {
		if first[k] != v {
			t.Errorf("pods[0].%s = %#v, want %#v", k, first[k], v)
		}
	}
	second, _ := pods[1].(map[string]any)
	if v, ok := second["secondsToNotServing"]; !ok || v != nil {
		t.Errorf("pods[1].secondsToNotServing = %#v (present %v), want null", v, ok)
	}
	if second["sigkill"] != false || second["exitCode"] != float64(0) {
		t.Errorf("pods[1] = %v", second)
	}
}
