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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Rollout is what the guard knows of one workload's rollout, folded from watch
// events: the workload, its ReplicaSets (a Deployment) or ControllerRevisions
// (a StatefulSet or DaemonSet), and a drain timeline per pod. It is owned by
// one goroutine and never touches the network or prints: Apply returns what
// changed as typed progress events.
type Rollout struct {
	Workload workload.Workload
	// WorkloadDeleted is set once the workload's deletion was seen (or
	// inferred from a relist): nothing is left to roll out.
	WorkloadDeleted bool
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
	revisions   map[string]*appsv1.ControllerRevision
	// Pods are keyed by UID, not name: a StatefulSet's replacement pod has
	// its predecessor's name. byName finds the newest pod of a name for what
	// names a pod without its UID.
	podOwner   map[string]metav1.OwnerReference // pod key -> its controller
	podHash    map[string]string                // pod key -> its controller-revision-hash label
	byName     map[string]string                // pod name -> key of the newest pod of that name
	timelines  map[string]*PodTimeline
	slices     map[string]map[string]discoveryv1.EndpointConditions // slice -> pod key -> conditions
	seenEvents map[string]bool

	// oldCache is oldPods' last answer, kept while nothing it depends on
	// changed: a pod's owner or revision, which ReplicaSets or revisions exist
	// and whom they belong to (not their status), the workload's UID and
	// which revision is the new one. The guard asks after every change;
	// walking every pod each time made a 500-replica rollout cost seconds of
	// CPU (make bench).
	oldCache      []*PodTimeline
	oldCacheNew   string
	oldCacheValid bool
	// updateHash caches the revision hash a StatefulSet or DaemonSet rolls
	// out (decoding ControllerRevisions is not free); valid with updateValid.
	updateHash  string
	updateValid bool
}

// New starts the state of w's rollout.
func New(w workload.Workload, since time.Time) *Rollout {
	return &Rollout{
		Workload:    w,
		Since:       since,
		replicaSets: map[string]*appsv1.ReplicaSet{},
		revisions:   map[string]*appsv1.ControllerRevision{},
		podOwner:    map[string]metav1.OwnerReference{},
		podHash:     map[string]string{},
		byName:      map[string]string{},
		timelines:   map[string]*PodTimeline{},
		slices:      map[string]map[string]discoveryv1.EndpointConditions{},
		seenEvents:  map[string]bool{},
	}
}

// Ref names the workload in events.
func (r *Rollout) Ref() progress.Workload {
	return progress.Workload{Kind: r.Workload.Kind(), Namespace: r.Workload.GetNamespace(), Name: r.Workload.GetName()}
}

// Deployment is the workload when it is a Deployment, else nil.
func (r *Rollout) Deployment() *appsv1.Deployment {
	if d, ok := r.Workload.(workload.Deployment); ok {
		return d.Deployment
	}
	return nil
}

