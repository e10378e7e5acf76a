package policy

import (
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
)

// ObserveDrains gathers what the limits check from the old pods' timelines:
// SIGKILLs, unclean exits and the largest grace usage. An eviction is not the
// rollout's drain and counts for nothing.
func ObserveDrains(timelines []*state.PodTimeline) Observations {
	var obs Observations
	for _, t := range timelines {
		exit, ok := t.Exit()
		if !ok || t.Evicted != "" {
			continue
		}
		switch exit.Exit {
		case progress.ExitSIGKILL:
			obs.SIGKILLs++
			obs.LastSIGKILLPod = t.Name
		case progress.ExitUnclean:
			obs.UncleanExits++
			obs.LastUncleanPod = t.Name
		}
		if u, ok := t.GraceUsage(); ok && u > obs.GraceUsage {
			obs.GraceUsage, obs.GraceUsagePod = u, t.Name
		}
	}
	return obs
}
