package state

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// dbStatefulSet is "db" rolling from revision db-old to db-new.
func dbStatefulSet(replicas int32, partition int32, status appsv1.StatefulSetStatus) *appsv1.StatefulSet {
	status.ObservedGeneration, status.CurrentRevision, status.UpdateRevision = 2, "db-old", "db-new"
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: rollouttest.NS, UID: "sts-uid", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(partition)}}},
		Status: status,
	}
}

// dbPod is the StatefulSet's pod of that ordinal name, at a revision; the
// UID tells a replacement from its predecessor of the same name.
func dbPod(name, uid, revision string) *corev1.Pod {
	p := rollouttest.WebPod(name, "")
	p.UID = types.UID(uid)
	p.Labels = map[string]string{"app": "db", workload.RevisionHashLabel: revision}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "sts-uid", Controller: ptr.To(true)}}
	return p
}

// dbSlice lists endpoints by name and UID, as the EndpointSlice controller does.
func dbSlice(eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "db-abcde", Namespace: rollouttest.NS, Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		Endpoints:  eps,
	}
}

func dbEndpoint(name, uid string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{"10.0.0.1"},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(!ready)},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: rollouttest.NS, Name: name, UID: types.UID(uid)},
	}
}

// A StatefulSet replaces db-2 by a pod of the same name: the old pod's
// drain and the new pod's endpoint must not mix.
func TestStatefulSetReplacementReusesTheName(t *testing.T) {
	sts := dbStatefulSet(3, 0, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 0})
	r := New(workload.StatefulSet{StatefulSet: sts}, rollouttest.T0)
	old2 := dbPod("db-2", "old-2", "db-old")
	for _, obj := range []any{dbPod("db-0", "old-0", "db-old"), dbPod("db-1", "old-1", "db-old"), old2,
		dbSlice(dbEndpoint("db-0", "old-0", true), dbEndpoint("db-1", "old-1", true), dbEndpoint("db-2", "old-2", true))} {
		r.Apply(obj, false, rollouttest.T0)
	}
	if got := names(r.OldTimelines()); len(got) != 3 {
		t.Fatalf("old pods = %v, want db-0, db-1, db-2", got)
	}
	r.Apply(deleting(old2, rollouttest.At(1)), false, rollouttest.At(1))
	r.Apply(dbSlice(dbEndpoint("db-0", "old-0", true), dbEndpoint("db-1", "old-1", true), dbEndpoint("db-2", "old-2", false)), false, rollouttest.At(1.1))
	gone := terminated(deleting(old2, rollouttest.At(1)), 0, "Completed", rollouttest.At(2))
	r.Apply(gone, true, rollouttest.At(2))
	r.Apply(dbSlice(dbEndpoint("db-0", "old-0", true), dbEndpoint("db-1", "old-1", true)), false, rollouttest.At(2.1))
	// The replacement: same name, new UID, new revision, listed as not ready then ready.
	r.Apply(dbPod("db-2", "new-2", "db-new"), false, rollouttest.At(3))
	r.Apply(dbSlice(dbEndpoint("db-0", "old-0", true), dbEndpoint("db-1", "old-1", true), dbEndpoint("db-2", "new-2", false)), false, rollouttest.At(3.1))
	r.Apply(dbSlice(dbEndpoint("db-0", "old-0", true), dbEndpoint("db-1", "old-1", true), dbEndpoint("db-2", "new-2", true)), false, rollouttest.At(4))

	old := r.OldTimelines()
	if len(old) != 3 {
		t.Fatalf("old pods = %v, want the three of db-old only", names(old))
	}
	var drained *PodTimeline
	for _, tl := range old {
		if tl.UID == "old-2" {
			drained = tl
		}
		if tl.UID == "new-2" {
			t.Errorf("the replacement db-2 counted as old")
		}
	}
	if drained == nil {
		t.Fatal("the old db-2 is not among the old pods")
	}
	if drained.NotReady != rollouttest.At(1.1) || drained.EndpointRemoved != rollouttest.At(2.1) || drained.Gone != rollouttest.At(2) {
		t.Errorf("old db-2: not ready %s, removed %s, gone %s; want t0+1.1, t0+2.1, t0+2", rollouttest.FmtInstant(drained.NotReady),
			rollouttest.FmtInstant(drained.EndpointRemoved), rollouttest.FmtInstant(drained.Gone))
	}
	if e, ok := drained.Exit(); !ok || e.Exit != progress.ExitClean {
		t.Errorf("old db-2 exit %q (%v), want clean", e.Exit, ok)
	}
	// The controller says one of three updated: db-1 and db-0 are still to go.
	r.Apply(dbStatefulSet(3, 0, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 1}), false, rollouttest.At(4))
	if msg, done, _ := r.Status(2); done {
		t.Errorf("Status = %q, done; want not done", msg)
	}
}

