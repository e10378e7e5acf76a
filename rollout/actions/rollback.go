package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	deploymentutil "k8s.io/kubectl/pkg/util/deployment"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// ErrRollbackRefused means the Deployment no longer runs the template this rollout
// produced: someone else changed it, and undoing would overwrite their change.
var ErrRollbackRefused = errors.New("rollback refused: the Deployment's template changed since the guard started (someone else updated it)")

// ErrPauseRefused means the same for a pause: it would stop someone else's rollout.
var ErrPauseRefused = errors.New("pause refused: the Deployment's template changed since the guard started (someone else updated it)")

// Pause sets spec.paused, which stops the Deployment controller from going on with
// the rollout, but only while the Deployment still carries guarded: the patch is
// conditional on the resourceVersion whose template was checked, and a conflict
// re-reads and checks again. Transient errors are retried with backoff until ctx
// ends (the action timeout); attempt hears of every try.
func Pause(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, guarded *corev1.PodTemplateSpec, attempt func(error)) error {
	err := whileGuarded(ctx, client, d, guarded, ErrPauseRefused, attempt, func(current *appsv1.Deployment) error {
		patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"paused":true}}`, current.ResourceVersion)
		_, err := client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: workload.FieldManager})
		return err
	})
	if err != nil && !errors.Is(err, ErrPauseRefused) {
		return fmt.Errorf("pausing deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return err
}

// whileGuarded writes the Deployment only while it still carries guarded, the
// template this rollout produced (whileGuardedObject, the same for every kind).
func whileGuarded(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, guarded *corev1.PodTemplateSpec,
	refused error, attempt func(error), write func(current *appsv1.Deployment) error) error {
	get := func(ctx context.Context) (*appsv1.Deployment, error) {
		return client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	}
	return whileGuardedObject(ctx, d, get, func(d *appsv1.Deployment) *corev1.PodTemplateSpec { return &d.Spec.Template }, guarded, refused, attempt, write)
}

// actionBackoff spaces the retries of an action; the action timeout (ctx) ends them.
func actionBackoff() wait.Backoff {
	return wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: math.MaxInt32, Cap: 5 * time.Second}
}

// retryTransient runs fn until it succeeds, fails for good, or ctx ends.
// Conflicts, timeouts, throttling, 5xx and broken connections are transient. A
// conflict only says the Deployment changed since it was read (its controller
// writes the status all the time): the first few are retried at once, with a
// fresh read, not after a backoff (make bench: a 200 ms wait was the p99 of
// detection-to-pause).
func retryTransient(ctx context.Context, attempt func(error), fn func() error) error {
	backoff := actionBackoff()
	conflicts := 0
	for {
		err := fn()
		if attempt != nil {
			attempt(err)
		}
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		if apierrors.IsConflict(err) && conflicts < immediateConflictRetries {
			conflicts++
			continue
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff.Step()):
		}
	}
}

// immediateConflictRetries bounds the conflicts retried without a wait: a
// Deployment written faster than it can be read and patched is busy for
// another reason, and the backoff applies.
const immediateConflictRetries = 3

func transient(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsUnexpectedServerError(err) || utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		utilnet.IsProbableEOF(err) || errors.Is(err, io.ErrUnexpectedEOF)
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
// rollout produced. A conflict re-reads the Deployment and decides again;
// transient errors are retried until ctx ends; attempt hears of every try.
func Rollback(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, previous *appsv1.ReplicaSet, guarded *corev1.PodTemplateSpec, attempt func(error)) error {
	err := whileGuarded(ctx, client, d, guarded, ErrRollbackRefused, attempt, func(current *appsv1.Deployment) error {
		next := current.DeepCopy()
		next.Spec.Template = TemplateOf(previous)
		_, err := client.AppsV1().Deployments(d.Namespace).Update(ctx, next, metav1.UpdateOptions{FieldManager: workload.FieldManager})
		return err
	})
	var reread *rereadError
	switch {
	case err == nil, errors.Is(err, ErrRollbackRefused):
		return err
	case errors.As(err, &reread):
		return fmt.Errorf("re-reading deployment %s/%s: %w", d.Namespace, d.Name, reread.err)
	}
	return fmt.Errorf("rolling back deployment %s/%s: %w", d.Namespace, d.Name, err)
}

// rereadError marks a failed re-read after a conflict.
type rereadError struct{ err error }

func (e *rereadError) Error() string { return e.err.Error() }
func (e *rereadError) Unwrap() error { return e.err }
