package state

import (
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Rollout is what the guard knows of one Deployment's rollout, folded from watch
// events: the Deployment, its ReplicaSets, and a drain timeline per pod. It is
// owned by one goroutine and never touches the network or prints: Apply returns
// what changed as typed progress events.
type Rollout struct {
	Deployment *appsv1.Deployment
	// DeploymentDeleted is set once the Deployment's deletion was seen (or
	// inferred from a relist): nothing is left to roll out.
	DeploymentDeleted bool
	// Since drops Kubernetes Events older than this (a second of slack for
	// their one-second timestamps): they belong to earlier rollouts.
	Since time.Time

	// Ignore names containers whose exits are reported but not judged.
	Ignore map[string]bool
	// Late says that what Apply gets now may have happened a while ago: a watch
	// replaying what it missed during a gap. Steps received late mark their pod
	// SeenLate: its receipt times are not when things happened.
	Late bool

	replicaSets map[string]*appsv1.ReplicaSet
	podOwner    map[string]metav1.OwnerReference // pod name -> its controller
	timelines   map[string]*PodTimeline
	slices      map[string]map[string]discoveryv1.EndpointConditions // slice -> pod -> conditions
	seenEvents  map[string]bool

	// oldCache is oldPods' last answer, kept while nothing it depends on
	// changed: a pod's owner, which ReplicaSets exist and whom they belong to
	// (not their status), the Deployment's UID and which ReplicaSet is the new
	// one. The guard asks after every change; walking every pod each time made
	// a 500-replica rollout cost seconds of CPU (make bench).
	oldCache      []*PodTimeline
	oldCacheNewRS types.UID
	oldCacheValid bool
}

// New starts the state of d's rollout.
func New(d *appsv1.Deployment, since time.Time) *Rollout {
	return &Rollout{
		Deployment:  d,
		Since:       since,
		replicaSets: map[string]*appsv1.ReplicaSet{},
		podOwner:    map[string]metav1.OwnerReference{},
		timelines:   map[string]*PodTimeline{},
		slices:      map[string]map[string]discoveryv1.EndpointConditions{},
		seenEvents:  map[string]bool{},
	}
}

// Workload names the Deployment in events.
func (r *Rollout) Workload() progress.Workload {
	return progress.Workload{Kind: workload.KindDeployment, Namespace: r.Deployment.Namespace, Name: r.Deployment.Name}
}

// Apply folds one watched object (or its deletion) observed at now into the
// state and returns the drain steps it revealed. Unknown object types are ignored.
func (r *Rollout) Apply(obj any, deleted bool, now time.Time) []progress.Event {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if deleted {
			r.DeploymentDeleted = true
		} else {
			if r.Deployment == nil || r.Deployment.UID != o.UID {
				r.oldCacheValid = false
			}
			r.Deployment = o
		}
	case *appsv1.ReplicaSet:
		if previous, ok := r.replicaSets[o.Name]; deleted || !ok || previous.UID != o.UID || controllerUID(previous) != controllerUID(o) {
			r.oldCacheValid = false
		}
		if deleted {
			delete(r.replicaSets, o.Name)
		} else {
			r.replicaSets[o.Name] = o
		}
	case *corev1.Pod:
		if ref := metav1.GetControllerOf(o); ref != nil {
			if previous, ok := r.podOwner[o.Name]; !ok || previous.UID != ref.UID || previous.Name != ref.Name {
				r.oldCacheValid = false
			}
			r.podOwner[o.Name] = *ref
		}
		t := r.timeline(o.Name, string(o.UID))
		before := *t
		t.ObservePod(o, now, deleted)
		return r.changes(&before, t, now)
	case *discoveryv1.EndpointSlice:
		return r.applySlice(o, deleted, now)
	case *corev1.Event:
		if !deleted && !r.seenEvents[eventKey(o)] {
			r.seenEvents[eventKey(o)] = true // a relist delivers every Event again
			return r.applyEvent(o, now)
		}
	}
	return nil
}

// ApplyUnobserved folds a deletion the watch missed (a relist found the object
// gone): a pod whose exit was not seen is marked unobserved, never given the
// stale status of its last sighting or the relist time as its end.
func (r *Rollout) ApplyUnobserved(obj any, now time.Time) []progress.Event {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return r.Apply(obj, true, now)
	}
	t := r.timeline(pod.Name, string(pod.UID))
	if t.Gone.IsZero() {
		t.Gone, t.GoneUnobserved = now, true
		if t.DeletionObserved.IsZero() {
			t.DeletionObserved = now
		}
		return []progress.Event{progress.PodUnobserved{Header: r.header(now), Pod: pod.Name}}
	}
	return nil
}

