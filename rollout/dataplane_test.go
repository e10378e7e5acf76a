package rollout

import (
	"testing"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

func TestLateFailures(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	bucket := func(s float64, n int) traffic.ErrorBucket {
		return traffic.ErrorBucket{Start: at(s), Width: 100 * time.Millisecond, Errors: n}
	}
	// naive dies at once on SIGTERM: the kubelet flips it not serving 1.2 s later.
	naive := &state.PodTimeline{Name: "naive", DeletionObserved: at(0), NotServing: at(1.2), Gone: at(1.5)}
	// contract flips not serving 2 s after its deletion and is still there at the end.
	contract := &state.PodTimeline{Name: "contract", DeletionObserved: at(10), NotServing: at(12)}
	running := &state.PodTimeline{Name: "running"}
	end := at(30)
	tests := []struct {
		name           string
		refused, other []traffic.ErrorBucket
		want           map[string]int
	}{{
		name:    "refused while the endpoint still said serving: late",
		refused: []traffic.ErrorBucket{bucket(0.2, 5), bucket(0.9, 2)},
		want:    map[string]int{"naive": 7},
	}, {
		name:  "other failures count only after not serving",
		other: []traffic.ErrorBucket{bucket(0.3, 4), bucket(1.3, 1)},
		want:  map[string]int{"naive": 1},
	}, {
		name:    "refused before the deletion: not late",
		refused: []traffic.ErrorBucket{bucket(-3, 2)},
		want:    map[string]int{},
	}, {
		name:    "a refusal after not serving counts once",
		refused: []traffic.ErrorBucket{bucket(13, 1)},
		other:   []traffic.ErrorBucket{bucket(12.5, 2)},
		want:    map[string]int{"contract": 3},
	}, {
		name:    "a pod still there at the end: its window runs to the end",
		refused: []traffic.ErrorBucket{bucket(29, 1)},
		want:    map[string]int{"contract": 1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lateFailures(tc.refused, tc.other, []*state.PodTimeline{naive, contract, running}, end)
			if len(got) != len(tc.want) {
				t.Fatalf("late failures %v, want %v", got, tc.want)
			}
			for pod, n := range tc.want {
				if got[pod] != n {
					t.Errorf("late failures %v, want %v", got, tc.want)
				}
			}
		})
	}
}
