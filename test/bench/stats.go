package main

import (
	"math"
	"sort"
	"time"
)

// percentile of sorted values (nearest rank); NaN when there are none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	sort.Float64s(out)
	return out
}

// distribution prints p50, p95, p99 and max of values (sorted) under prefix.
func (b *bench) distribution(prefix string, sorted []float64, unit string) {
	b.figure(prefix+".samples", float64(len(sorted)), "")
	if len(sorted) == 0 {
		return
	}
	for _, p := range []float64{50, 95, 99} {
		b.figure(prefix+".p"+formatValue(p), percentile(sorted, p), unit)
	}
	b.figure(prefix+".max", sorted[len(sorted)-1], unit)
}
