package workload

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The kinds the plugin rolls out.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	// RevisionHashLabel is the pod (and ControllerRevision) label the
	// StatefulSet and DaemonSet controllers set to the revision a pod runs.
	RevisionHashLabel = appsv1.ControllerRevisionHashLabelKey
)

// Workload is one Deployment, StatefulSet or DaemonSet seen through its kind's
// view, as kubectl's polymorphic helpers do: the guard asks the view, never
// switches on the kind itself.
type Workload interface {
	metav1.Object
	Kind() string
	// Object is the typed API object.
	Object() runtime.Object
	Template() *corev1.PodTemplateSpec
	Selector() *metav1.LabelSelector
	ObservedGeneration() int64
	// RolloutStatus tells whether the controller finished rolling out at least
	// targetGeneration, as `kubectl rollout status` computes it for the kind.
	RolloutStatus(targetGeneration int64) (msg string, done bool, err error)
	// Revision names the revision the workload rolls out, for reports: the
	// Deployment's revision number, the StatefulSet's update revision; "" when
	// the kind does not say (a DaemonSet: its ControllerRevisions do).
	Revision() string

	updateRevisionHash(revisions []*appsv1.ControllerRevision) string
}

// For wraps a typed Deployment, StatefulSet or DaemonSet in its view.
func For(obj runtime.Object) (Workload, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return Deployment{o}, nil
	case *appsv1.StatefulSet:
		return StatefulSet{o}, nil
	case *appsv1.DaemonSet:
		return DaemonSet{o}, nil
	}
	return nil, fmt.Errorf("%T is not a Deployment, StatefulSet or DaemonSet", obj)
}

// Ref names a workload in messages and kubectl commands: "statefulset/db".
func Ref(w Workload) string { return strings.ToLower(w.Kind()) + "/" + w.GetName() }

// Deployment is the view of a Deployment.
type Deployment struct{ *appsv1.Deployment }

func (d Deployment) Kind() string                      { return KindDeployment }
func (d Deployment) Object() runtime.Object            { return d.Deployment }
func (d Deployment) Template() *corev1.PodTemplateSpec { return &d.Spec.Template }
func (d Deployment) Selector() *metav1.LabelSelector   { return d.Spec.Selector }
func (d Deployment) ObservedGeneration() int64         { return d.Status.ObservedGeneration }
func (d Deployment) Revision() string                  { return d.Annotations[RevisionAnnotation] }
func (d Deployment) RolloutStatus(target int64) (string, bool, error) {
	return Status(d.Deployment, target)
}

// StatefulSet is the view of a StatefulSet.
type StatefulSet struct{ *appsv1.StatefulSet }

func (s StatefulSet) Kind() string                      { return KindStatefulSet }
func (s StatefulSet) Object() runtime.Object            { return s.StatefulSet }
func (s StatefulSet) Template() *corev1.PodTemplateSpec { return &s.Spec.Template }
func (s StatefulSet) Selector() *metav1.LabelSelector   { return s.Spec.Selector }
func (s StatefulSet) ObservedGeneration() int64         { return s.Status.ObservedGeneration }

// Revision is the update revision once the controller observed the spec.
func (s StatefulSet) Revision() string {
	if s.Status.ObservedGeneration < s.Generation {
		return ""
	}
	return s.Status.UpdateRevision
}

// Partition is the ordinal below which pods are not updated (0 without one).
func (s StatefulSet) Partition() int32 {
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		return ptr.Deref(ru.Partition, 0)
	}
	return 0
}

// RolloutStatus is kubectl's StatefulSet status viewer: with a rolling update, done
// once updatedReplicas >= replicas - partition and every replica is ready.
func (s StatefulSet) RolloutStatus(target int64) (string, bool, error) {
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return "", false, &NotRollingError{Kind: KindStatefulSet, Strategy: string(s.Spec.UpdateStrategy.Type)}
	}
	if s.Status.ObservedGeneration == 0 || s.Status.ObservedGeneration < max(s.Generation, target) {
		return "waiting for the statefulset controller to observe the change", false, nil
	}
	replicas := ptr.Deref(s.Spec.Replicas, 1)
	if s.Status.ReadyReplicas < replicas {
		return fmt.Sprintf("%d of %d pods ready", s.Status.ReadyReplicas, replicas), false, nil
	}
	if want := replicas - s.Partition(); s.Status.UpdatedReplicas < want {
		msg := fmt.Sprintf("%d of %d new pods updated", s.Status.UpdatedReplicas, want)
		if s.Partition() > 0 {
			msg += fmt.Sprintf(" (ordinals >= %d)", s.Partition())
		}
		return msg, false, nil
	}
	return fmt.Sprintf("%d new pods updated and ready", s.Status.UpdatedReplicas), true, nil
}

// DaemonSet is the view of a DaemonSet.
type DaemonSet struct{ *appsv1.DaemonSet }

func (d DaemonSet) Kind() string                      { return KindDaemonSet }
func (d DaemonSet) Object() runtime.Object            { return d.DaemonSet }
func (d DaemonSet) Template() *corev1.PodTemplateSpec { return &d.Spec.Template }
func (d DaemonSet) Selector() *metav1.LabelSelector   { return d.Spec.Selector }
func (d DaemonSet) ObservedGeneration() int64         { return d.Status.ObservedGeneration }
func (d DaemonSet) Revision() string                  { return "" }

// RolloutStatus is kubectl's DaemonSet status viewer: done once every scheduled pod
// is updated and available.
func (d DaemonSet) RolloutStatus(target int64) (string, bool, error) {
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return "", false, &NotRollingError{Kind: KindDaemonSet, Strategy: string(d.Spec.UpdateStrategy.Type)}
	}
	if d.Status.ObservedGeneration < max(d.Generation, target) {
		return "waiting for the daemonset controller to observe the change", false, nil
	}
	s := d.Status
	if s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
		return fmt.Sprintf("%d of %d new pods updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled), false, nil
	}
	if s.NumberAvailable < s.DesiredNumberScheduled {
		return fmt.Sprintf("%d of %d updated pods available", s.NumberAvailable, s.DesiredNumberScheduled), false, nil
	}
	return fmt.Sprintf("%d new pods available", s.NumberAvailable), true, nil
}

// NotRollingError is returned by Status when the update strategy is OnDelete:
// the controller replaces no pod by itself, so the rollout never completes.
type NotRollingError struct{ Kind, Strategy string }

func (e *NotRollingError) Error() string {
	return fmt.Sprintf("the %s's update strategy is %s: the controller replaces no pod until it is deleted", e.Kind, e.Strategy)
}

// SelectingServices are the Services of the workload's namespace whose
// selector matches its pod template: the ones whose EndpointSlices list its
// pods. An empty namespace (a manifest without one) matches any.
func SelectingServices(w Workload, services []corev1.Service) []corev1.Service {
	var out []corev1.Service
	podLabels := labels.Set(w.Template().Labels)
	for _, s := range services {
		sameNamespace := s.Namespace == w.GetNamespace() || s.Namespace == "" || w.GetNamespace() == ""
		if sameNamespace && len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			out = append(out, s)
		}
	}
	return out
}
