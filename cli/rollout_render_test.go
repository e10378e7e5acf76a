package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// assertRolloutGolden compares got with testdata/rollout/<name>.golden; -update rewrites it.
func assertRolloutGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "rollout", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./cli/ -run TestPrintRollout -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cli/ -run TestPrintRollout -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func f64(v float64) *float64 { return &v }
func i32(v int32) *int32     { return &v }
func i64(v int64) *int64     { return &v }

var renderStart = time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

// restartReport is a hand-built report of a restart of three pods: one drained
// by the contract, one SIGKILLed without ever going not-serving, one still terminating.
func restartReport() *report.Rollout {
	clean := state.ContainerExit{Name: "app", ExitCode: 0, Reason: "Completed", FinishedAt: renderStart.Add(14 * time.Second), Exit: progress.ExitClean}
	killed := state.ContainerExit{Name: "app", ExitCode: 137, Reason: "Error", FinishedAt: renderStart.Add(33 * time.Second), Exit: progress.ExitSIGKILL}
	return &report.Rollout{
		Namespace: "shop", Deployment: "web", Outcome: report.OutcomeSucceeded,
		Message:   "2 new pods available, every old pod gone",
		Triggered: true, PreflightVerdict: "pass",
		StartedAt: renderStart, FinishedAt: renderStart.Add(45250 * time.Millisecond), DurationSeconds: 45.25,
		FromRevision: "3", ToRevision: "4",
		Pods: []report.PodReport{
			{
				Name: "web-7c9d-abcde", ExitCode: i32(0), Reason: "Completed", Exit: progress.ExitClean, ServingFalseBeforeExit: true,
				SecondsToNotReady: f64(0.8), SecondsToNotServing: f64(2.1), SecondsToEndpointRemoval: f64(3.4),
				TerminationSeconds: f64(12.5), SecondsToGone: f64(13.2), GraceSeconds: 30, GraceUsage: f64(12.5 / 30),
				Verdict: report.VerdictOK, Containers: []state.ContainerExit{clean},
			},
			{
				Name: "web-7c9d-fghij", ExitCode: i32(137), Reason: "Error", Exit: progress.ExitSIGKILL, SIGKILL: true,
				SecondsToNotReady: f64(1.25), SecondsToEndpointRemoval: f64(2), TerminationSeconds: f64(30.5),
				SecondsToGone: f64(31), GraceSeconds: 30, GraceUsage: f64(30.5 / 30), Verdict: report.VerdictSIGKILL,
				Containers: []state.ContainerExit{killed},
				Events:     []state.PodEvent{{At: renderStart.Add(3 * time.Second), Reason: "Killing", Message: "Stopping container app"}},
			},
			{
				Name: "web-7c9d-klmno", SecondsToNotReady: f64(0.5), GraceSeconds: 2.5, Verdict: report.VerdictStillPresent,
			},
		},
		Propagation:             report.Percentiles{Samples: 3, P50: f64(0.8), P95: f64(1.25), Max: f64(1.25)},
		RecommendedGraceSeconds: i64(27),
		RecommendationFormula:   "1.25s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin",
		Summary:                 report.Summary{OldPods: 3, Gone: 2, Clean: 1, SIGKILLs: 1},
		Breaches:                []policy.Breach{}, // the guard never leaves it nil
	}
}

// breachReport is a watched rollout that breached the SIGKILL budget and was paused.
func breachReport() *report.Rollout {
	r := restartReport()
	r.Outcome = report.OutcomePaused
	r.Message = "1 containers SIGKILLed at the grace deadline (budget 0); paused the rollout"
	r.Triggered, r.PreflightVerdict, r.PreflightSkipped = true, "", true
	r.OnBreach = "pause"
	r.Breaches = []policy.Breach{{
		Budget: policy.BudgetSIGKILLs, Observed: 1, Limit: 0, Pod: "web-7c9d-fghij", At: renderStart.Add(31 * time.Second),
		Message: "1 containers SIGKILLed at the grace deadline (budget 0)", Action: "paused", ActionLatencySeconds: f64(0.0425),
	}}
	r.Probe = &report.ProbeSection{
		ProbeReport: traffic.ProbeReport{
			Targets: []string{"http://web.shop.svc:80/"}, Requests: 900, Errors: 7,
			ErrorsByClass: map[string]int{"reset": 5, "5xx": 2},
			LatencyMs:     traffic.LatencyMs{P50: 1.25, P95: 8.5, P99: 20},
		},
		Attribution:        []report.PodErrors{{Pod: "web-7c9d-fghij", Errors: 6}},
		UnattributedErrors: 1,
	}
	return r
}

