package state

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

// MaxEventsPerPod bounds the memory a flapping pod can take.
const MaxEventsPerPod = 20

// PodTimeline records how one old pod left: every instant is the guard's own
// observation time, so durations do not depend on clock skew with the cluster.
type PodTimeline struct {
	Name string
	UID  string
	// DeletionObserved is when the guard first saw the deletion request.
	DeletionObserved time.Time
	// DeletionRequested is the server's view: deletionTimestamp - grace (1 s precision).
	DeletionRequested time.Time
	Grace             time.Duration

	NotReady        time.Time // EndpointSlice: ready=false or terminating=true
	NotServing      time.Time // EndpointSlice: serving=false
	EndpointRemoved time.Time // no EndpointSlice lists the pod any more
	ContainerExited time.Time // first (not ignored) container terminated
	LastExit        time.Time // last (not ignored) container terminated
	Gone            time.Time // DELETED event
	Ready           time.Time // a new pod's Ready condition first seen true
	// GoneUnobserved: the pod went while the watch was disconnected; Gone is only
	// when the guard found out.
	GoneUnobserved bool
	// SeenLate: some of the pod's steps were received after a watch gap, when
	// the watch replayed them: their receipt times (and the order of the
	// endpoint flip and the exit) say nothing about when they happened.
	SeenLate bool

	// Evicted names the eviction (the DisruptionTarget condition's reason) when the
	// pod was deleted by one rather than by the rollout.
	Evicted string
	// Ignore names containers whose exits are reported but not judged
	// (--ignore-container, the safe-rollout.io/ignore-containers annotation).
	Ignore map[string]bool

	// Failure is the pod's container restarts or failed start, before its deletion.
	Failure *PodFailure

	seenEndpoint bool
	Containers   []ContainerExit
	Events       []PodEvent
}

// ContainerExit is a container's final state.
type ContainerExit struct {
	Name       string             `json:"name"`
	ExitCode   int32              `json:"exitCode"`
	Reason     string             `json:"reason"`
	FinishedAt time.Time          `json:"finishedAt"`
	Exit       progress.ExitClass `json:"exit"`
	Ignored    bool               `json:"ignored,omitempty"`
}

// PodEvent is a Kubernetes Event about the pod (Killing, Unhealthy, FailedPreStopHook, ...).
type PodEvent struct {
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// Deleting tells whether the pod's deletion has been observed.
func (t *PodTimeline) Deleting() bool { return !t.DeletionObserved.IsZero() }

// ObservePod folds a pod update (or the final DELETED object) into the timeline.
func (t *PodTimeline) ObservePod(pod *corev1.Pod, at time.Time, deleted bool) {
	if pod.DeletionTimestamp != nil && t.DeletionRequested.IsZero() {
		grace := time.Duration(0)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
		t.Grace = grace
		t.DeletionRequested = pod.DeletionTimestamp.Add(-grace)
		if t.DeletionObserved.IsZero() {
			t.DeletionObserved = at
		}
	}
	if deleted && t.DeletionObserved.IsZero() {
		t.DeletionObserved = at // force-deleted without a grace period
	}
	if !t.Deleting() {
		t.Failure = podFailure(pod)
	}
	t.observeReady(pod, at)
	if t.Evicted == "" {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
				t.Evicted = c.Reason
			}
		}
	}
	for _, cs := range terminatingContainers(pod) {
		term := cs.State.Terminated
		if term == nil || !t.Deleting() {
			continue
		}
		seen := at
		if deleted {
			// Only the final object told us: the exit happened earlier. Estimate when
			// from the server's own timestamps (1 s precision) on our clock.
			if est := t.estimateLocal(term.FinishedAt.Time); !est.IsZero() && est.Before(seen) {
				seen = est
			}
		}
		t.recordExit(cs.Name, term, seen)
	}
	if deleted && t.Gone.IsZero() {
		t.Gone = at
	}
}

// estimateLocal maps a server timestamp of this pod's termination onto the
// guard's clock, using the deletion as the common reference.
func (t *PodTimeline) estimateLocal(server time.Time) time.Time {
	if server.IsZero() || t.DeletionRequested.IsZero() || t.DeletionObserved.IsZero() || server.Before(t.DeletionRequested) {
		return time.Time{}
	}
	return t.DeletionObserved.Add(server.Sub(t.DeletionRequested))
}

// terminatingContainers are the containers the kubelet stops when the pod goes:
// every regular container and every native sidecar (an init container with
// restartPolicy Always, stopped after the main containers).
func terminatingContainers(pod *corev1.Pod) []corev1.ContainerStatus {
	out := append([]corev1.ContainerStatus(nil), pod.Status.ContainerStatuses...)
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if sidecars[cs.Name] {
			out = append(out, cs)
		}
	}
	return out
}

