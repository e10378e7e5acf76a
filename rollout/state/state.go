package state

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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
	// Since drops Kubernetes Events older than this (a second of slack for
	// their one-second timestamps): they belong to earlier rollouts.
	Since time.Time

	replicaSets map[string]*appsv1.ReplicaSet
	podHash     map[string]string // pod name -> pod-template-hash
	timelines   map[string]*PodTimeline
	slices      map[string]map[string]discoveryv1.EndpointConditions // slice -> pod -> conditions
}

// New starts the state of d's rollout.
func New(d *appsv1.Deployment, since time.Time) *Rollout {
	return &Rollout{
		Deployment:  d,
		Since:       since,
		replicaSets: map[string]*appsv1.ReplicaSet{},
		podHash:     map[string]string{},
		timelines:   map[string]*PodTimeline{},
		slices:      map[string]map[string]discoveryv1.EndpointConditions{},
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
		if !deleted {
			r.Deployment = o
		}
	case *appsv1.ReplicaSet:
		if deleted {
			delete(r.replicaSets, o.Name)
		} else {
			r.replicaSets[o.Name] = o
		}
	case *corev1.Pod:
		r.podHash[o.Name] = o.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		t := r.timeline(o.Name, string(o.UID))
		before := *t
		t.ObservePod(o, now, deleted)
		return r.changes(&before, t, now)
	case *discoveryv1.EndpointSlice:
		return r.applySlice(o, deleted, now)
	case *corev1.Event:
		if !deleted {
			return r.applyEvent(o, now)
		}
	}
	return nil
}

func (r *Rollout) timeline(name, uid string) *PodTimeline {
	t, ok := r.timelines[name]
	if !ok {
		t = &PodTimeline{Name: name, UID: uid}
		r.timelines[name] = t
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

// newHash is the pod-template-hash of the ReplicaSet of the Deployment's current
// revision; empty until the controller has caught up with the spec.
func (r *Rollout) newHash() string {
	d := r.Deployment
	rev := d.Annotations[workload.RevisionAnnotation]
	if rev == "" || d.Status.ObservedGeneration < d.Generation {
		return ""
	}
	for _, rs := range r.replicaSets {
		if rs.Annotations[workload.RevisionAnnotation] == rev {
			return rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	return ""
}

// OldTimelines are the timelines of the Deployment's pods that are not of the new
// ReplicaSet; pods only an Event or an endpoint mentioned are not its pods.
func (r *Rollout) OldTimelines() []*PodTimeline {
	newHash := r.newHash()
	var out []*PodTimeline
	for name, t := range r.timelines {
		h, known := r.podHash[name]
		if !known || (newHash != "" && h == newHash) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Status tells whether the rollout to targetGeneration is complete: the
// controller finished it AND every old pod is gone.
func (r *Rollout) Status(targetGeneration int64) (msg string, done bool, err error) {
	newHash := r.newHash()
	left := 0
	for name, t := range r.timelines {
		if h, ok := r.podHash[name]; ok && h != newHash && t.Gone.IsZero() {
			left++
		}
	}
	msg, done, err = workload.Status(r.Deployment, targetGeneration)
	switch {
	case !done:
		return msg, false, err
	case left > 0:
		return fmt.Sprintf("new pods available; %d old pods still terminating", left), false, nil
	case newHash == "":
		return "waiting for the new ReplicaSet", false, nil
	}
	return msg + ", every old pod gone", true, nil
}
