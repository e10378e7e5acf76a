// Package workload holds what the plugin knows about a workload's own fields,
// independent of any client: the annotations the controllers and kubectl set,
// replica defaults, and whether the controller has finished a rollout. Pure:
// preflight's checks and the guard both ask it.
package workload

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
)

const (
	// RevisionAnnotation is set by the Deployment controller on Deployments and ReplicaSets.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RestartedAtAnnotation is the pod template annotation `kubectl rollout restart` sets.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// FieldManager names the plugin in managedFields of every object it writes.
	FieldManager = "kubectl-safe-rollout"
	// AnnotationIgnoreContainers lists containers (a,b) whose exits the team
	// accepts: reported, never judged. On the workload or its pod template.
	AnnotationIgnoreContainers = "safe-rollout.io/ignore-containers"
)

// DesiredReplicas is spec.replicas with the API's default of 1.
func DesiredReplicas(d *appsv1.Deployment) int32 { return ptr.Deref(d.Spec.Replicas, 1) }

// ProgressDeadlineError is returned by Status when the controller gave up.
type ProgressDeadlineError struct{ Message string }

func (e *ProgressDeadlineError) Error() string {
	return "rollout exceeded its progress deadline: " + e.Message
}

// Status tells whether the Deployment controller finished rolling out at least
// targetGeneration: observed, every replica updated, no old replica left, every
// updated one available. It says nothing of old pods still terminating (the
// controller no longer counts them); the guard adds that.
func Status(d *appsv1.Deployment, targetGeneration int64) (msg string, done bool, err error) {
	if d.Status.ObservedGeneration < max(d.Generation, targetGeneration) {
		return "waiting for the deployment controller to observe the change", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, &ProgressDeadlineError{Message: c.Message}
		}
	}
	want := DesiredReplicas(d)
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return fmt.Sprintf("%d of %d new pods updated", s.UpdatedReplicas, want), false, nil
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("%d old pods pending termination", s.Replicas-s.UpdatedReplicas), false, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("%d of %d new pods available", s.AvailableReplicas, s.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("%d new pods available", s.AvailableReplicas), true, nil
}

// IgnoredContainers reads AnnotationIgnoreContainers from the workload and its
// pod template.
func IgnoredContainers(w Workload) []string {
	var out []string
	for _, a := range []string{w.GetAnnotations()[AnnotationIgnoreContainers], w.Template().Annotations[AnnotationIgnoreContainers]} {
		for _, name := range strings.Split(a, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}
