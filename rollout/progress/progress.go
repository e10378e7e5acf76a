// Package progress defines the typed events a guarded rollout emits while it
// runs. The engine only emits them; cli/ renders them (spinner, plain lines or
// nothing) and tests assert on them. Every event names the workload it is
// about, so a run that guards several workloads needs no new plumbing.
package progress

import "time"

// Workload identifies the object a rollout belongs to.
type Workload struct {
	Kind      string // Deployment, StatefulSet, DaemonSet
	Namespace string
	Name      string
}

// Event is one step of a guarded rollout.
type Event interface {
	Source() Workload
}

// Sink receives events; it must not block for long (the guard's loop calls it).
type Sink func(Event)

// Header is what every event carries: the workload and the guard's own clock
// reading when it happened.
type Header struct {
	Workload Workload
	At       time.Time
}

// Source names the workload of the event.
func (h Header) Source() Workload { return h.Workload }

// WatchStarted: the guard's watches are synced; Services are the ones whose
// EndpointSlices it follows (none when nothing selects the pods).
type WatchStarted struct {
	Header
	Services []string
}

// WatchRetrying: a watch failed and its reflector retries; Resource is what it
// watched (pods, endpointslices, ...).
type WatchRetrying struct {
	Header
	Resource string
	Message  string
}

// WatchResumed: the watch of Resource delivers again after failing Since; what
// happened in between was folded in from its relist.
type WatchResumed struct {
	Header
	Resource string
	Since    time.Time
}

// ServiceWatched: a Service that selects the pods appeared during the rollout
// (or came to select them); its EndpointSlices are watched from now on.
type ServiceWatched struct {
	Header
	Service string
}

// WorkloadDeleted: the workload was deleted while guarded.
type WorkloadDeleted struct {
	Header
}

// NewRevision: someone else changed the pod template during the guarded
// rollout, the controller rolls out Revision (Generation); Followed tells
// whether the guard goes on with it (--follow) or ends.
type NewRevision struct {
	Header
	Revision   string
	Generation int64
	Followed   bool
}

// RestartRequested: the restart was accepted by the API server.
type RestartRequested struct {
	Header
	Generation int64
}

// StatusChanged: the rollout's status, as the controller and the old pods tell it.
type StatusChanged struct {
	Header
	Message string
}

// ProbingTail: the rollout is complete; probe traffic goes on for Tail.
type ProbingTail struct {
	Header
	Status string
	Tail   time.Duration
}

// QueryFailed: the external metric query could not be evaluated this time.
type QueryFailed struct {
	Header
	Query   string
	Message string
}

// PodDeleted: an old pod's deletion was requested with this grace period.
type PodDeleted struct {
	Header
	Pod   string
	Grace time.Duration
}

// EndpointNotReady: an EndpointSlice lists the pod as not ready (or terminating),
// After its deletion was observed.
type EndpointNotReady struct {
	Header
	Pod   string
	After time.Duration
}

// EndpointNotServing: the pod's endpoint reports serving=false: readiness saw the drain.
type EndpointNotServing struct {
	Header
	Pod   string
	After time.Duration
}

// EndpointRemoved: no EndpointSlice lists the pod any more.
type EndpointRemoved struct {
	Header
	Pod   string
	After time.Duration
}

// ContainerExited: a container of an old pod terminated; After is when the pod's
// first container exited, counted from the deletion.
type ContainerExited struct {
	Header
	Pod       string
	Container string
	ExitCode  int32
	Reason    string
	After     time.Duration
	Class     ExitClass
	// Ignored: reported, not judged (--ignore-container).
	Ignored bool
}

// PodGone: the pod object was removed.
type PodGone struct {
	Header
	Pod   string
	After time.Duration
}

// PodUnobserved: the pod went while the guard's watch was disconnected.
type PodUnobserved struct {
	Header
	Pod string
}

// PodEventObserved: a Kubernetes Event about a terminating pod (Killing,
// Unhealthy, FailedPreStopHook, ...), reported once per reason.
type PodEventObserved struct {
	Header
	Pod     string
	Reason  string
	Message string
}

// BreachDetected: a breach limit was exceeded.
type BreachDetected struct {
	Header
	Budget  string
	Message string
	// Pod is the pod the breach names (the last one SIGKILLed, ...), "" when none.
	Pod string
}

// Actions a guard takes on a breach (ActionTaken.Action).
const (
	ActionPaused     = "paused"
	ActionRolledBack = "rolled-back"
)

// ActionTaken: the guard acted on a breach; Revision is the rollback's target;
// Detail is what the report says was done, e.g. "stopped the roll with
// partition 2: ... (restore: ...)".
type ActionTaken struct {
	Header
	Action   string
	Revision string
	Detail   string
}

// PodsForceDeleted: a StatefulSet's forced rollback deleted these pods of the
// broken revision, which were not ready (the controller waits on them forever
// otherwise).
type PodsForceDeleted struct {
	Header
	Pods []string
}
