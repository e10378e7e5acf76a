package report

import (
	"testing"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

func TestAddDataPlane(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	// a and b: deleted at t0, endpoint not ready after 1 s, not serving after 2 s.
	clusterIP := verify.GraceBudget{EndpointPropagation: 1 * time.Second, DrainDelay: 5 * time.Second, MaxRequest: 10 * time.Second, SafetyMargin: 5 * time.Second}
	cloudLB := clusterIP
	cloudLB.EndpointPropagation = 30 * time.Second
	tests := []struct {
		name       string
		served     []traffic.PodServed
		lateFailed map[string]int
		budget     verify.GraceBudget
		// per pod a, b: figure (-1: none), samples (-1: nil), late (-1: nil), late failed
		wantA, wantB  [4]float64
		wantPct       *[4]float64 // samples, p50, p95, max
		wantGrace     int64
		wantRecSource string
	}{{
		name: "identified: data plane raises the configured propagation",
		served: []traffic.PodServed{
			{Pod: "a", SamplesAfterNotReady: 12, LastNewAfterNotReady: t0.Add(sec(1 + 2.5)), Late: 7, LateFailed: 1},
			{Pod: "b", SamplesAfterNotReady: 0, Late: 0},
			{Pod: "new-pod", SamplesAfterNotReady: 0, Late: 0, Requests: 50},
		},
		lateFailed: map[string]int{"b": 3},
		budget:     clusterIP,
		wantA:      [4]float64{2.5, 12, 7, 1},
		wantB:      [4]float64{-1, 0, 3, 3},
		wantPct:    &[4]float64{1, 2.5, 2.5, 2.5},
		// deletion to the last new connection: 1 s + 2.5 s = 3.5 s, not the configured 1 s
		wantGrace:     24, // 3.5 + 5 + 10 + 5 = 23.5, rounded up
		wantRecSource: "measured-data-plane",
	}, {
		name: "a ClusterIP measurement never lowers a load balancer's budget",
		served: []traffic.PodServed{
			{Pod: "a", SamplesAfterNotReady: 3, LastNewAfterNotReady: t0.Add(sec(1 + 0.4))},
		},
		budget:        cloudLB,
		wantA:         [4]float64{0.4, 3, 0, 0},
		wantB:         [4]float64{-1, 0, 0, 0},
		wantPct:       &[4]float64{1, 0.4, 0.4, 0.4},
		wantGrace:     50,
		wantRecSource: "configured",
	}, {
		name:          "no identity header: only failures after not serving, by time",
		lateFailed:    map[string]int{"a": 2},
		budget:        clusterIP,
		wantA:         [4]float64{-1, -1, -1, 2},
		wantB:         [4]float64{-1, -1, -1, 0},
		wantGrace:     21,
		wantRecSource: "configured",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tls := []*state.PodTimeline{
				drained("a", t0, 1, 2, 3, 8, 0, "Completed"),
				drained("b", t0.Add(10*time.Second), 1, 2, 3, 8, 0, "Completed"),
			}
			r := &Rollout{StartedAt: t0, FinishedAt: t0.Add(time.Minute)}
			r.Summarise(tls, tc.budget)
			r.AddDataPlane(tls, tc.served, tc.lateFailed, tc.budget)
			for i, want := range [][4]float64{tc.wantA, tc.wantB} {
				p := r.Pods[i]
				got := [4]float64{-1, -1, -1, float64(p.LateRequestsFailed)}
				if p.DataPlanePropagationSeconds != nil {
					got[0] = *p.DataPlanePropagationSeconds
				}
				if p.DataPlaneSamples != nil {
					got[1] = float64(*p.DataPlaneSamples)
				}
				if p.LateRequests != nil {
					got[2] = float64(*p.LateRequests)
				}
				if got != want {
					t.Errorf("pod %s: propagation, samples, late, late failed = %v, want %v", p.Name, got, want)
				}
			}
			switch {
			case tc.wantPct == nil && r.DataPlanePropagation != nil:
				t.Errorf("dataPlanePropagation = %+v, want none without an identity header", r.DataPlanePropagation)
			case tc.wantPct != nil:
				dp := r.DataPlanePropagation
				if dp == nil || dp.Samples != int(tc.wantPct[0]) || *dp.P50 != tc.wantPct[1] || *dp.P95 != tc.wantPct[2] || *dp.Max != tc.wantPct[3] {
					t.Errorf("dataPlanePropagation = %+v, want %v", dp, *tc.wantPct)
				}
			}
			if r.RecommendedGraceSeconds == nil || *r.RecommendedGraceSeconds != tc.wantGrace || r.RecommendationPropagation != tc.wantRecSource {
				t.Errorf("recommendation %v (%s), want %d (%s)", fmtGrace(r.RecommendedGraceSeconds), r.RecommendationPropagation, tc.wantGrace, tc.wantRecSource)
			}
		})
	}
}

func fmtGrace(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}
