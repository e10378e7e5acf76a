package report

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// A pod's drain replayed after a watch gap: the watch delivers the exit before
// the endpoint flip, both at the moment the gap closed. Read live, that order
// would be "exited before not serving"; replayed, no order and no figure is
// claimed, and the exit stands as the API reported it.
func TestPodSeenAfterWatchGap(t *testing.T) {
	for _, late := range []bool{false, true} {
		rollout := state.New(workload.Deployment{Deployment: rollouttest.WebDeployment(2, 2, "2", rollouttest.CompleteStatus())}, rollouttest.At(-120))
		for _, obj := range []any{
			rollouttest.WebReplicaSet("aaa", "1"), rollouttest.WebReplicaSet("bbb", "2"),
			rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebSlice(rollouttest.EP("web-aaa-1", true, true, false)),
		} {
			rollout.Apply(obj, false, rollouttest.At(-60))
		}
		deleting := rollouttest.WebPod("web-aaa-1", "aaa")
		deleting.DeletionTimestamp = ptr.To(metav1.NewTime(rollouttest.At(30)))
		deleting.DeletionGracePeriodSeconds = ptr.To[int64](30)
		exited := deleting.DeepCopy()
		exited.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", FinishedAt: metav1.NewTime(rollouttest.At(6))}}

		rollout.Late = late
		replayedAt := rollouttest.At(15)
		rollout.Apply(deleting, false, replayedAt)
		rollout.Apply(exited, false, replayedAt.Add(time.Millisecond))
		rollout.Apply(rollouttest.WebSlice(rollouttest.EP("web-aaa-1", false, false, true)), false, replayedAt.Add(2*time.Millisecond))
		rollout.Apply(exited, true, replayedAt.Add(3*time.Millisecond))

		var rep Rollout
		rep.Summarise(rollout.OldTimelines(), verify.DefaultGraceBudget())
		if len(rep.Pods) != 1 {
			t.Fatalf("late %v: %d pods, want 1", late, len(rep.Pods))
		}
		p := rep.Pods[0]
		if p.Exit != progress.ExitClean {
			t.Errorf("late %v: exit %q, want clean as the API said", late, p.Exit)
		}
		if !late {
			if p.Verdict != VerdictNoDrain || p.SeenAfterWatchGap {
				t.Errorf("live: verdict %q, seenAfterWatchGap %v; want %q from the order it was received in", p.Verdict, p.SeenAfterWatchGap, VerdictNoDrain)
			}
			continue
		}
		if p.Verdict != VerdictOK || !p.SeenAfterWatchGap {
			t.Errorf("replayed: verdict %q, seenAfterWatchGap %v; want ok and marked", p.Verdict, p.SeenAfterWatchGap)
		}
		if p.SecondsToNotReady != nil || p.SecondsToNotServing != nil || p.TerminationSeconds != nil || p.GraceUsage != nil {
			t.Errorf("replayed: figures %v %v %v %v, want none", p.SecondsToNotReady, p.SecondsToNotServing, p.TerminationSeconds, p.GraceUsage)
		}
		if rep.Propagation.Samples != 0 || rep.Summary.ExitedBeforeNotServing != 0 {
			t.Errorf("replayed: propagation samples %d, exited before not serving %d; want 0, 0", rep.Propagation.Samples, rep.Summary.ExitedBeforeNotServing)
		}
	}
}
