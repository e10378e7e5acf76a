package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// ErrRollbackRefused means the Deployment no longer runs the template this rollout
// produced: someone else changed it, and undoing would overwrite their change.
var ErrRollbackRefused = errors.New("rollback refused: the Deployment's template changed since the guard started (someone else updated it)")

// Pause sets spec.paused, which stops the Deployment controller from going on with the rollout.
func Pause(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	_, err := client.AppsV1().Deployments(namespace).Patch(ctx, name, types.MergePatchType,
		[]byte(`{"spec":{"paused":true}}`), metav1.PatchOptions{FieldManager: workload.FieldManager})
	if err != nil {
		return fmt.Errorf("pausing deployment %s/%s: %w", namespace, name, err)
	}
	return nil
}

// revisionedReplicaSet is a ReplicaSet of the Deployment with its parsed revision.
type revisionedReplicaSet struct {
	rs       *appsv1.ReplicaSet
	revision int64
}

// byRevision lists the Deployment's own ReplicaSets, newest revision first;
// ReplicaSets without a numeric revision are left out.
func byRevision(d *appsv1.Deployment, replicaSets []*appsv1.ReplicaSet) []revisionedReplicaSet {
	var out []revisionedReplicaSet
	for _, rs := range replicaSets {
		if !metav1.IsControlledBy(rs, d) || rs.Annotations[workload.RevisionAnnotation] == "" {
			continue
		}
		if rev, err := deploymentutil.Revision(rs); err == nil {
			out = append(out, revisionedReplicaSet{rs: rs, revision: rev})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].revision > out[j].revision })
	return out
}

// PreviousReplicaSet returns the ReplicaSet of the revision before current, as
// `kubectl rollout undo` picks it: the highest revision below the current one.
func PreviousReplicaSet(d *appsv1.Deployment, replicaSets []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	current, _ := deploymentutil.Revision(d)
	for _, r := range byRevision(d, replicaSets) {
		if r.revision < current {
			return r.rs, nil
		}
	}
	return nil, fmt.Errorf("deployment %s/%s has no previous revision to roll back to", d.Namespace, d.Name)
}

// RollbackTarget is the ReplicaSet to roll back to from the rollout to guarded.
// Once the controller has caught up, that is the previous revision, as for
// `kubectl rollout undo`; before (right after a restart) the revision annotation
// is stale, so it is the newest revision whose template is not guarded.
func RollbackTarget(d *appsv1.Deployment, replicaSets []*appsv1.ReplicaSet, guarded *corev1.PodTemplateSpec) *appsv1.ReplicaSet {
	if d.Status.ObservedGeneration >= d.Generation && d.Annotations[workload.RevisionAnnotation] != "" {
		previous, _ := PreviousReplicaSet(d, replicaSets)
		return previous
	}
	for _, r := range byRevision(d, replicaSets) {
		if t := TemplateOf(r.rs); !equality.Semantic.DeepEqual(&t, guarded) {
			return r.rs
		}
	}
	return nil
}

// TemplateOf returns a ReplicaSet's pod template as a Deployment would carry it.
func TemplateOf(rs *appsv1.ReplicaSet) corev1.PodTemplateSpec {
	t := *rs.Spec.Template.DeepCopy()
	delete(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return t
}

// Rollback restores the previous revision's pod template as `kubectl rollout undo`
// does, but only while the Deployment still carries guarded, the template this
// rollout produced. A conflict re-reads the Deployment and decides again.
func Rollback(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, previous *appsv1.ReplicaSet, guarded *corev1.PodTemplateSpec) error {
	deployments := client.AppsV1().Deployments(d.Namespace)
	current := d
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if current == nil {
			fresh, err := deployments.Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				return &rereadError{err}
			}
			current = fresh
		}
		if !equality.Semantic.DeepEqual(&current.Spec.Template, guarded) {
			return ErrRollbackRefused
		}
		next := current.DeepCopy()
		next.Spec.Template = TemplateOf(previous)
		current = nil // a conflict re-reads
		_, err := deployments.Update(ctx, next, metav1.UpdateOptions{FieldManager: workload.FieldManager})
		return err
	})
	var reread *rereadError
	switch {
	case err == nil, errors.Is(err, ErrRollbackRefused):
		return err
	case errors.As(err, &reread):
		return fmt.Errorf("re-reading deployment %s/%s: %w", d.Namespace, d.Name, reread.err)
	case apierrors.IsConflict(err):
		return fmt.Errorf("rolling back deployment %s/%s: still conflicting after %d attempts: %w", d.Namespace, d.Name, retry.DefaultRetry.Steps, err)
	}
	return fmt.Errorf("rolling back deployment %s/%s: %w", d.Namespace, d.Name, err)
}

// rereadError marks a failed re-read after a conflict.
type rereadError struct{ err error }

func (e *rereadError) Error() string { return e.err.Error() }
func (e *rereadError) Unwrap() error { return e.err }
