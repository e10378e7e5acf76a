package attribution

import (
	"testing"
	"time"
)

func TestAttribute(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	bucket := func(s float64, n int) ErrorBucket {
		return ErrorBucket{Start: at(s), Width: 100 * time.Millisecond, Errors: n}
	}
	windows := []Window{{Pod: "a", From: at(5), To: at(8)}, {Pod: "b", From: at(7), To: at(30)}}
	tests := []struct {
		name         string
		buckets      []ErrorBucket
		byPod        map[string]int
		unattributed int
	}{
		{"nothing", nil, map[string]int{}, 0},
		{"before any window", []ErrorBucket{bucket(1, 2)}, map[string]int{}, 2},
		{"bucket ending before the window", []ErrorBucket{bucket(4.8, 1)}, map[string]int{}, 1},
		{"bucket overlapping the window's start", []ErrorBucket{bucket(4.95, 1)}, map[string]int{"a": 1}, 0},
		{"inside one window", []ErrorBucket{bucket(6, 3)}, map[string]int{"a": 3}, 0},
		{"in both windows: blamed on both", []ErrorBucket{bucket(7.5, 2)}, map[string]int{"a": 2, "b": 2}, 0},
		{"within the tail after the end", []ErrorBucket{bucket(8.9, 1)}, map[string]int{"a": 1, "b": 1}, 0},
		{"past the tail", []ErrorBucket{bucket(31.1, 4)}, map[string]int{}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Attribute(tc.buckets, windows)
			if r.Unattributed != tc.unattributed || len(r.ByPod) != len(tc.byPod) {
				t.Fatalf("Attribute = %+v, want %v and %d unattributed", r, tc.byPod, tc.unattributed)
			}
			for pod, n := range tc.byPod {
				if r.ByPod[pod] != n {
					t.Errorf("pod %s: %d errors, want %d", pod, r.ByPod[pod], n)
				}
			}
		})
	}
}