// Ordinals below the partition stay on the old revision: the rollout is
// complete without them.
func TestStatefulSetPartitionCompletesWithoutTheOrdinalsBelowIt(t *testing.T) {
	sts := dbStatefulSet(3, 2, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 1})
	r := New(workload.StatefulSet{StatefulSet: sts}, rollouttest.T0)
	for _, obj := range []any{dbPod("db-0", "old-0", "db-old"), dbPod("db-1", "old-1", "db-old"), dbPod("db-2", "new-2", "db-new")} {
		r.Apply(obj, false, rollouttest.T0)
	}
	msg, done, err := r.Status(2)
	if !done || err != nil {
		t.Errorf("Status = %q, %v, %v; want done", msg, done, err)
	}
	// Without the partition, db-0 and db-1 would still have to go.
	r.Apply(dbStatefulSet(3, 0, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3}), false, rollouttest.At(1))
	if msg, done, _ := r.Status(2); done {
		t.Errorf("without partition: Status = %q, done; want two old pods terminating", msg)
	}
}

// A DaemonSet's new pods are those of the revision whose template it carries.
func TestDaemonSetOldPodsByRevision(t *testing.T) {
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:2"}}}}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: rollouttest.NS, UID: "ds-uid", Generation: 2},
		Spec: appsv1.DaemonSetSpec{Template: template, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 2},
	}
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "ds-uid", Controller: ptr.To(true)}}
	revision := func(hash string, number int64, image string) *appsv1.ControllerRevision {
		raw := `{"spec":{"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"agent","image":"` + image + `"}]},"$patch":"replace"}}}`
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "agent-" + hash, Namespace: rollouttest.NS,
			Labels: map[string]string{workload.RevisionHashLabel: hash}, OwnerReferences: owner}, Revision: number, Data: runtimeRaw(raw)}
	}
	pod := func(name, hash string) *corev1.Pod {
		p := rollouttest.WebPod(name, "")
		p.Labels = map[string]string{"app": "agent", workload.RevisionHashLabel: hash}
		p.OwnerReferences = owner
		return p
	}
	r := New(workload.DaemonSet{DaemonSet: ds}, rollouttest.T0)
	r.Apply(pod("agent-a1", "h1"), false, rollouttest.T0)
	r.Apply(pod("agent-b1", "h2"), false, rollouttest.T0)
	r.Apply(revision("h1", 1, "agent:1"), false, rollouttest.T0)
	if msg, done, _ := r.Status(2); done {
		t.Errorf("before the new revision is seen: Status = %q, done", msg)
	}
	if got := names(r.OldTimelines()); len(got) != 2 {
		t.Errorf("before the new revision is seen, every pod is old: %v", got)
	}
	r.Apply(revision("h2", 2, "agent:2"), false, rollouttest.At(1))
	if got := names(r.OldTimelines()); len(got) != 1 || !got["agent-a1"] {
		t.Errorf("old pods = %v, want agent-a1", got)
	}
	r.Apply(terminated(deleting(pod("agent-a1", "h1"), rollouttest.At(2)), 0, "Completed", rollouttest.At(3)), true, rollouttest.At(3))
	if msg, done, err := r.Status(2); !done || err != nil {
		t.Errorf("Status = %q, %v, %v; want done", msg, done, err)
	}
}

func runtimeRaw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }
