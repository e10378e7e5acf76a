package rollout

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/actions"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// kindActions are a breach's actions for one workload kind: the stop
// --on-breach=pause means for it, and its rollback.
type kindActions interface {
	// stop stops the roll where it stands; it returns what the report says
	// was done, with the command that undoes it.
	stop(ctx context.Context, attempt func(error)) (string, error)
	// rollbackTarget is the revision a rollback restores; nil when none.
	rollbackTarget() *rollbackTarget
	rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) error
}

// rollbackTarget is a previous revision and its pod template.
type rollbackTarget struct {
	revision   string
	template   *corev1.PodTemplateSpec
	replicaSet *appsv1.ReplicaSet
}

// refused marks an action refused because the workload no longer carries the
// template this rollout produced: nothing was changed.
type refused struct{ error }

func (e refused) Unwrap() error { return e.error }

func (r *run) kindActions() kindActions {
	if d := r.rollout.Deployment(); d != nil {
		return deploymentActions{run: r, d: d}
	}
	return unsupportedActions{kind: r.rollout.Workload.Kind()}
}

type deploymentActions struct {
	*run
	d *appsv1.Deployment
}

func (a deploymentActions) stop(ctx context.Context, attempt func(error)) (string, error) {
	err := actions.Pause(ctx, a.Client, a.d, a.guarded, attempt)
	switch {
	case errors.Is(err, actions.ErrPauseRefused):
		return "", refused{err}
	case err != nil:
		return "", err
	}
	return fmt.Sprintf("paused the rollout (resume: kubectl rollout resume deployment/%s -n %s)", a.d.Name, a.d.Namespace), nil
}

func (a deploymentActions) rollbackTarget() *rollbackTarget {
	rs := actions.RollbackTarget(a.d, a.rollout.ReplicaSets(), a.guarded)
	if rs == nil {
		return nil
	}
	t := actions.TemplateOf(rs)
	return &rollbackTarget{revision: rs.Annotations[workload.RevisionAnnotation], template: &t, replicaSet: rs}
}

func (a deploymentActions) rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) error {
	err := actions.Rollback(ctx, a.Client, a.d, target.replicaSet, a.guarded, attempt)
	if errors.Is(err, actions.ErrRollbackRefused) {
		return refused{err}
	}
	return err
}

// unsupportedActions stands for a kind whose actions are not written yet.
type unsupportedActions struct{ kind string }

func (a unsupportedActions) stop(context.Context, func(error)) (string, error) {
	return "", fmt.Errorf("stopping a %s's rollout is not supported yet", a.kind)
}

func (a unsupportedActions) rollbackTarget() *rollbackTarget { return nil }

func (a unsupportedActions) rollback(context.Context, *rollbackTarget, func(error)) error {
	return fmt.Errorf("rolling back a %s is not supported yet", a.kind)
}
