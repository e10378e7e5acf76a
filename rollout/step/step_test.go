package step

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

func deployment(name string) workload.Workload {
	return workload.Deployment{Deployment: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}}
}

func statefulSet(name string) workload.Workload {
	return workload.StatefulSet{StatefulSet: &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}}
}

func TestRunner(t *testing.T) {
	targets := []workload.Workload{deployment("web"), deployment("api"), statefulSet("db")}
	tests := []struct {
		name        string
		concurrency int
		scope       Scope
		outcomes    map[string]report.Outcome // by name; missing: succeeded
		failing     string                    // a guard that returns an error
		wantGuarded string
		wantSkipped string
		wantOutcome report.Outcome
	}{
		{"all clean, one at a time", 1, ScopeStep, nil, "", "web api db", "", report.OutcomeSucceeded},
		{"the second breaches: the third never starts", 1, ScopeStep, map[string]report.Outcome{"api": report.OutcomePaused}, "", "web api", "db", report.OutcomePaused},
		{"the first rolls back", 1, ScopeStep, map[string]report.Outcome{"web": report.OutcomeRolledBack}, "", "web", "api db", report.OutcomeRolledBack},
		{"workload scope: the others go on", 1, ScopeWorkload, map[string]report.Outcome{"web": report.OutcomePaused}, "", "web api db", "", report.OutcomePaused},
		{"worst outcome wins", 1, ScopeWorkload, map[string]report.Outcome{"web": report.OutcomePaused, "api": report.OutcomeRolledBack, "db": report.OutcomeTimeout}, "", "web api db", "", report.OutcomeRolledBack},
		{"no rollout anywhere", 1, ScopeStep, map[string]report.Outcome{"web": report.OutcomeNoRollout, "api": report.OutcomeNoRollout, "db": report.OutcomeNoRollout}, "", "web api db", "", report.OutcomeNoRollout},
		{"an error stops the step", 1, ScopeStep, nil, "web", "", "api db", report.OutcomeFailed},
		{"all at once: nothing left to skip", 3, ScopeStep, map[string]report.Outcome{"web": report.OutcomePaused}, "", "web api db", "", report.OutcomePaused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var started []string
			guard := func(_ context.Context, w workload.Workload) (*report.Rollout, error) {
				mu.Lock()
				started = append(started, w.GetName())
				mu.Unlock()
				if w.GetName() == tc.failing {
					return nil, errors.New("forbidden")
				}
				r := report.New(w.Kind(), w.GetNamespace(), w.GetName(), report.Rollout{}.StartedAt, true, "")
				r.Outcome = report.OutcomeSucceeded
				if o, ok := tc.outcomes[w.GetName()]; ok {
					r.Outcome, r.Message = o, "what happened to "+w.GetName()
				}
				return r, nil
			}
			rep, err := Runner{Concurrency: tc.concurrency, Scope: tc.scope, Guard: guard}.Run(context.Background(), targets)
			if (err != nil) != (tc.failing != "") {
				t.Fatalf("err = %v", err)
			}
			var guarded, skipped []string
			for _, w := range rep.Workloads {
				guarded = append(guarded, w.Deployment+w.Name)
			}
			for _, s := range rep.Skipped {
				skipped = append(skipped, s.Name)
				if !strings.HasPrefix(s.Reason, "not started: ") {
					t.Errorf("skip reason %q", s.Reason)
				}
			}
			if strings.Join(guarded, " ") != tc.wantGuarded || strings.Join(skipped, " ") != tc.wantSkipped {
				t.Errorf("guarded %v skipped %v; want %q and %q", guarded, skipped, tc.wantGuarded, tc.wantSkipped)
			}
			if rep.Outcome != tc.wantOutcome {
				t.Errorf("outcome %q, want %q (%s)", rep.Outcome, tc.wantOutcome, rep.Message)
			}
			if len(started) != len(guarded)+map[bool]int{true: 1}[tc.failing != ""] {
				t.Errorf("started %v, guarded %v", started, guarded)
			}
			if tc.wantSkipped != "" && !strings.Contains(rep.Message, "not started: ") {
				t.Errorf("message %q does not name the workloads not started", rep.Message)
			}
		})
	}
}
