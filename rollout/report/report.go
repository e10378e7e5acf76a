// Package report turns a guarded rollout's timelines into the report the plugin
// prints (text or -o json): per-pod verdicts, propagation figures, the grace
// recommendation and the summary. The JSON names are a contract with scripts.
package report

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/attribution"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
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
	// OutcomeDeleted: the workload was deleted while guarded.
	OutcomeDeleted Outcome = "deleted"
	// OutcomeSuperseded: someone else's pod template replaced the guarded one.
	OutcomeSuperseded Outcome = "superseded"
)

// WatchGap is a time the guard's watch of Resource was failing: what happened
// meanwhile was learnt from the relist that ended it (To nil: it never did).
type WatchGap struct {
	Resource string     `json:"resource"`
	From     time.Time  `json:"from"`
	To       *time.Time `json:"to"`
	Error    string     `json:"error"`
}

// RevisionChange is a new revision someone else rolled out during the guard.
type RevisionChange struct {
	Revision   string    `json:"revision"`
	Generation int64     `json:"generation"`
	At         time.Time `json:"at"`
	Followed   bool      `json:"followed"`
}

// Rollout is the guard's result; its JSON form is the plugin's `-o json` output.
type Rollout struct {
	Namespace string `json:"namespace"`
	// Deployment names a Deployment; a StatefulSet or DaemonSet is named by
	// Kind and Name instead (a Deployment's report keeps its first shape).
	Deployment string  `json:"deployment,omitempty"`
	Kind       string  `json:"kind,omitempty"`
	Name       string  `json:"name,omitempty"`
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
	// RecommendationPropagation says which propagation the recommendation used:
	// "configured" (the budget's, never lowered by a measurement),
	// "measured-api" (deletion to endpoint not ready, when it was larger) or
	// "measured-data-plane" (deletion to the last request on a new connection a
	// pod served after its endpoint went not ready, when it was larger still).
	RecommendationPropagation string `json:"recommendationPropagation,omitempty"`
	// DataPlanePropagation is, over the old pods with samples, the time from
	// a pod's endpoint going not ready to the last request on a new connection
	// it served (--probe-identity-header); nil without one.
	DataPlanePropagation *Percentiles `json:"dataPlanePropagation,omitempty"`
	Summary              Summary      `json:"summary"`

	// WatchGaps are the times the guard's watches were failing (an API server
	// outage, a cut connection).
	WatchGaps []WatchGap `json:"watchGaps,omitempty"`
	// Revisions are the new revisions someone else rolled out meanwhile.
	Revisions []RevisionChange `json:"revisions,omitempty"`

	OnBreach string          `json:"onBreach,omitempty"`
	Breaches []policy.Breach `json:"breaches"`
	Probe    *ProbeSection   `json:"probe,omitempty"`
	// NewPods are the new revision's pods and when each became ready (the picture).
	NewPods []state.NewPod `json:"newPods,omitempty"`
}

// New starts the report of a workload's rollout.
func New(kind, namespace, name string, started time.Time, triggered bool, fromRevision string) *Rollout {
	r := &Rollout{Namespace: namespace, StartedAt: started, Triggered: triggered, FromRevision: fromRevision}
	if kind == "Deployment" {
		r.Deployment = name
	} else {
		r.Kind, r.Name = kind, name
	}
	return r
}

// Workload names the workload: "deployment/web", "statefulset/db".
func (r *Rollout) Workload() string {
	if r.Deployment != "" {
		return "deployment/" + r.Deployment
	}
	return strings.ToLower(r.Kind) + "/" + r.Name
}

// ProbeSection is the probe traffic's outcome, with errors blamed on the pods
// that were terminating when they happened.
type ProbeSection struct {
	traffic.ProbeReport
	Attribution        []PodErrors `json:"attribution"`
	UnattributedErrors int         `json:"unattributedErrors"`
	// Series is the traffic per second (requests, errors, latency p95): the picture's axis.
	Series []traffic.SecondStat `json:"series,omitempty"`
}

