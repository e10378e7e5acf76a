package workload

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func statefulSet(generation, observed int64, replicas int32, partition *int32, s appsv1.StatefulSetStatus) StatefulSet {
	s.ObservedGeneration = observed
	return StatefulSet{&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Generation: generation, UID: "sts-uid"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas), UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
			Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}}},
		Status: s,
	}}
}

func daemonSet(generation, observed int64, s appsv1.DaemonSetStatus) DaemonSet {
	s.ObservedGeneration = observed
	return DaemonSet{&appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", Generation: generation, UID: "ds-uid"},
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status:     s,
	}}
}

func TestRolloutStatusPerKind(t *testing.T) {
	onDeleteSTS := statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{})
	onDeleteSTS.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	onDeleteDS := daemonSet(2, 2, appsv1.DaemonSetStatus{})
	onDeleteDS.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
	tests := []struct {
		name     string
		w        Workload
		target   int64
		wantDone bool
		wantMsg  string // substring
		wantErr  bool   // a *NotRollingError
	}{
		{"sts: generation not observed", statefulSet(2, 1, 3, nil, appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 3}), 2, false, "observe the change", false},
		{"sts: never observed", statefulSet(1, 0, 3, nil, appsv1.StatefulSetStatus{}), 1, false, "observe the change", false},
		{"sts: a pod not ready", statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{ReadyReplicas: 2, UpdatedReplicas: 1}), 2, false, "2 of 3 pods ready", false},
		{"sts: ordinals left to update", statefulSet(2, 2, 3, ptr.To[int32](0), appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 2}), 2, false, "2 of 3 new pods updated", false},
		{"sts: done", statefulSet(2, 2, 3, ptr.To[int32](0), appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 3}), 2, true, "3 new pods updated and ready", false},
		{"sts: partition 2 of 3: one pod rolls", statefulSet(2, 2, 3, ptr.To[int32](2), appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 1}), 2, true, "1 new pods", false},
		{"sts: partition 1 of 3, one of two updated", statefulSet(2, 2, 3, ptr.To[int32](1), appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 1}), 2, false, "1 of 2 new pods updated (ordinals >= 1)", false},
		{"sts: OnDelete never completes", onDeleteSTS, 2, false, "", true},
		{"ds: generation not observed", daemonSet(2, 1, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 2}), 2, false, "observe the change", false},
		{"ds: nodes left to update", daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 1, NumberAvailable: 3}), 2, false, "1 of 3 new pods updated", false},
		{"ds: updated, not available", daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 2}), 2, false, "2 of 3 updated pods available", false},
		{"ds: done", daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}), 2, true, "3 new pods available", false},
		{"ds: target ahead of the controller", daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1}), 3, false, "observe the change", false},
		{"ds: OnDelete never completes", onDeleteDS, 2, false, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, done, err := tc.w.RolloutStatus(tc.target)
			var notRolling *NotRollingError
			if tc.wantErr != errors.As(err, &notRolling) {
				t.Fatalf("err = %v, want a NotRollingError: %v", err, tc.wantErr)
			}
			if done != tc.wantDone || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("RolloutStatus = %q, %v; want %q, %v", msg, done, tc.wantMsg, tc.wantDone)
			}
		})
	}
}

func TestForAndRef(t *testing.T) {
	tests := []struct {
		obj      runtime.Object
		wantKind string
		wantRef  string
	}{
		{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, KindDeployment, "deployment/web"},
		{&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}}, KindStatefulSet, "statefulset/db"},
		{&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}}, KindDaemonSet, "daemonset/agent"},
	}
	for _, tc := range tests {
		w, err := For(tc.obj)
		if err != nil || w.Kind() != tc.wantKind || Ref(w) != tc.wantRef {
			t.Errorf("For(%T) = %v (%v), ref %q; want %s, %s", tc.obj, w, err, Ref(w), tc.wantKind, tc.wantRef)
		}
	}
	if _, err := For(&appsv1.ReplicaSet{}); err == nil {
		t.Error("For(ReplicaSet) succeeded")
	}
}

