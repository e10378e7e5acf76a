package verify

// The workload a contract is checked on, whatever its kind. As kubectl keeps
// its per-kind logic in small per-kind helpers (polymorphichelpers: one status
// viewer, one history viewer per kind) rather than in switches spread over its
// commands, a Workload is built once per object: the facts every check reads
// (kind, metadata, pod template, selector) in fields, and what differs by kind
// (replica count, rollout strategy, pause, rollout status) behind one small
// interface with an implementation per kind. The checks ask the Workload.

import (
	"fmt"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// The kinds preflight checks besides workload.KindDeployment.
const (
	KindStatefulSet = workload.KindStatefulSet
	KindDaemonSet   = workload.KindDaemonSet
)

// Workload is a Deployment, StatefulSet or DaemonSet as the contract checks
// read it. Build it with DeploymentWorkload, StatefulSetWorkload,
// DaemonSetWorkload or NewWorkload; it shares the object, never copies it.
type Workload struct {
	// Kind is Deployment, StatefulSet or DaemonSet.
	Kind string
	// ObjectMeta is the object's own metadata: name, namespace, annotations.
	*metav1.ObjectMeta
	// Template is the pod template the controller creates pods from.
	Template *corev1.PodTemplateSpec
	// Selector selects the workload's pods.
	Selector *metav1.LabelSelector
	// Object is the typed object: *appsv1.Deployment, *appsv1.StatefulSet or
	// *appsv1.DaemonSet.
	Object runtime.Object

	kind kindRules
}

// kindRules is what differs by kind: one implementation per kind, in the
// kind's own file (replicas.go, statefulset.go, daemonset.go).
type kindRules interface {
	// replicas is the desired pod count; false for a kind that has none of its
	// own (a DaemonSet runs a pod on each eligible node).
	replicas() (int32, bool)
	// strategy is the rollout-strategy check: does the kind's rollout keep
	// capacity while old pods drain?
	strategy(w *Workload, env Environment, pod *podView) Check
	// paused tells whether the object is paused; can is false for a kind that
	// cannot be paused.
	paused() (paused, can bool)
	// inProgress reads the object's status as kubectl rollout status does:
	// busy when a rollout is unfinished. skip, when set, is why the status says
	// nothing (a strategy kubectl does not follow).
	inProgress() (msg string, busy bool, skip string)
	// scaledByHPA tells whether a HorizontalPodAutoscaler can target the kind.
	scaledByHPA() bool
	// apiType is the kind's Go type, to name fields the API would drop.
	apiType() reflect.Type
}

// DeploymentWorkload returns the Workload of d.
func DeploymentWorkload(d *appsv1.Deployment) *Workload {
	return &Workload{Kind: workload.KindDeployment, ObjectMeta: &d.ObjectMeta, Template: &d.Spec.Template,
		Selector: d.Spec.Selector, Object: d, kind: deploymentRules{d}}
}

// StatefulSetWorkload returns the Workload of s.
func StatefulSetWorkload(s *appsv1.StatefulSet) *Workload {
	return &Workload{Kind: KindStatefulSet, ObjectMeta: &s.ObjectMeta, Template: &s.Spec.Template,
		Selector: s.Spec.Selector, Object: s, kind: statefulSetRules{s}}
}

// DaemonSetWorkload returns the Workload of ds.
func DaemonSetWorkload(ds *appsv1.DaemonSet) *Workload {
	return &Workload{Kind: KindDaemonSet, ObjectMeta: &ds.ObjectMeta, Template: &ds.Spec.Template,
		Selector: ds.Spec.Selector, Object: ds, kind: daemonSetRules{ds}}
}

// NewWorkload returns the Workload of an *appsv1.Deployment, StatefulSet or
// DaemonSet; an error for any other object.
func NewWorkload(obj runtime.Object) (*Workload, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return DeploymentWorkload(o), nil
	case *appsv1.StatefulSet:
		return StatefulSetWorkload(o), nil
	case *appsv1.DaemonSet:
		return DaemonSetWorkload(o), nil
	}
	return nil, fmt.Errorf("%T is not a Deployment, StatefulSet or DaemonSet", obj)
}

// WorkloadKinds lists the kinds a Workload can be, in the order preflight
// reports them.
func WorkloadKinds() []string {
	return []string{workload.KindDeployment, KindStatefulSet, KindDaemonSet}
}

// Replicas is the desired pod count (spec.replicas with the API's default of
// 1); false for a DaemonSet, which runs one pod on each eligible node.
func (w *Workload) Replicas() (int32, bool) { return w.kind.replicas() }

// RolloutInProgress tells whether the object's status shows an unfinished
// rollout, as kubectl rollout status reads it for the kind.
func (w *Workload) RolloutInProgress() (string, bool) {
	msg, busy, _ := w.kind.inProgress()
	return msg, busy
}

// String names the object as kubectl does: "statefulset/db".
func (w *Workload) String() string { return strings.ToLower(w.Kind) + "/" + w.Name }

// Deployment returns the Deployment of a Deployment's Workload; nil for other kinds.
func (w *Workload) Deployment() *appsv1.Deployment {
	d, _ := w.Object.(*appsv1.Deployment)
	return d
}

// DecodeWorkloadJSON decodes the JSON of a WorkloadManifest again, with the
// decoder that read it first, into an object of the kind.
func DecodeWorkloadJSON(kind string, raw []byte) (*Workload, error) {
	switch kind {
	case workload.KindDeployment:
		d, err := DecodeDeploymentJSON(raw)
		if err != nil {
			return nil, err
		}
		return DeploymentWorkload(d), nil
	case KindStatefulSet:
		s := &appsv1.StatefulSet{}
		if err := decodeJSON(raw, s); err != nil {
			return nil, err
		}
		return StatefulSetWorkload(s), nil
	case KindDaemonSet:
		ds := &appsv1.DaemonSet{}
		if err := decodeJSON(raw, ds); err != nil {
			return nil, err
		}
		return DaemonSetWorkload(ds), nil
	}
	return nil, fmt.Errorf("decoding %s: not a Deployment, StatefulSet or DaemonSet", kind)
}
