package rollout

import (
	"context"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

type queryResult struct {
	value float64
	err   error
}

// startQuery evaluates the metric query every Interval off the event loop, so
// a slow query never delays a watch event; results arrive on the channel it
// returns (nil without a query). It stops with ctx.
func (r *run) startQuery(ctx context.Context) <-chan queryResult {
	if r.Query == nil {
		return nil
	}
	results := make(chan queryResult, 1)
	q, clk := r.Query, r.Clock
	go func() {
		for {
			qctx, cancel := context.WithTimeout(ctx, max(q.Interval, time.Second))
			v, err := q.Value(qctx)
			cancel()
			select {
			case results <- queryResult{v, err}:
			case <-ctx.Done():
				return
			}
			select {
			case <-clk.After(q.Interval):
			case <-ctx.Done():
				return
			}
		}
	}()
	return results
}

func (r *run) queryResult(q queryResult) {
	if q.err != nil {
		r.emit(progress.QueryFailed{Header: r.header(), Query: r.Query.Name, Message: q.err.Error()})
		return
	}
	r.queryValue = &q.value
}
