package state

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// NewPod is a pod of the new revision and when the guard first saw it ready
// (nil: not yet); the report's picture draws it beside the old pods' drains.
type NewPod struct {
	Name  string     `json:"name"`
	Ready *time.Time `json:"ready"`
}

// observeReady records when the pod's Ready condition was first seen true.
func (t *PodTimeline) observeReady(pod *corev1.Pod, at time.Time) {
	if !t.Ready.IsZero() || pod.DeletionTimestamp != nil {
		return
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			t.Ready = at
		}
	}
}

// NewPods lists the pods of the new revision, by name.
func (r *Rollout) NewPods() []NewPod {
	newRev := r.newRevision()
	if newRev == "" {
		return nil
	}
	var out []NewPod
	for key, t := range r.timelines {
		if owned, rev := r.revisionOf(key); !owned || rev != newRev {
			continue
		}
		p := NewPod{Name: t.Name}
		if !t.Ready.IsZero() {
			ready := t.Ready
			p.Ready = &ready
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