func (r *Rollout) timeline(name, uid string) *PodTimeline {
	t, ok := r.timelines[name]
	if !ok {
		t = &PodTimeline{Name: name, UID: uid, Ignore: r.Ignore}
		r.timelines[name] = t
		r.oldCacheValid = false
	}
	return t
}

func (r *Rollout) applyEvent(e *corev1.Event, now time.Time) []progress.Event {
	if !interestingEvent(e.Reason) || eventTime(e).Before(r.Since.Add(-time.Second)) {
		return nil
	}
	t, ok := r.timelines[e.InvolvedObject.Name]
	if !ok || !t.Deleting() {
		return nil
	}
	var out []progress.Event
	if !t.HasEvent(e.Reason) { // probes repeat every period: say it once
		out = append(out, progress.PodEventObserved{Header: r.header(now), Pod: t.Name, Reason: e.Reason, Message: strings.TrimSpace(e.Message)})
	}
	t.ObserveEvent(e.Reason, e.Message, now)
	return out
}

// eventKey identifies one occurrence of an Event: its object and its count.
func eventKey(e *corev1.Event) string { return fmt.Sprintf("%s/%d", e.UID, e.Count) }

// interestingEvent tells which pod Events belong in a drain timeline.
func interestingEvent(reason string) bool {
	switch reason {
	case "Killing", "Unhealthy", "FailedPreStopHook", "FailedKillPod", "ExceededGracePeriod":
		return true
	}
	return false
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func (r *Rollout) applySlice(slice *discoveryv1.EndpointSlice, deleted bool, now time.Time) []progress.Event {
	previous := r.slices[slice.Name]
	current := map[string]discoveryv1.EndpointConditions{}
	if deleted {
		delete(r.slices, slice.Name)
	} else {
		for _, ep := range slice.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				current[ep.TargetRef.Name] = ep.Conditions
			}
		}
		r.slices[slice.Name] = current
	}
	touched := sets.KeySet(previous).Union(sets.KeySet(current))
	var out []progress.Event
	for _, pod := range sets.List(touched) {
		t := r.timeline(pod, "")
		before := *t
		if cond, ok := current[pod]; ok {
			t.ObserveEndpoint(&cond, true, now)
		} else if cond, ok := r.anySlice(pod); ok {
			t.ObserveEndpoint(&cond, true, now)
		} else {
			t.ObserveEndpoint(nil, false, now)
		}
		out = append(out, r.changes(&before, t, now)...)
	}
	return out
}

func (r *Rollout) anySlice(pod string) (discoveryv1.EndpointConditions, bool) {
	for _, s := range r.slices {
		if c, ok := s[pod]; ok {
			return c, true
		}
	}
	return discoveryv1.EndpointConditions{}, false
}

func (r *Rollout) header(now time.Time) progress.Header {
	return progress.Header{Workload: r.Workload(), At: now}
}

// changes lists the drain steps a pod took between two versions of its timeline.
func (r *Rollout) changes(before, after *PodTimeline, now time.Time) []progress.Event {
	h := r.header(now)
	var out []progress.Event
	since := func(at time.Time) time.Duration { return at.Sub(after.DeletionObserved) }
	if before.DeletionRequested.IsZero() && !after.DeletionRequested.IsZero() {
		out = append(out, progress.PodDeleted{Header: h, Pod: after.Name, Grace: after.Grace})
	}
	if before.NotReady.IsZero() && !after.NotReady.IsZero() {
		out = append(out, progress.EndpointNotReady{Header: h, Pod: after.Name, After: since(after.NotReady)})
	}
	if before.NotServing.IsZero() && !after.NotServing.IsZero() {
		out = append(out, progress.EndpointNotServing{Header: h, Pod: after.Name, After: since(after.NotServing)})
	}
	if before.EndpointRemoved.IsZero() && !after.EndpointRemoved.IsZero() {
		out = append(out, progress.EndpointRemoved{Header: h, Pod: after.Name, After: since(after.EndpointRemoved)})
	}
	for _, c := range after.Containers[len(before.Containers):] {
		out = append(out, progress.ContainerExited{Header: h, Pod: after.Name, Container: c.Name, ExitCode: c.ExitCode,
			Reason: c.Reason, After: since(after.ContainerExited), Class: c.Exit})
	}
	if before.Gone.IsZero() && !after.Gone.IsZero() {
		out = append(out, progress.PodGone{Header: h, Pod: after.Name, After: since(after.Gone)})
	}
	if r.Late && len(out) > 0 {
		after.SeenLate = true
	}
	return out
}

