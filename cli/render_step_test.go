package cli

import (
	"bytes"
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/step"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// A release step as the step runner reports it: web restarts cleanly, api is
// SIGKILLed and paused (the reports the guard's reducer makes of those
// rollouts, renamed), so the StatefulSet db is never started.
func TestPrintStep(t *testing.T) {
	t.Setenv("LC_ALL", "C.UTF-8") // the timeline's bars
	targets := []workload.Workload{
		workload.Deployment{Deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: rollouttest.NS, Name: "web"}}},
		workload.Deployment{Deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: rollouttest.NS, Name: "api"}}},
		workload.StatefulSet{StatefulSet: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: rollouttest.NS, Name: "db"}}},
	}
	guard := func(_ context.Context, w workload.Workload) (*report.Rollout, error) {
		r := cleanRestart(t)
		if w.GetName() == "api" {
			r = sigkillPaused(t)
		}
		r.Deployment = w.GetName()
		return r, nil
	}
	rep, err := step.Runner{Concurrency: 1, Scope: step.ScopeStep, Guard: guard}.Run(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, format string }{{"step.table", ""}, {"step.json", "json"}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printStep(&out, rep, tc.format, false); err != nil {
				t.Fatal(err)
			}
			assertRolloutGolden(t, tc.name, out.String())
		})
	}
	if code := exitCode(outcomeError(&report.Rollout{Outcome: rep.Outcome, Message: rep.Message}, nil), &bytes.Buffer{}); code != ExitBudgetBreached {
		t.Errorf("step exit code %d, want %d (its worst outcome: paused)", code, ExitBudgetBreached)
	}
}