// interruptedReport is a watch stopped with Ctrl-C before anything was measured.
func interruptedReport() *report.Rollout {
	return &report.Rollout{
		Namespace: "shop", Deployment: "web", Outcome: report.OutcomeInterrupted,
		Message:          "stopped guarding; the rollout continues in the cluster",
		PreflightSkipped: true, // only said for restarts
		StartedAt:        renderStart, FinishedAt: renderStart.Add(2 * time.Second), DurationSeconds: 2,
		ToRevision: "5",
		Pods: []report.PodReport{
			{Name: "web-5f6-aaaaa", GraceSeconds: 30, Verdict: report.VerdictNotTerminated},
			{Name: "web-5f6-bbbbb", Reason: "", Exit: progress.ExitUnknown, SecondsToGone: f64(4), GraceSeconds: 30, Verdict: report.VerdictOK},
		},
		Summary:  report.Summary{OldPods: 2, Gone: 1},
		Breaches: []policy.Breach{},
	}
}

func TestPrintRolloutGolden(t *testing.T) {
	tests := []struct {
		name   string
		report *report.Rollout
		format string
		colour bool
	}{
		{"restart.table", restartReport(), "", false},
		{"restart.json", restartReport(), "json", false},
		{"breach.table", breachReport(), "", false},
		{"breach.colour.table", breachReport(), "", true},
		{"breach.json", breachReport(), "json", false},
		{"interrupted.table", interruptedReport(), "", false},
		{"no-rollout.table", &report.Rollout{Deployment: "web", Outcome: report.OutcomeNoRollout, Message: "no rollout in progress"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printRollout(&out, tc.report, tc.format, tc.colour); err != nil {
				t.Fatal(err)
			}
			assertRolloutGolden(t, tc.name, out.String())
		})
	}
}

func TestPrintRolloutJSONRoundTrips(t *testing.T) {
	for name, r := range map[string]*report.Rollout{"restart": restartReport(), "breach": breachReport(), "interrupted": interruptedReport()} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printRollout(&out, r, "json", true); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Error("JSON output contains colour escapes")
			}
			var back report.Rollout
			if err := json.Unmarshal(out.Bytes(), &back); err != nil {
				t.Fatalf("output is not a report: %v", err)
			}
			if !reflect.DeepEqual(&back, r) {
				t.Errorf("JSON round trip changed the report:\n got %+v\nwant %+v", back, *r)
			}
		})
	}
}

func TestPrintRolloutJSONFieldNames(t *testing.T) {
	var out bytes.Buffer
	if err := printRollout(&out, restartReport(), "json", false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Outcome     *string `json:"outcome"`
		Propagation map[string]any
		Recommended *float64 `json:"recommendedGraceSeconds"`
		Pods        []map[string]json.RawMessage
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Outcome == nil || *doc.Outcome != "succeeded" || doc.Recommended == nil || *doc.Recommended != 27 {
		t.Errorf("outcome/recommendedGraceSeconds wrong in %s", out.String())
	}
	for _, k := range []string{"p50", "p95", "max"} {
		if _, ok := doc.Propagation[k]; !ok {
			t.Errorf("propagation.%s missing", k)
		}
	}
	if len(doc.Pods) != 3 {
		t.Fatalf("%d pods", len(doc.Pods))
	}
	for _, k := range []string{"name", "exitCode", "reason", "sigkill", "secondsToNotServing", "secondsToEndpointRemoval", "terminationSeconds", "graceSeconds"} {
		for i, p := range doc.Pods {
			if _, ok := p[k]; !ok {
				t.Errorf("pods[%d].%s missing", i, k)
			}
		}
	}
	if got := string(doc.Pods[1]["secondsToNotServing"]); got != "null" {
		t.Errorf("secondsToNotServing of a pod that never stopped serving = %s, want null", got)
	}
	if got := string(doc.Pods[2]["exitCode"]); got != "null" {
		t.Errorf("exitCode of a pod still terminating = %s, want null", got)
	}
}
