package actions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// RestartStatefulSet patches the StatefulSet as `kubectl rollout restart` does
// and returns it as the server (or, for a client dry run, the patch) left it.
// An OnDelete StatefulSet is patched too, as kubectl does: preflight fails it.
func RestartStatefulSet(ctx context.Context, client kubernetes.Interface, s *appsv1.StatefulSet, now time.Time, dryRun DryRun) (*appsv1.StatefulSet, error) {
	after := s.DeepCopy()
	stampRestart(&after.Spec.Template, now)
	return sendRestart(ctx, s, after, appsv1.StatefulSet{}, dryRun, "statefulset",
		func(ctx context.Context, patch []byte, opts metav1.PatchOptions) (*appsv1.StatefulSet, error) {
			return client.AppsV1().StatefulSets(s.Namespace).Patch(ctx, s.Name, types.StrategicMergePatchType, patch, opts)
		})
}

// UserPartition is the StatefulSet's own spec.updateStrategy.rollingUpdate.partition; nil if unset.
func UserPartition(s *appsv1.StatefulSet) *int32 {
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return ptr.To(*ru.Partition)
	}
	return nil
}

// podIndex is the pod's replica index in s (its ordinal less spec.ordinals.start,
// which is what the controller compares with the partition); false for a pod s
// does not control or whose name does not end in an ordinal.
func podIndex(s *appsv1.StatefulSet, p *corev1.Pod) (int32, bool) {
	if owner := metav1.GetControllerOf(p); owner == nil || owner.UID != s.UID {
		return 0, false
	}
	dash := strings.LastIndexByte(p.Name, '-')
	if dash < 0 {
		return 0, false
	}
	ordinal, err := strconv.ParseInt(p.Name[dash+1:], 10, 32)
	if err != nil || ordinal < 0 {
		return 0, false
	}
	var start int64
	if s.Spec.Ordinals != nil {
		start = int64(s.Spec.Ordinals.Start)
	}
	if ordinal < start {
		return 0, false
	}
	return int32(ordinal - start), true
}

// StopPartition is the partition that stops the StatefulSet's rolling update
// where it stands. The controller (OrderedReady or Parallel) replaces indexes
// from replicas-1 down to the partition and creates every missing or deleted
// pod below the partition at the old revision. So the partition must lie above
// every pod still at an old revision (none of them gets updated) and at or
// below every pod being replaced, terminating or absent (none is forced back to
// the old revision). Pods already updated below it are left alone by the
// controller. When a pod being replaced sits below an old one (a pod evicted
// mid-rollout), not forcing it back wins. With nothing updated or being
// replaced, the partition is replicas: nothing further rolls. Never below the
// user's own partition.
func StopPartition(s *appsv1.StatefulSet, pods []*corev1.Pod) int32 {
	replicas := ptr.Deref(s.Spec.Replicas, 1)
	replaced := replicas // the lowest index being replaced
	var oldEnd int32     // one past the highest index running an old revision
	seen := map[int32]bool{}
	for _, p := range pods {
		i, ok := podIndex(s, p)
		if !ok || i >= replicas {
			continue // not s's, or being scaled away
		}
		seen[i] = true
		switch {
		case p.DeletionTimestamp != nil:
			replaced = min(replaced, i)
		case s.Status.UpdateRevision == "" || p.Labels[appsv1.ControllerRevisionHashLabelKey] != s.Status.UpdateRevision:
			oldEnd = max(oldEnd, i+1)
		}
	}
	// An absent index is being recreated; the first is found within len(seen)+1 steps.
	for i := int32(0); i < replaced; i++ {
		if !seen[i] {
			replaced = i
			break
		}
	}
	return max(min(replaced, oldEnd), ptr.Deref(UserPartition(s), 0))
}

// StatefulSetStop is what StopStatefulSet wrote and how to undo it.
type StatefulSetStop struct {
	// Partition is the partition written.
	Partition int32
	// UserPartition is the partition the StatefulSet had before; nil if unset.
	UserPartition *int32
	// RestoreCommand is the kubectl command that restores UserPartition.
	RestoreCommand string
}

// StatefulSetRestoreCommand is the kubectl command that sets the StatefulSet's
// partition back to user (removes it when nil, so the API's default 0 applies).
func StatefulSetRestoreCommand(s *appsv1.StatefulSet, user *int32) string {
	value := "null"
	if user != nil {
		value = strconv.FormatInt(int64(*user), 10)
	}
	return fmt.Sprintf(`kubectl patch statefulset/%s -n %s --type=merge -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":%s}}}}'`,
		s.Name, s.Namespace, value)
}

