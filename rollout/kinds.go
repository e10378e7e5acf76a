package rollout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/actions"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
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
	// rollback restores target; it returns what the report adds to the
	// rollback (a StatefulSet's forced rollback), "" when nothing.
	rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) (string, error)
}

// rollbackTarget is a previous revision and its pod template.
type rollbackTarget struct {
	revision   string
	template   *corev1.PodTemplateSpec
	replicaSet *appsv1.ReplicaSet
	history    *appsv1.ControllerRevision
}

// refused marks an action refused because the workload no longer carries the
// template this rollout produced: nothing was changed.
type refused struct{ error }

func (e refused) Unwrap() error { return e.error }

func (r *run) kindActions() kindActions {
	switch w := r.rollout.Workload.(type) {
	case workload.StatefulSet:
		return statefulSetActions{run: r, s: w.StatefulSet}
	case workload.DaemonSet:
		return daemonSetActions{run: r, ds: w.DaemonSet}
	}
	return deploymentActions{run: r, d: r.rollout.Deployment()}
}

type deploymentActions struct {
	*run
	d *appsv1.Deployment
}

func (a deploymentActions) stop(ctx context.Context, attempt func(error)) (string, error) {
	if err := actions.Pause(ctx, a.Client, a.d, a.guarded, attempt); err != nil {
		return "", refusal(err)
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

func (a deploymentActions) rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) (string, error) {
	return "", refusal(actions.Rollback(ctx, a.Client, a.d, target.replicaSet, a.guarded, attempt))
}

// refusal marks the actions' refusals (the template changed) as refused.
func refusal(err error) error {
	if errors.Is(err, actions.ErrRollbackRefused) || errors.Is(err, actions.ErrStopRefused) || errors.Is(err, actions.ErrPauseRefused) {
		return refused{err}
	}
	return err
}

// historyTarget is the ControllerRevision a StatefulSet or DaemonSet rolls back to.
func historyTarget(cr *appsv1.ControllerRevision) *rollbackTarget {
	if cr == nil {
		return nil
	}
	t, err := workload.RevisionTemplate(cr)
	if err != nil {
		return nil
	}
	return &rollbackTarget{revision: strconv.FormatInt(cr.Revision, 10), template: t, history: cr}
}

// statefulSetActions stop a StatefulSet's roll with its partition: pause does
// not exist for the kind.
type statefulSetActions struct {
	*run
	s *appsv1.StatefulSet
}

func (a statefulSetActions) stop(ctx context.Context, attempt func(error)) (string, error) {
	partition := actions.StopPartition(a.s, a.watches.Pods())
	stop, err := actions.StopStatefulSet(ctx, a.Client, a.s, a.guarded, partition, attempt)
	if err != nil {
		return "", refusal(err)
	}
	return fmt.Sprintf("stopped the roll with partition %d: ordinals below it keep their revision (restore: %s)", stop.Partition, stop.RestoreCommand), nil
}

func (a statefulSetActions) rollbackTarget() *rollbackTarget {
	return historyTarget(actions.PreviousRevision(a.s, a.rollout.Revisions(), a.guarded))
}

// rollback restores the previous revision, then deletes the pods of the
// broken revision that are not ready: the controller waits on them forever
// otherwise (the documented forced rollback).
func (a statefulSetActions) rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) (string, error) {
	if err := actions.RollbackStatefulSet(ctx, a.Client, a.s, target.history, a.guarded, attempt); err != nil {
		return "", refusal(err)
	}
	bad := a.rollout.UpdateRevisionHash()
	if bad == "" {
		return "", nil
	}
	deleted, err := actions.ForceRollbackPods(ctx, a.Client, a.s, bad, a.watches.Pods())
	switch {
	case err != nil:
		return "", fmt.Errorf("rolled back, but the forced rollback failed: %w", err)
	case len(deleted) > 0:
		a.emit(progress.PodsForceDeleted{Header: a.header(), Pods: deleted})
		return fmt.Sprintf("forced rollback: deleted pods %s of the broken revision, which were not ready", strings.Join(deleted, ", ")), nil
	}
	return "", nil
}

// daemonSetActions stop a DaemonSet's roll by switching it to OnDelete.
type daemonSetActions struct {
	*run
	ds *appsv1.DaemonSet
}

func (a daemonSetActions) stop(ctx context.Context, attempt func(error)) (string, error) {
	stop, err := actions.StopDaemonSet(ctx, a.Client, a.ds, a.guarded, attempt)
	if err != nil {
		return "", refusal(err)
	}
	return "stopped the roll with updateStrategy OnDelete: pods not yet replaced keep their revision (restore: " + stop.RestoreCommand + ")", nil
}

func (a daemonSetActions) rollbackTarget() *rollbackTarget {
	return historyTarget(actions.PreviousRevision(a.ds, a.rollout.Revisions(), a.guarded))
}

func (a daemonSetActions) rollback(ctx context.Context, target *rollbackTarget, attempt func(error)) (string, error) {
	return "", refusal(actions.RollbackDaemonSet(ctx, a.Client, a.ds, target.history, a.guarded, attempt))
}
