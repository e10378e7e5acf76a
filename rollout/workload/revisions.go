package workload

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UpdateRevisionHash is the controller-revision-hash label of the pods a
// StatefulSet or DaemonSet rolls out, "" until its controller has observed
// the spec, and for a Deployment (its ReplicaSets say it).
func UpdateRevisionHash(w Workload, revisions []*appsv1.ControllerRevision) string {
	if w.ObservedGeneration() < w.GetGeneration() {
		return ""
	}
	return w.updateRevisionHash(revisions)
}

func (Deployment) updateRevisionHash([]*appsv1.ControllerRevision) string { return "" }

// updateRevisionHash: a StatefulSet says it in status.updateRevision (its
// pods carry the revision's name).
func (s StatefulSet) updateRevisionHash([]*appsv1.ControllerRevision) string { return s.Revision() }

// updateRevisionHash: a DaemonSet does not say it, so it is the newest of its
// ControllerRevisions whose template is the DaemonSet's (its pods carry the
// revision's hash label).
func (d DaemonSet) updateRevisionHash(revisions []*appsv1.ControllerRevision) string {
	var newest *appsv1.ControllerRevision
	for _, cr := range revisions {
		if !metav1.IsControlledBy(cr, d) || (newest != nil && cr.Revision <= newest.Revision) {
			continue
		}
		if t, err := RevisionTemplate(cr); err == nil && apiequality.Semantic.DeepEqual(t, d.Template()) {
			newest = cr
		}
	}
	if newest == nil {
		return ""
	}
	return newest.Labels[RevisionHashLabel]
}

// RevisionData is the revision's patch as the controller stored it.
func RevisionData(r *appsv1.ControllerRevision) ([]byte, error) {
	if len(r.Data.Raw) > 0 {
		return r.Data.Raw, nil
	}
	if r.Data.Object != nil {
		return json.Marshal(r.Data.Object)
	}
	return nil, fmt.Errorf("controller revision %s has no data", r.Name)
}

// RevisionTemplate decodes the pod template a ControllerRevision records: its
// data is the patch {"spec":{"template":{...,"$patch":"replace"}}} the
// StatefulSet and DaemonSet controllers store.
func RevisionTemplate(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var data struct {
		Spec struct {
			Template *corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	raw, err := RevisionData(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("decoding controller revision %s: %w", r.Name, err)
	}
	if data.Spec.Template == nil {
		return nil, fmt.Errorf("controller revision %s records no pod template", r.Name)
	}
	return data.Spec.Template, nil
}

// Rolls tells whether the rollout replaces the workload's pod of this name:
// every pod, except a StatefulSet's ordinals below its partition.
func Rolls(w Workload, pod string) bool {
	s, ok := w.(StatefulSet)
	if !ok || s.Partition() == 0 {
		return true
	}
	ordinal, ok := Ordinal(s.Name, pod)
	start := 0
	if s.Spec.Ordinals != nil { // the partition counts from the first ordinal
		start = int(s.Spec.Ordinals.Start)
	}
	return !ok || ordinal-start >= int(s.Partition())
}

// Ordinal is the ordinal of a StatefulSet's pod: the number after its name.
func Ordinal(statefulSet, pod string) (int, bool) {
	rest, ok := strings.CutPrefix(pod, statefulSet+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}
