package report

import (
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// AddDataPlane adds what the probe's identity header told about each old pod
// (served: nil without --probe-identity-header): its data-plane propagation
// and late requests, their percentiles over the pods, and a recommendation
// that uses the data-plane figure when it is the larger. lateFailures are the
// probe errors without an identity in each pod's late window (its endpoint
// not serving until it was gone), attributed by time.
// budget is the one Summarise was given.
func (r *Rollout) AddDataPlane(timelines []*state.PodTimeline, served []traffic.PodServed, lateFailures map[string]int, budget verify.GraceBudget) {
	byPod := map[string]traffic.PodServed{}
	for _, s := range served {
		byPod[s.Pod] = s
	}
	notReady := map[string]time.Time{}
	for _, t := range timelines {
		notReady[t.Name] = t.NotReady
	}
	identified := served != nil
	var figures []float64
	var endToEnd time.Duration // deletion to the last new-connection request, largest
	for i := range r.Pods {
		p := &r.Pods[i]
		p.LateRequestsFailed = lateFailures[p.Name]
		if !identified {
			continue
		}
		s := byPod[p.Name]
		late := s.Late + lateFailures[p.Name]
		p.LateRequests = &late
		p.LateRequestsFailed += s.LateFailed
		p.StreamsOpened, p.StreamsEndedClean, p.StreamsEndedAbrupt = s.Streams.Opened, s.Streams.EndedClean, s.Streams.EndedAbrupt
		if p.SeenAfterWatchGap || p.Verdict == VerdictEvicted {
			continue // receipt times are not event times; an eviction is not the rollout's drain
		}
		samples := s.SamplesAfterNotReady
		p.DataPlaneSamples = &samples
		at := notReady[p.Name]
		if samples == 0 || at.IsZero() || s.LastNewAfterNotReady.Before(at) {
			continue
		}
		secs := round3(s.LastNewAfterNotReady.Sub(at).Seconds())
		p.DataPlanePropagationSeconds = &secs
		figures = append(figures, secs)
		if p.SecondsToNotReady != nil {
			endToEnd = max(endToEnd, time.Duration((*p.SecondsToNotReady+secs)*float64(time.Second)))
		}
	}
	if !identified {
		return
	}
	pct := NewPercentiles(figures)
	r.DataPlanePropagation = &pct
	r.recommend(budget, endToEnd)
}
