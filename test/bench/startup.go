package main

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// startup: how long the plugin takes to do nothing much (kubectl runs it for
// every command, completion included).
func (b *bench) startup(ctx context.Context) error {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"version", []string{"version"}},
		{"preflight_help", []string{"preflight", "--help"}},
	} {
		var walls []float64
		for range 21 {
			m, err := b.runMeasured(ctx, b.plugin, c.args...)
			if err != nil || m.code != 0 {
				return fmt.Errorf("%v: exit %d: %v %s", c.args, m.code, err, m.stderr)
			}
			walls = append(walls, float64(m.wall)/float64(time.Millisecond))
		}
		sort.Float64s(walls)
		b.figure("startup."+c.name+".p50", percentile(walls, 50), "ms")
		b.figure("startup."+c.name+".max", walls[len(walls)-1], "ms")
	}
	return nil
}
