package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// RevisionAnnotation is set by the Deployment controller on Deployments and ReplicaSets.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// ErrProgressDeadline is returned by Status when the controller gave up.
type ErrProgressDeadline struct{ Message string }

func (e *ErrProgressDeadline) Error() string {
	return "rollout exceeded its progress deadline: " + e.Message
}

// Status decides whether a guarded rollout is complete: the controller observed
// at least targetGeneration, the new ReplicaSet is fully available, AND every old
// pod is gone. Unlike `kubectl rollout status`, pods still terminating keep it open.
func Status(d *appsv1.Deployment, targetGeneration int64, oldPodsLeft int) (msg string, done bool, err error) {
	if d.Status.ObservedGeneration < max(d.Generation, targetGeneration) {
		return "waiting for the deployment controller to observe the change", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, &ErrProgressDeadline{Message: c.Message}
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return fmt.Sprintf("%d of %d new pods updated", s.UpdatedReplicas, want), false, nil
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("%d old pods pending termination", s.Replicas-s.UpdatedReplicas), false, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("%d of %d new pods available", s.AvailableReplicas, s.UpdatedReplicas), false, nil
	case oldPodsLeft > 0:
		return fmt.Sprintf("new pods available; %d old pods still terminating", oldPodsLeft), false, nil
	}
	return fmt.Sprintf("%d new pods available, every old pod gone", s.AvailableReplicas), true, nil
}