// ReplicaSets lists the ReplicaSets seen so far.
func (r *Rollout) ReplicaSets() []*appsv1.ReplicaSet {
	out := make([]*appsv1.ReplicaSet, 0, len(r.replicaSets))
	for _, rs := range r.replicaSets {
		out = append(out, rs)
	}
	return out
}

// newReplicaSet is the Deployment's ReplicaSet of its current revision; nil
// until the controller has caught up with the spec.
func (r *Rollout) newReplicaSet() *appsv1.ReplicaSet {
	d := r.Deployment
	rev := d.Annotations[workload.RevisionAnnotation]
	if rev == "" || d.Status.ObservedGeneration < d.Generation {
		return nil
	}
	for _, rs := range r.replicaSets {
		if rs.Annotations[workload.RevisionAnnotation] == rev && metav1.IsControlledBy(rs, d) {
			return rs
		}
	}
	return nil
}

// replicaSetOf is the Deployment's ReplicaSet that controls the pod, if any:
// a pod that merely carries the labels is not the Deployment's.
func (r *Rollout) replicaSetOf(pod string) *appsv1.ReplicaSet {
	ref, ok := r.podOwner[pod]
	if !ok {
		return nil
	}
	rs, ok := r.replicaSets[ref.Name]
	if !ok || rs.UID != ref.UID || !metav1.IsControlledBy(rs, r.Deployment) {
		return nil
	}
	return rs
}

// oldPods lists the timelines of the Deployment's pods that are not of the new
// ReplicaSet (all of its pods while the new one is not known yet).
func (r *Rollout) oldPods() []*PodTimeline {
	newRS := r.newReplicaSet()
	var newUID types.UID
	if newRS != nil {
		newUID = newRS.UID
	}
	if r.oldCacheValid && r.oldCacheNewRS == newUID {
		return r.oldCache
	}
	var out []*PodTimeline
	for name, t := range r.timelines {
		if rs := r.replicaSetOf(name); rs != nil && (newRS == nil || rs.UID != newRS.UID) {
			out = append(out, t)
		}
	}
	r.oldCache, r.oldCacheNewRS, r.oldCacheValid = out, newUID, true
	return out
}

func controllerUID(o metav1.Object) types.UID {
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		return ref.UID
	}
	return ""
}

// OldTimelines are the timelines of the old pods the rollout replaces; pods only
// an Event or an endpoint mentioned, and bare pods with the same labels, are not
// the Deployment's. The slice is shared: callers may reorder it, never add or remove.
func (r *Rollout) OldTimelines() []*PodTimeline { return r.oldPods() }

// NewPodFailures lists the pods of the new ReplicaSet whose containers
// restarted or failed to start.
func (r *Rollout) NewPodFailures() []PodFailure {
	newRS := r.newReplicaSet()
	if newRS == nil {
		return nil
	}
	var out []PodFailure
	for name, t := range r.timelines {
		if t.Failure == nil {
			continue
		}
		if rs := r.replicaSetOf(name); rs != nil && rs.UID == newRS.UID {
			out = append(out, *t.Failure)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

// Status tells whether the rollout to targetGeneration is complete: the
// controller finished it AND every old pod is gone.
func (r *Rollout) Status(targetGeneration int64) (msg string, done bool, err error) {
	left := 0
	for _, t := range r.oldPods() {
		if t.Gone.IsZero() {
			left++
		}
	}
	msg, done, err = workload.Status(r.Deployment, targetGeneration)
	switch {
	case !done:
		return msg, false, err
	case left > 0:
		return fmt.Sprintf("new pods available; %d old pods still terminating", left), false, nil
	case r.newReplicaSet() == nil:
		return "waiting for the new ReplicaSet", false, nil
	}
	return msg + ", every old pod gone", true, nil
}