// StopStatefulSet sets the StatefulSet's partition, which stops its rolling
// update ("pause" does not exist for StatefulSets), but only while it still
// carries guarded: the patch is conditional on the resourceVersion whose
// template was checked, and a conflict re-reads and checks again. The partition
// is the caller's (StopPartition); it is only raised to the user's own
// partition on the object written, so no pod the user holds back is released.
// ErrOnDelete for an OnDelete StatefulSet (nothing rolls; the API would reject
// a partition). Transient errors are retried until ctx ends; attempt hears of every try.
func StopStatefulSet(ctx context.Context, client kubernetes.Interface, s *appsv1.StatefulSet, guarded *corev1.PodTemplateSpec,
	partition int32, attempt func(error)) (StatefulSetStop, error) {
	var stop StatefulSetStop
	err := whileGuardedObject(ctx, s, getStatefulSet(client, s), statefulSetTemplate, guarded, errStatefulSetStopRefused, attempt,
		func(current *appsv1.StatefulSet) error {
			if current.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
				return ErrOnDelete
			}
			user := UserPartition(current)
			set := max(partition, ptr.Deref(user, 0))
			patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"updateStrategy":{"rollingUpdate":{"partition":%d}}}}`, current.ResourceVersion, set)
			_, err := client.AppsV1().StatefulSets(s.Namespace).Patch(ctx, s.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: workload.FieldManager})
			if err == nil {
				stop = StatefulSetStop{Partition: set, UserPartition: user, RestoreCommand: StatefulSetRestoreCommand(current, user)}
			}
			return err
		})
	if err != nil {
		return StatefulSetStop{}, wrapWrite(err, "stopping", "statefulset", s.Namespace, s.Name)
	}
	return stop, nil
}

// RollbackStatefulSet restores the previous revision's pod template as
// `kubectl rollout undo` does (the revision's data as a strategic merge patch),
// but only while the StatefulSet still carries guarded. A conflict re-reads the
// StatefulSet and decides again; transient errors are retried until ctx ends;
// attempt hears of every try. Refusals wrap ErrRollbackRefused.
func RollbackStatefulSet(ctx context.Context, client kubernetes.Interface, s *appsv1.StatefulSet, previous *appsv1.ControllerRevision,
	guarded *corev1.PodTemplateSpec, attempt func(error)) error {
	patch := func(ctx context.Context, data []byte) error {
		_, err := client.AppsV1().StatefulSets(s.Namespace).Patch(ctx, s.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{FieldManager: workload.FieldManager})
		return err
	}
	return rollbackToRevision(ctx, s, getStatefulSet(client, s), statefulSetTemplate, patch, "statefulset", errStatefulSetRollbackRefused, previous, guarded, attempt)
}

// ForceRollbackPods deletes the StatefulSet's pods at badRevision that are not
// Ready and not already terminating. Why: with OrderedReady the controller
// waits for every pod to be Running and Ready before it replaces the next one,
// so after a rollback a pod of the bad revision that crash-loops or never gets
// Ready blocks the rollback forever; the Kubernetes docs' remedy is deleting
// those pods, and the controller recreates them at the (rolled-back) update
// revision. Call it after RollbackStatefulSet. Ready pods are left for the
// controller to replace in order. Each delete is conditional on the pod's UID,
// so a pod the controller already recreated under the same name is spared; a
// pod already gone is fine. Transient errors are retried until ctx ends.
func ForceRollbackPods(ctx context.Context, client kubernetes.Interface, s *appsv1.StatefulSet, badRevision string, pods []*corev1.Pod) (deleted []string, err error) {
	if badRevision == "" {
		return nil, fmt.Errorf("forcing rollback of statefulset %s/%s: no bad revision given", s.Namespace, s.Name)
	}
	var errs []error
	for _, p := range pods {
		if !metav1.IsControlledBy(p, s) || p.Labels[appsv1.ControllerRevisionHashLabelKey] != badRevision || p.DeletionTimestamp != nil || podReady(p) {
			continue
		}
		gone := false
		err := retryTransient(ctx, nil, func() error {
			err := client.CoreV1().Pods(s.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(p.UID)}})
			// NotFound: already deleted. Conflict: the UID precondition failed, the pod is a new one.
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				gone = true
				return nil
			}
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting pod %s: %w", p.Name, err))
		case !gone:
			deleted = append(deleted, p.Name)
		}
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("forcing rollback of statefulset %s/%s: %w", s.Namespace, s.Name, errors.Join(errs...))
	}
	return deleted, nil
}

// podReady tells whether the pod has condition Ready=True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func getStatefulSet(client kubernetes.Interface, s *appsv1.StatefulSet) func(context.Context) (*appsv1.StatefulSet, error) {
	return func(ctx context.Context) (*appsv1.StatefulSet, error) {
		return client.AppsV1().StatefulSets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	}
}

func statefulSetTemplate(s *appsv1.StatefulSet) *corev1.PodTemplateSpec { return &s.Spec.Template }
