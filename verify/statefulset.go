package verify

// What is particular to StatefulSets. A StatefulSet never surges: a pod keeps
// its identity (name, volume), so the controller deletes it before it creates
// its replacement, highest ordinal first, and waits for the replacement to be
// ready (and available for minReadySeconds) before the next. During a rollout
// its capacity is therefore replicas minus the pods being replaced: replicas-1
// by default. A partition holds the ordinals below it on the old revision;
// OnDelete changes no pod at all until someone deletes it.

import (
	"fmt"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// statefulSetRules are a StatefulSet's kindRules.
type statefulSetRules struct{ s *appsv1.StatefulSet }

func (r statefulSetRules) replicas() (int32, bool) { return ptr.Deref(r.s.Spec.Replicas, 1), true }

func (statefulSetRules) paused() (bool, bool) { return false, false }

func (statefulSetRules) scaledByHPA() bool { return true }

func (statefulSetRules) apiType() reflect.Type { return reflect.TypeFor[appsv1.StatefulSet]() }

func (r statefulSetRules) onDelete() bool {
	return r.s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
}

// partition is rollingUpdate.partition, 0 when unset.
func (r statefulSetRules) partition() int32 {
	if ru := r.s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return *ru.Partition
	}
	return 0
}

// inProgress reads the status as kubectl's StatefulSetStatusViewer does.
func (r statefulSetRules) inProgress() (string, bool, string) {
	return viewerInProgress(workload.StatefulSet{StatefulSet: r.s})
}

// strategy: OnDelete fails, a partition says which ordinals roll, and the
// capacity kept is replicas minus the pods replaced at once.
func (r statefulSetRules) strategy(w *Workload, env Environment, _ *podView) Check {
	s := r.s
	ch := Check{ID: CheckRolloutStrategy}
	if r.onDelete() {
		ch.Status = StatusFail
		ch.Message = "updateStrategy OnDelete: a restart changes nothing until each pod is deleted by hand"
		ch.Fix = "use updateStrategy RollingUpdate (the default), or delete the pods one at a time after each change, waiting for each replacement to be ready"
		return ch
	}
	replicas, source, note := rolloutReplicas(w, env)
	if replicas == 0 {
		ch.Status, ch.Message = StatusSkip, "replicas 0: nothing is serving"
		return ch
	}
	partition := r.partition()
	start := int32(0)
	if s.Spec.Ordinals != nil {
		start = s.Spec.Ordinals.Start
	}
	ordinals := fmt.Sprintf("%d..%d", start, start+replicas-1)
	if partition >= replicas {
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("RollingUpdate with replicas %d%s and partition %d: no ordinal of %s is >= %d, so no pod rolls: a restart changes nothing%s",
			replicas, source, partition, ordinals, start+partition, note)
		ch.Fix = "lower updateStrategy.rollingUpdate.partition when the staged rollout is to go on (0 rolls every pod)"
		return ch
	}
	rolling := replicas - partition
	maxUnavailable, err := statefulSetUnavailable(s, replicas)
	if err != nil {
		ch.Status, ch.Message = StatusFail, "invalid rollingUpdate: "+err.Error()
		ch.Fix = "set maxUnavailable to a positive integer or percentage"
		return ch
	}
	down := min(maxUnavailable, rolling)
	policy := s.Spec.PodManagementPolicy
	if policy == "" {
		policy = appsv1.OrderedReadyPodManagement
	}
	desc := fmt.Sprintf("RollingUpdate with replicas %d%s, podManagementPolicy %s, maxUnavailable %d", replicas, source, policy, maxUnavailable)
	how := "one pod at a time, highest ordinal first, each down until its replacement is ready (a StatefulSet never surges)"
	if maxUnavailable > 1 {
		how = fmt.Sprintf("up to %s at a time, each down until its replacement is ready (a StatefulSet never surges)", pods(maxUnavailable))
		switch policy {
		case appsv1.ParallelPodManagement:
			how += "; maxUnavailable needs the MaxUnavailableStatefulSet feature (beta), without it one pod at a time"
		default:
			how += "; OrderedReady may still replace them one at a time"
		}
	} else if policy == appsv1.ParallelPodManagement {
		how += "; Parallel changes scaling only, not updates"
	}
	if s.Spec.MinReadySeconds > 0 {
		how += fmt.Sprintf("; the next pod goes once its predecessor's replacement has been ready for minReadySeconds %d", s.Spec.MinReadySeconds)
	}
	if partition > 0 {
		keep := "keep"
		if partition == 1 {
			keep = "keeps"
		}
		how += fmt.Sprintf("; partition %d: only ordinals >= %d of %s roll: %s (%s %s the old revision)",
			partition, start+partition, ordinals, podList(w.Name, start+partition, start+replicas-1), podList(w.Name, start, start+partition-1), keep)
	}
	minAvailable := replicas - down
	switch {
	case replicas == 1:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("%s: the only pod (%s-%d) is deleted before its replacement starts: nothing serves until the replacement is ready%s", desc, w.Name, start, note)
		ch.Fix = "run at least 2 replicas (a StatefulSet never surges), or restart it in a maintenance window"
		if source != "" {
			ch.Fix = "set the HorizontalPodAutoscaler's minReplicas to 2 or more"
		}
	case minAvailable <= 0:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("%s: available pods can drop to 0 during a rollout: %s%s", desc, how, note)
		ch.Fix = "lower updateStrategy.rollingUpdate.maxUnavailable (1 replaces one pod at a time)"
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("%s keeps at least %d of %s available: %s%s", desc, minAvailable, pods(replicas), how, note)
	}
	return ch
}

// statefulSetUnavailable is rollingUpdate.maxUnavailable as a pod count: a
// percentage of replicas rounded up, 1 when unset (it cannot be 0).
func statefulSetUnavailable(s *appsv1.StatefulSet, replicas int32) (int32, error) {
	ru := s.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		return 1, nil
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, int(replicas), true)
	if err != nil {
		return 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	return int32(max(n, 1)), nil
}

// podList names the pods of ordinals from..to: "db-2, db-3", or "db-2 .. db-9"
// when there are more than four.
func podList(name string, from, to int32) string {
	if to-from >= 4 {
		return fmt.Sprintf("%s-%d .. %s-%d", name, from, name, to)
	}
	var pods []string
	for i := from; i <= to; i++ {
		pods = append(pods, fmt.Sprintf("%s-%d", name, i))
	}
	return strings.Join(pods, ", ")
}
