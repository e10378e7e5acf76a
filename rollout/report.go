package rollout

import (
	"math"
	"sort"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// Outcome is how a guarded rollout ended.
type Outcome string

const (
	OutcomeSucceeded   Outcome = "succeeded"
	OutcomePaused      Outcome = "paused"
	OutcomeRolledBack  Outcome = "rolled-back"
	OutcomeFailed      Outcome = "failed"
	OutcomeTimeout     Outcome = "timeout"
	OutcomeInterrupted Outcome = "interrupted"
	OutcomeNoRollout   Outcome = "no-rollout"
)

// Report is the guard's result; its JSON form is the plugin's `-o json` output.
type Report struct {
	Namespace  string  `json:"namespace"`
	Deployment string  `json:"deployment"`
	Outcome    Outcome `json:"outcome"`
	Message    string  `json:"message,omitempty"`
	// Triggered is true when this run started the rollout (restart), false for watch.
	Triggered        bool      `json:"triggered"`
	PreflightSkipped bool      `json:"preflightSkipped,omitempty"`
	PreflightVerdict string    `json:"preflightVerdict,omitempty"`
	StartedAt        time.Time `json:"startedAt"`
	FinishedAt       time.Time `json:"finishedAt"`
	DurationSeconds  float64   `json:"durationSeconds"`
	FromRevision     string    `json:"fromRevision,omitempty"`
	ToRevision       string    `json:"toRevision,omitempty"`

	Pods                    []PodReport `json:"pods"`
	Propagation             Percentiles `json:"propagation"`
	RecommendedGraceSeconds *int64      `json:"recommendedGraceSeconds"`
	RecommendationFormula   string      `json:"recommendationFormula,omitempty"`
	Summary                 Summary     `json:"summary"`

	OnBreach string        `json:"onBreach,omitempty"`
	Breaches []Breach      `json:"breaches"`
	Probe    *ProbeSection `json:"probe,omitempty"`
}

// ProbeSection is the probe traffic's outcome, with errors blamed on the pods
// that were terminating when they happened.
type ProbeSection struct {
	verify.ProbeReport
	Attribution        []PodErrors `json:"attribution"`
	UnattributedErrors int         `json:"unattributedErrors"`
}

// PodErrors counts the probe errors that happened while one pod was terminating.
type PodErrors struct {
	Pod    string `json:"pod"`
	Errors int    `json:"errors"`
}

// Summary counts the pods by how they ended.
type Summary struct {
	OldPods          int `json:"oldPods"`
	Gone             int `json:"gone"`
	Clean            int `json:"clean"`
	SIGKILLs         int `json:"sigkills"`
	OOMKills         int `json:"oomKills"`
	UncleanExits     int `json:"uncleanExits"`
	UnknownExits     int `json:"unknownExits"`
	NotDrainedBefore int `json:"exitedBeforeNotServing"`
}

// PodReport is one old pod's drain timeline as reported to the user.
type PodReport struct {
	Name                     string          `json:"name"`
	ExitCode                 *int32          `json:"exitCode"`
	Reason                   string          `json:"reason"`
	Class                    ExitClass       `json:"exit"`
	SIGKILL                  bool            `json:"sigkill"`
	DrainedBeforeExit        bool            `json:"servingFalseBeforeExit"`
	SecondsToNotReady        *float64        `json:"secondsToNotReady"`
	SecondsToNotServing      *float64        `json:"secondsToNotServing"`
	SecondsToEndpointRemoval *float64        `json:"secondsToEndpointRemoval"`
	TerminationSeconds       *float64        `json:"terminationSeconds"`
	SecondsToGone            *float64        `json:"secondsToGone"`
	GraceSeconds             float64         `json:"graceSeconds"`
	GraceUsage               *float64        `json:"graceUsage"`
	GraceUsageExceeded       bool            `json:"graceUsageExceeded,omitempty"`
	ProbeErrors              int             `json:"probeErrors,omitempty"`
	Verdict                  string          `json:"verdict"`
	Containers               []ContainerExit `json:"containers,omitempty"`
	Events                   []PodEvent      `json:"events,omitempty"`
}

// Percentiles summarises a measured duration over the rollout's pods, in seconds.
type Percentiles struct {
	Samples int      `json:"samples"`
	P50     *float64 `json:"p50"`
	P95     *float64 `json:"p95"`
	Max     *float64 `json:"max"`
}

// Pod verdicts, worst last.
const (
	VerdictOK            = "ok"
	VerdictNoDrain       = "exited-before-not-serving"
	VerdictUnclean       = "died-without-drain"
	VerdictOOMKilled     = "oom-killed"
	VerdictSIGKILL       = "sigkilled"
	VerdictExitUnknown   = "exit-unknown"
	VerdictStillPresent  = "still-terminating"
	VerdictNotTerminated = "not-terminated"
)

// NewPodReport turns a timeline into its reported form.
func NewPodReport(t *PodTimeline) PodReport {
	r := PodReport{
		Name:                     t.Name,
		GraceSeconds:             t.Grace.Seconds(),
		SecondsToNotReady:        t.since(t.NotReady),
		SecondsToNotServing:      t.since(t.NotServing),
		SecondsToEndpointRemoval: t.since(t.EndpointRemoved),
		TerminationSeconds:       t.since(t.ContainerExited),
		SecondsToGone:            t.since(t.Gone),
		DrainedBeforeExit:        t.DrainedBeforeExit(),
		Containers:               t.Containers,
		Events:                   t.Events,
	}
	if r.TerminationSeconds != nil && t.Grace > 0 {
		u := *r.TerminationSeconds / t.Grace.Seconds()
		r.GraceUsage = &u
	}
	exit, exited := t.Exit()
	switch {
	case !t.Deleting():
		r.Verdict = VerdictNotTerminated
		return r
	case !exited:
		r.Verdict = VerdictStillPresent
		return r
	}
	r.Class, r.Reason = exit.Class, exit.Reason
	if exit.Class != ExitUnknown {
		code := exit.ExitCode
		r.ExitCode = &code
	}
	r.SIGKILL = exit.Class == ExitSIGKILL
	switch exit.Class {
	case ExitSIGKILL:
		r.Verdict = VerdictSIGKILL
	case ExitOOMKilled:
		r.Verdict = VerdictOOMKilled
	case ExitUnclean:
		r.Verdict = VerdictUnclean
	case ExitUnknown:
		r.Verdict = VerdictExitUnknown
	default:
		r.Verdict = VerdictOK
		if !r.DrainedBeforeExit && t.seenEndpoint {
			r.Verdict = VerdictNoDrain
		}
	}
	return r
}

// Summarise fills the pods, propagation figures, recommendation and summary of r.
func (r *Report) Summarise(timelines []*PodTimeline, budget verify.Budget) {
	sort.Slice(timelines, func(i, j int) bool {
		a, b := timelines[i].DeletionObserved, timelines[j].DeletionObserved
		if a.IsZero() != b.IsZero() { // pods never deleted go last
			return b.IsZero()
		}
		if !a.Equal(b) {
			return a.Before(b)
		}
		return timelines[i].Name < timelines[j].Name
	})
	r.Pods = make([]PodReport, 0, len(timelines))
	var notReady []float64
	r.Summary = Summary{}
	for _, t := range timelines {
		p := NewPodReport(t)
		r.Pods = append(r.Pods, p)
		r.Summary.OldPods++
		if !t.Gone.IsZero() {
			r.Summary.Gone++
		}
		switch p.Class {
		case ExitClean:
			r.Summary.Clean++
		case ExitSIGKILL:
			r.Summary.SIGKILLs++
		case ExitOOMKilled:
			r.Summary.OOMKills++
		case ExitUnclean:
			r.Summary.UncleanExits++
		case ExitUnknown:
			r.Summary.UnknownExits++
		}
		if p.Verdict == VerdictNoDrain {
			r.Summary.NotDrainedBefore++
		}
		if p.SecondsToNotReady != nil {
			notReady = append(notReady, *p.SecondsToNotReady)
		}
	}
	r.Propagation = NewPercentiles(notReady)
	r.RecommendedGraceSeconds, r.RecommendationFormula = nil, ""
	if r.Propagation.Max != nil {
		measured := budget
		measured.EndpointPropagation = time.Duration(*r.Propagation.Max * float64(time.Second))
		req := measured.Require(0)
		secs := req.Seconds()
		r.RecommendedGraceSeconds = &secs
		r.RecommendationFormula = req.Formula()
	}
	r.DurationSeconds = r.FinishedAt.Sub(r.StartedAt).Seconds()
}

// NewPercentiles computes nearest-rank percentiles of samples (seconds).
func NewPercentiles(samples []float64) Percentiles {
	p := Percentiles{Samples: len(samples)}
	if len(samples) == 0 {
		return p
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	rank := func(q float64) *float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		v := round3(s[i])
		return &v
	}
	p.P50, p.P95 = rank(0.50), rank(0.95)
	m := round3(s[len(s)-1])
	p.Max = &m
	return p
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