// Apply folds one watched object (or its deletion) observed at now into the
// state and returns the drain steps it revealed. Unknown object types are ignored.
func (r *Rollout) Apply(obj any, deleted bool, now time.Time) []progress.Event {
	switch o := obj.(type) {
	case *appsv1.Deployment, *appsv1.StatefulSet, *appsv1.DaemonSet:
		w, _ := workload.For(o.(runtime.Object))
		if w.Kind() != r.Workload.Kind() || w.GetName() != r.Workload.GetName() {
			return nil
		}
		if deleted {
			r.WorkloadDeleted = true
		} else {
			if r.Workload.GetUID() != w.GetUID() {
				r.oldCacheValid = false
			}
			r.Workload, r.updateValid = w, false
		}
	case *appsv1.ControllerRevision:
		r.oldCacheValid, r.updateValid = false, false
		if deleted {
			delete(r.revisions, o.Name)
		} else {
			r.revisions[o.Name] = o
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
		key := podKey(string(o.UID), o.Name)
		if ref := metav1.GetControllerOf(o); ref != nil {
			if previous, ok := r.podOwner[key]; !ok || previous.UID != ref.UID || previous.Name != ref.Name {
				r.oldCacheValid = false
			}
			r.podOwner[key] = *ref
		}
		if hash := o.Labels[workload.RevisionHashLabel]; hash != r.podHash[key] {
			r.podHash[key], r.oldCacheValid = hash, false
		}
		t := r.timeline(key, o.Name, string(o.UID))
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
	t := r.timeline(podKey(string(pod.UID), pod.Name), pod.Name, string(pod.UID))
	if t.Gone.IsZero() {
		t.Gone, t.GoneUnobserved = now, true
		if t.DeletionObserved.IsZero() {
			t.DeletionObserved = now
		}
		return []progress.Event{progress.PodUnobserved{Header: r.header(now), Pod: pod.Name}}
	}
	return nil
}

// podKey is a pod's key among the timelines: its UID, or its name where
// nothing says the UID (fake API servers in tests).
func podKey(uid, name string) string {
	if uid != "" {
		return uid
	}
	return name
}

// keyOf finds the key of a pod named by something that may not carry its
// UID (an endpoint's targetRef, an Event's involvedObject): the newest pod of
// that name.
func (r *Rollout) keyOf(uid, name string) string {
	if uid != "" {
		return uid
	}
	if key, ok := r.byName[name]; ok {
		return key
	}
	return name
}

func (r *Rollout) timeline(key, name, uid string) *PodTimeline {
	t, ok := r.timelines[key]
	if ok {
		return t
	}
	r.oldCacheValid = false
	if uid != "" {
		r.byName[name] = key
		// Something that named the pod without its UID came first: that
		// timeline is this pod's.
		if early, ok := r.timelines[name]; ok && early.UID == "" && key != name {
			r.rekey(name, key)
			early.UID = uid
			return early
		}
	}
	t = &PodTimeline{Name: name, UID: uid, Ignore: r.Ignore}
	r.timelines[key] = t
	return t
}

// rekey moves what is known under a pod's name to its UID.
func (r *Rollout) rekey(from, to string) {
	r.timelines[to] = r.timelines[from]
	delete(r.timelines, from)
	for _, pods := range r.slices {
		if c, ok := pods[from]; ok {
			pods[to] = c
			delete(pods, from)
		}
	}
}

func (r *Rollout) applyEvent(e *corev1.Event, now time.Time) []progress.Event {
	if !interestingEvent(e.Reason) || eventTime(e).Before(r.Since.Add(-time.Second)) {
		return nil
	}
	t, ok := r.timelines[r.keyOf(string(e.InvolvedObject.UID), e.InvolvedObject.Name)]
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
	refs := map[string]*corev1.ObjectReference{} // pod key -> its targetRef
	if deleted {
		delete(r.slices, slice.Name)
	} else {
		for _, ep := range slice.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				key := r.keyOf(string(ep.TargetRef.UID), ep.TargetRef.Name)
				current[key] = ep.Conditions
				refs[key] = ep.TargetRef
			}
		}
		r.slices[slice.Name] = current
	}
	touched := sets.KeySet(previous).Union(sets.KeySet(current))
	var out []progress.Event
	for _, pod := range sets.List(touched) {
		_, known := r.timelines[pod]
		if _, listed := current[pod]; !known && !listed {
			continue // moved to the pod's UID since the slice's last version
		}
		name, uid := r.nameOf(pod), ""
		if ref, ok := refs[pod]; ok {
			name, uid = ref.Name, string(ref.UID)
		}
		t := r.timeline(pod, name, uid)
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

// nameOf is the name of the pod a key stands for.
func (r *Rollout) nameOf(key string) string {
	if t, ok := r.timelines[key]; ok {
		return t.Name
	}
	return key
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
	return progress.Header{Workload: r.Ref(), At: now}
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
			Reason: c.Reason, After: since(after.ContainerExited), Class: c.Exit, Ignored: c.Ignored})
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

// Revisions lists the ControllerRevisions seen so far.
func (r *Rollout) Revisions() []*appsv1.ControllerRevision {
	out := make([]*appsv1.ControllerRevision, 0, len(r.revisions))
	for _, cr := range r.revisions {
		out = append(out, cr)
	}
	return out
}

// newReplicaSet is the Deployment's ReplicaSet of its current revision; nil
// until the controller has caught up with the spec (and for other kinds).
func (r *Rollout) newReplicaSet() *appsv1.ReplicaSet {
	d := r.Deployment()
	if d == nil {
		return nil
	}
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
	if !ok || rs.UID != ref.UID || !metav1.IsControlledBy(rs, r.Deployment()) {
		return nil
	}
	return rs
}

// UpdateRevisionHash is the controller-revision-hash label of the pods a
// StatefulSet or DaemonSet rolls out, "" until the controller has caught up
// with the spec (and for a Deployment).
func (r *Rollout) UpdateRevisionHash() string {
	if !r.updateValid {
		r.updateHash, r.updateValid = workload.UpdateRevisionHash(r.Workload, r.Revisions()), true
	}
	return r.updateHash
}

// newRevision identifies the revision whose pods are new: the new
// ReplicaSet's UID, or the update revision's hash; "" while unknown.
func (r *Rollout) newRevision() string {
	if r.Deployment() != nil {
		if rs := r.newReplicaSet(); rs != nil {
			return string(rs.UID)
		}
		return ""
	}
	return r.UpdateRevisionHash()
}

// revisionOf tells whether the pod is the workload's own (its controller is
// the workload, or a ReplicaSet of the Deployment) and, if so, which revision
// it runs, in newRevision's terms.
func (r *Rollout) revisionOf(pod string) (owned bool, revision string) {
	if r.Deployment() != nil {
		if rs := r.replicaSetOf(pod); rs != nil {
			return true, string(rs.UID)
		}
		return false, ""
	}
	ref, ok := r.podOwner[pod]
	if !ok || ref.UID != r.Workload.GetUID() {
		return false, ""
	}
	return true, r.podHash[pod]
}

// oldPods lists the timelines of the workload's pods that are not of the new
// revision (all of its pods while the new one is not known yet).
func (r *Rollout) oldPods() []*PodTimeline {
	newRev := r.newRevision()
	if r.oldCacheValid && r.oldCacheNew == newRev {
		return r.oldCache
	}
	var out []*PodTimeline
	for key, t := range r.timelines {
		if owned, rev := r.revisionOf(key); owned && (newRev == "" || rev != newRev) {
			out = append(out, t)
		}
	}
	r.oldCache, r.oldCacheNew, r.oldCacheValid = out, newRev, true
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
// the workload's. The slice is shared: callers may reorder it, never add or remove.
func (r *Rollout) OldTimelines() []*PodTimeline { return r.oldPods() }

// NewPodFailures lists the pods of the new revision whose containers
// restarted or failed to start.
func (r *Rollout) NewPodFailures() []PodFailure {
	newRev := r.newRevision()
	if newRev == "" {
		return nil
	}
	var out []PodFailure
	for key, t := range r.timelines {
		if t.Failure == nil {
			continue
		}
		if owned, rev := r.revisionOf(key); owned && rev == newRev {
			out = append(out, *t.Failure)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	return out
}

// Status tells whether the rollout to targetGeneration is complete: the
// controller finished it AND every old pod that rolls is gone (a
// StatefulSet's ordinals below its partition stay on the old revision).
func (r *Rollout) Status(targetGeneration int64) (msg string, done bool, err error) {
	left := 0
	for _, t := range r.oldPods() {
		if t.Gone.IsZero() && (t.Deleting() || workload.Rolls(r.Workload, t.Name)) {
			left++
		}
	}
	msg, done, err = r.Workload.RolloutStatus(targetGeneration)
	switch {
	case !done:
		return msg, false, err
	case left > 0:
		return fmt.Sprintf("new pods available; %d old pods still terminating", left), false, nil
	case r.newRevision() == "":
		if r.Deployment() != nil {
			return "waiting for the new ReplicaSet", false, nil
		}
		return "waiting for the update revision", false, nil
	}
	return msg + ", every old pod gone", true, nil
}