// PodErrors counts the probe errors that happened while one pod was terminating.
type PodErrors struct {
	Pod    string `json:"pod"`
	Errors int    `json:"errors"`
}

// Summary counts the pods by how they ended.
type Summary struct {
	OldPods                int `json:"oldPods"`
	Gone                   int `json:"gone"`
	Clean                  int `json:"clean"`
	SIGKILLs               int `json:"sigkills"`
	OOMKills               int `json:"oomKills"`
	UncleanExits           int `json:"uncleanExits"`
	UnknownExits           int `json:"unknownExits"`
	ExitedBeforeNotServing int `json:"exitedBeforeNotServing"`
	// CleanSignalExits are among Clean: signal exits after the endpoint stopped serving.
	CleanSignalExits     int `json:"cleanSignalExits"`
	ExitedBeforeDeletion int `json:"exitedBeforeDeletion"`
	Evicted              int `json:"evicted"`
	// Unobserved pods went while the guard's watch was disconnected.
	Unobserved int `json:"unobserved"`
}

// PodReport is one old pod's drain timeline as reported to the user.
type PodReport struct {
	Name                   string             `json:"name"`
	ExitCode               *int32             `json:"exitCode"`
	Reason                 string             `json:"reason"`
	Exit                   progress.ExitClass `json:"exit"`
	SIGKILL                bool               `json:"sigkill"`
	ServingFalseBeforeExit bool               `json:"servingFalseBeforeExit"`
	// SeenAfterWatchGap: the pod's steps were replayed after a watch gap: its
	// exit is what the API said, its timings are not known.
	SeenAfterWatchGap        bool     `json:"seenAfterWatchGap,omitempty"`
	SecondsToNotReady        *float64 `json:"secondsToNotReady"`
	SecondsToNotServing      *float64 `json:"secondsToNotServing"`
	SecondsToEndpointRemoval *float64 `json:"secondsToEndpointRemoval"`
	TerminationSeconds       *float64 `json:"terminationSeconds"`
	SecondsToGone            *float64 `json:"secondsToGone"`
	GraceSeconds             float64  `json:"graceSeconds"`
	GraceUsage               *float64 `json:"graceUsage"`
	GraceUsageExceeded       bool     `json:"graceUsageExceeded,omitempty"`
	ProbeErrors              int      `json:"probeErrors,omitempty"`
	// With --probe-identity-header: the time from the endpoint going not
	// ready to the last request on a new connection the pod served, and how
	// many such requests there were (0: none reached it, so no figure).
	DataPlanePropagationSeconds *float64 `json:"dataPlanePropagationSeconds,omitempty"`
	DataPlaneSamples            *int     `json:"dataPlaneSamples,omitempty"`
	// LateRequests reached the pod after it stopped serving: those it
	// answered after its endpoint went not serving (identity header; nil
	// without one) and failures without an identity, attributed by time: from
	// the endpoint going not serving, refused connections from the deletion
	// (nothing listened any more). LateRequestsFailed are the failed ones.
	LateRequests       *int `json:"lateRequests,omitempty"`
	LateRequestsFailed int  `json:"lateRequestsFailed,omitempty"`
	// The --probe-streams Watch streams the pod served (identity header).
	StreamsOpened      int                   `json:"streamsOpened,omitempty"`
	StreamsEndedClean  int                   `json:"streamsEndedClean,omitempty"`
	StreamsEndedAbrupt int                   `json:"streamsEndedAbrupt,omitempty"`
	Verdict            string                `json:"verdict"`
	Evicted            string                `json:"evicted,omitempty"`
	Containers         []state.ContainerExit `json:"containers,omitempty"`
	Events             []state.PodEvent      `json:"events,omitempty"`
	// Timeline is when each step happened, on the guard's clock (the picture).
	Timeline *PodTimes `json:"timeline,omitempty"`
}

