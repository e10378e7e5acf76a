package traffic

import (
	"reflect"
	"testing"
	"time"
)

func TestSeriesPerSecond(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	p := &Prober{}
	// second 0: 19 fast requests and one slow failure; second 2: one request
	for i := range 19 {
		p.series.add(t0.Add(time.Duration(i)*50*time.Millisecond), 2*time.Millisecond, false)
	}
	p.series.add(t0.Add(990*time.Millisecond), 2*time.Second, true)
	p.series.add(t0.Add(2500*time.Millisecond), 10*time.Millisecond, true)
	got := p.Series()
	want := []SecondStat{
		{Start: t0, Requests: 20, Errors: 1, LatencyP95Ms: 2.054},
		{Start: t0.Add(2 * time.Second), Requests: 1, Errors: 1, LatencyP95Ms: 9.716},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Series() = %+v\nwant %+v", got, want)
	}
}

func TestSeriesP95(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fast, slow int
		want       float64
	}{
		{"all fast", 100, 0, 2.054},
		{"5 % slow stays at the fast", 95, 5, 2.054},
		{"6 % slow reaches the slow", 94, 6, 486.968},
		{"one request", 0, 1, 486.968},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s series
			at := time.Unix(100, 0)
			for range tc.fast {
				s.add(at, 2*time.Millisecond, false)
			}
			for range tc.slow {
				s.add(at, 500*time.Millisecond, false)
			}
			if got := s.seconds[100].p95(); got != tc.want {
				t.Errorf("p95 = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSeriesBounded(t *testing.T) {
	var s series
	for i := range maxSeriesSeconds + 10 {
		s.add(time.Unix(int64(i), 0), time.Millisecond, false)
	}
	if len(s.seconds) != maxSeriesSeconds {
		t.Errorf("%d seconds kept, want at most %d", len(s.seconds), maxSeriesSeconds)
	}
}