func TestRollsAndOrdinal(t *testing.T) {
	sts := statefulSet(1, 1, 4, ptr.To[int32](2), appsv1.StatefulSetStatus{})
	tests := []struct {
		w    Workload
		pod  string
		want bool
	}{
		{sts, "db-3", true},
		{sts, "db-2", true},
		{sts, "db-1", false},
		{sts, "db-0", false},
		{sts, "db-x", true}, // not an ordinal: judged like any pod
		{statefulSet(1, 1, 4, nil, appsv1.StatefulSetStatus{}), "db-0", true},
		{daemonSet(1, 1, appsv1.DaemonSetStatus{}), "agent-abcde", true},
	}
	fromTen := statefulSet(1, 1, 4, ptr.To[int32](2), appsv1.StatefulSetStatus{})
	fromTen.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 10}
	tests = append(tests, []struct {
		w    Workload
		pod  string
		want bool
	}{{fromTen, "db-12", true}, {fromTen, "db-11", false}, {fromTen, "db-3", false}}...)
	for _, tc := range tests {
		if got := Rolls(tc.w, tc.pod); got != tc.want {
			t.Errorf("Rolls(%s, %s) = %v, want %v", Ref(tc.w), tc.pod, got, tc.want)
		}
	}
	if n, ok := Ordinal("db", "db-12"); !ok || n != 12 {
		t.Errorf("Ordinal(db-12) = %d, %v", n, ok)
	}
	if _, ok := Ordinal("db", "dbx-1"); ok {
		t.Error("Ordinal(dbx-1) parsed")
	}
}

// revision is a ControllerRevision as the DaemonSet controller writes it:
// its data the patch that restores the template, its hash as a label.
func revision(t *testing.T, owner metav1.Object, hash string, number int64, image string) *appsv1.ControllerRevision {
	t.Helper()
	raw := `{"spec":{"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"agent","image":"` + image + `"}]},"$patch":"replace"}}}`
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: owner.GetName() + "-" + hash, Namespace: "shop", Labels: map[string]string{RevisionHashLabel: hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}},
		Data:     runtime.RawExtension{Raw: []byte(raw)},
		Revision: number,
	}
}

func TestUpdateRevisionHash(t *testing.T) {
	ds := daemonSet(2, 2, appsv1.DaemonSetStatus{})
	ds.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:2"}}},
	}
	stale := daemonSet(3, 2, appsv1.DaemonSetStatus{})
	stale.Spec.Template = ds.Spec.Template
	other := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "other-uid"}}
	old, current := revision(t, ds, "aaa", 1, "agent:1"), revision(t, ds, "bbb", 2, "agent:2")
	// A rollback to agent:1 bumps the old revision's number: still matched by template.
	bumped := revision(t, ds, "aaa", 3, "agent:1")
	tests := []struct {
		name      string
		w         Workload
		revisions []*appsv1.ControllerRevision
		want      string
	}{
		{"ds: the revision of the current template", ds, []*appsv1.ControllerRevision{old, current}, "bbb"},
		{"ds: a newer revision of another template is not it", ds, []*appsv1.ControllerRevision{bumped, current}, "bbb"},
		{"ds: not created yet", ds, []*appsv1.ControllerRevision{old}, ""},
		{"ds: another DaemonSet's revision", ds, []*appsv1.ControllerRevision{revision(t, other, "bbb", 2, "agent:2")}, ""},
		{"ds: controller behind the spec", stale, []*appsv1.ControllerRevision{old, current}, ""},
		{"sts: its update revision", statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{UpdateRevision: "db-bbb"}), nil, "db-bbb"},
		{"sts: controller behind the spec", statefulSet(3, 2, 3, nil, appsv1.StatefulSetStatus{UpdateRevision: "db-bbb"}), nil, ""},
		{"deployment: its ReplicaSets say it", Deployment{&appsv1.Deployment{}}, nil, ""},
	}
	for _, tc := range tests {
		if got := UpdateRevisionHash(tc.w, tc.revisions); got != tc.want {
			t.Errorf("%s: UpdateRevisionHash = %q, want %q", tc.name, got, tc.want)
		}
	}
}