// PodTimes are an old pod's drain steps as instants; nil: not seen. Deletion
// is when the guard saw the request, GraceDeadline the deletion plus the grace.
type PodTimes struct {
	Deletion        *time.Time `json:"deletion"`
	NotReady        *time.Time `json:"notReady"`
	NotServing      *time.Time `json:"notServing"`
	EndpointRemoved *time.Time `json:"endpointRemoved"`
	Exited          *time.Time `json:"exited"`
	Gone            *time.Time `json:"gone"`
	GraceDeadline   *time.Time `json:"graceDeadline"`
}

// newPodTimes reads a timeline's instants; nil when its deletion was not seen
// or its steps were replayed after a watch gap (no times are known then).
func newPodTimes(t *state.PodTimeline) *PodTimes {
	if !t.Deleting() || t.SeenLate {
		return nil
	}
	instant := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	p := &PodTimes{
		Deletion: instant(t.DeletionObserved), NotReady: instant(t.NotReady), NotServing: instant(t.NotServing),
		EndpointRemoved: instant(t.EndpointRemoved), Exited: instant(t.LastExit),
		GraceDeadline: instant(t.DeletionObserved.Add(t.Grace)),
	}
	if !t.GoneUnobserved {
		p.Gone = instant(t.Gone)
	}
	return p
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
	VerdictOK             = "ok"
	VerdictNoDrain        = "exited-before-not-serving"
	VerdictUnclean        = "died-without-drain"
	VerdictOOMKilled      = "oom-killed"
	VerdictSIGKILL        = "sigkilled"
	VerdictExitUnknown    = "exit-unknown"
	VerdictStillPresent   = "still-terminating"
	VerdictNotTerminated  = "not-terminated"
	VerdictEvicted        = "evicted"
	VerdictUnobserved     = "unobserved"
	VerdictBeforeDeletion = "exited-before-deletion"
)

// NewPodReport turns a timeline into its reported form.
func NewPodReport(t *state.PodTimeline) PodReport {
	r := PodReport{
		Name:                     t.Name,
		GraceSeconds:             t.Grace.Seconds(),
		SecondsToNotReady:        t.Since(t.NotReady),
		SecondsToNotServing:      t.Since(t.NotServing),
		SecondsToEndpointRemoval: t.Since(t.EndpointRemoved),
		TerminationSeconds:       t.Since(t.LastExit),
		SecondsToGone:            t.Since(t.Gone),
		ServingFalseBeforeExit:   t.DrainedBeforeExit(),
		Containers:               t.Containers,
		Events:                   t.Events,
		Timeline:                 newPodTimes(t),
	}
	if u, ok := t.GraceUsage(); ok {
		r.GraceUsage = &u
	}
	if t.GoneUnobserved {
		r.SecondsToGone = nil // only when the guard found out, not when it went
	}
	if t.SeenLate {
		// Replayed after a watch gap: receipt times are not event times, so no
		// figure and no ordering is claimed; the exit itself stands.
		r.SeenAfterWatchGap = true
		r.SecondsToNotReady, r.SecondsToNotServing, r.SecondsToEndpointRemoval = nil, nil, nil
		r.TerminationSeconds, r.SecondsToGone, r.GraceUsage = nil, nil, nil
		r.ServingFalseBeforeExit = false
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
	r.Exit, r.Reason = exit.Exit, exit.Reason
	if exit.Exit != progress.ExitUnknown {
		code := exit.ExitCode
		r.ExitCode = &code
	}
	r.SIGKILL = exit.Exit == progress.ExitSIGKILL
	switch {
	case t.Evicted != "":
		r.Verdict, r.Evicted = VerdictEvicted, t.Evicted
		return r
	}
	switch exit.Exit {
	case progress.ExitBeforeDeletion:
		r.Verdict = VerdictBeforeDeletion
	case progress.ExitSIGKILL:
		r.Verdict = VerdictSIGKILL
	case progress.ExitOOMKilled:
		r.Verdict = VerdictOOMKilled
	case progress.ExitUnclean:
		r.Verdict = VerdictUnclean
	case progress.ExitUnknown:
		r.Verdict = VerdictExitUnknown
	case progress.ExitUnobserved:
		r.Verdict = VerdictUnobserved
	default:
		r.Verdict = VerdictOK
		if !r.ServingFalseBeforeExit && t.SeenEndpoint() && !t.SeenLate {
			r.Verdict = VerdictNoDrain
		}
	}
	return r
}

// Summarise fills the pods, propagation figures, recommendation and summary of r.
func (r *Rollout) Summarise(timelines []*state.PodTimeline, budget verify.GraceBudget) {
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
		if p.Verdict == VerdictEvicted {
			r.Summary.Evicted++
			continue // not the rollout's drain: no exit class counted, no propagation sample
		}
		switch p.Exit {
		case progress.ExitClean:
			r.Summary.Clean++
		case progress.ExitCleanSignal:
			r.Summary.Clean++
			r.Summary.CleanSignalExits++
		case progress.ExitBeforeDeletion:
			r.Summary.ExitedBeforeDeletion++
		case progress.ExitSIGKILL:
			r.Summary.SIGKILLs++
		case progress.ExitOOMKilled:
			r.Summary.OOMKills++
		case progress.ExitUnclean:
			r.Summary.UncleanExits++
		case progress.ExitUnknown:
			r.Summary.UnknownExits++
		case progress.ExitUnobserved:
			r.Summary.Unobserved++
		}
		if p.Verdict == VerdictNoDrain {
			r.Summary.ExitedBeforeNotServing++
		}
		if p.SecondsToNotReady != nil {
			notReady = append(notReady, *p.SecondsToNotReady)
		}
	}
	r.Propagation = NewPercentiles(notReady)
	r.recommend(budget, 0)
	r.DurationSeconds = r.FinishedAt.Sub(r.StartedAt).Seconds()
}