func (t *PodTimeline) recordExit(container string, term *corev1.ContainerStateTerminated, at time.Time) {
	for _, c := range t.Containers {
		if c.Name == container {
			return
		}
	}
	// Drained: the endpoint stopped serving before the exit reached the guard (both
	// on the guard's clock: API timestamps have one-second precision), or the pod
	// never had an endpoint to drain.
	drained := !t.seenEndpoint || (!t.NotServing.IsZero() && !t.NotServing.After(at))
	ignored := t.Ignore[container]
	t.Containers = append(t.Containers, ContainerExit{
		Name:       container,
		ExitCode:   term.ExitCode,
		Reason:     term.Reason,
		FinishedAt: term.FinishedAt.Time,
		Exit:       ClassifyExit(term, t.DeletionRequested, t.Grace, drained),
		Ignored:    ignored,
	})
	if ignored {
		return
	}
	if t.ContainerExited.IsZero() || at.Before(t.ContainerExited) {
		t.ContainerExited = at
	}
	if at.After(t.LastExit) {
		t.LastExit = at
	}
}

// ObserveEndpoint folds the pod's endpoint conditions, as one EndpointSlice lists
// them, into the timeline. present=false means no slice lists the pod any more.
func (t *PodTimeline) ObserveEndpoint(cond *discoveryv1.EndpointConditions, present bool, at time.Time) {
	if !present {
		if t.seenEndpoint && t.EndpointRemoved.IsZero() && t.Deleting() {
			t.EndpointRemoved = at
		}
		return
	}
	t.seenEndpoint = true
	if !t.Deleting() {
		if !isTrue(cond.Terminating) {
			return
		}
		// The EndpointSlice watch can deliver the termination before the pod watch does.
		t.DeletionObserved = at
	}
	if t.NotReady.IsZero() && (isFalse(cond.Ready) || isTrue(cond.Terminating)) {
		t.NotReady = at
	}
	if t.NotServing.IsZero() && isFalse(cond.Serving) {
		t.NotServing = at
	}
}

// ObserveEvent records an Event about the pod, keeping the first few.
func (t *PodTimeline) ObserveEvent(reason, message string, at time.Time) {
	if len(t.Events) < MaxEventsPerPod {
		t.Events = append(t.Events, PodEvent{At: at, Reason: reason, Message: message})
	}
}

// GraceUsage is the fraction of the grace period the pod used before its last
// judged container exited; ok is false before that or without a grace period.
func (t *PodTimeline) GraceUsage() (usage float64, ok bool) {
	exited := t.Since(t.LastExit)
	if exited == nil || t.Grace <= 0 {
		return 0, false
	}
	return *exited / t.Grace.Seconds(), true
}

// SeenEndpoint tells whether an EndpointSlice ever listed the pod.
func (t *PodTimeline) SeenEndpoint() bool { return t.seenEndpoint }

// HasEvent tells whether an Event with this reason was already recorded.
func (t *PodTimeline) HasEvent(reason string) bool {
	for _, e := range t.Events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// Exit is the pod's worst judged (not ignored) container exit; ok is false
// before any such container exited.
func (t *PodTimeline) Exit() (ContainerExit, bool) {
	var worst *ContainerExit
	for i, c := range t.Containers {
		if !c.Ignored && (worst == nil || c.Exit.Rank() > worst.Exit.Rank()) {
			worst = &t.Containers[i]
		}
	}
	switch {
	case worst != nil:
		return *worst, true
	case t.GoneUnobserved:
		return ContainerExit{Exit: progress.ExitUnobserved}, true
	case !t.Gone.IsZero():
		return ContainerExit{Exit: progress.ExitUnknown}, true
	}
	return ContainerExit{}, false
}

// DrainedBeforeExit tells whether readiness reflected draining (serving=false)
// before the first container exited: the contract's first step.
func (t *PodTimeline) DrainedBeforeExit() bool {
	return !t.NotServing.IsZero() && (t.ContainerExited.IsZero() || t.NotServing.Before(t.ContainerExited))
}

// Since returns seconds from the deletion to at, or nil when at never happened.
func (t *PodTimeline) Since(at time.Time) *float64 {
	if at.IsZero() || t.DeletionObserved.IsZero() {
		return nil
	}
	s := at.Sub(t.DeletionObserved).Seconds()
	if s < 0 {
		s = 0
	}
	return &s
}

func isFalse(b *bool) bool { return b != nil && !*b }
func isTrue(b *bool) bool  { return b != nil && *b }