// recommend sets the grace recommendation from the budget, the API-level
// propagation and dataPlane (deletion to the last new-connection request a
// pod served after going not ready, the largest over the pods; 0: none).
// A measurement may raise the configured (or load-balancer-derived)
// propagation, never lower it: a ClusterIP probe does not see a cloud load
// balancer's deregistration.
func (r *Rollout) recommend(budget verify.GraceBudget, dataPlane time.Duration) {
	r.RecommendedGraceSeconds, r.RecommendationFormula, r.RecommendationPropagation = nil, "", ""
	if r.Propagation.Max == nil && dataPlane <= 0 {
		return
	}
	measured, source := budget, "configured"
	if r.Propagation.Max != nil {
		if api := time.Duration(*r.Propagation.Max * float64(time.Second)); api > measured.EndpointPropagation {
			measured.EndpointPropagation, source = api, "measured-api"
		}
	}
	if dataPlane > measured.EndpointPropagation {
		measured.EndpointPropagation, source = dataPlane, "measured-data-plane"
	}
	if req := measured.Require(0); !req.Unbounded() { // absurd inputs recommend nothing
		secs := req.Seconds()
		r.RecommendedGraceSeconds = &secs
		r.RecommendationFormula = req.Formula()
		r.RecommendationPropagation = source
	}
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

// AttributeProbe adds the probe traffic's outcome, its errors divided among the pods.
func (r *Rollout) AttributeProbe(snap traffic.ProbeReport, a attribution.Result) {
	sec := &ProbeSection{ProbeReport: snap, UnattributedErrors: a.Unattributed}
	for i := range r.Pods {
		if n := a.ByPod[r.Pods[i].Name]; n > 0 {
			r.Pods[i].ProbeErrors = n
			sec.Attribution = append(sec.Attribution, PodErrors{Pod: r.Pods[i].Name, Errors: n})
		}
	}
	r.Probe = sec
}
