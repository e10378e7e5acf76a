package actions

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// stsPod is a Ready pod of web's StatefulSet at revision.
func stsPod(name, revision string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: guardNS, UID: types.UID("uid-" + name),
			Labels:          map[string]string{"app": "web", appsv1.ControllerRevisionHashLabelKey: revision},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "sts-uid", Controller: ptr.To(true)}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func terminating(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = &metav1.Time{Time: restartTime}
	return p
}

func notReady(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	return p
}

func TestStopPartition(t *testing.T) {
	const old, updated = "web-old", "web-new"
	sts := func(replicas int32, mutate ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
		s := webStatefulSet(podTemplate("web:2", nil))
		s.Spec.Replicas = ptr.To(replicas)
		for _, m := range mutate {
			m(s)
		}
		return s
	}
	userPartition := func(p int32) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(p)}
		}
	}
	parallel := func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
	stranger := stsPod("web-1", updated)
	stranger.OwnerReferences[0].UID = "someone-else"
	orphan := stsPod("web-2", updated)
	orphan.OwnerReferences = nil

	tests := []struct {
		name string
		s    *appsv1.StatefulSet
		pods []*corev1.Pod
		want int32
	}{
		{"none updated yet: nothing further rolls", sts(3), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), stsPod("web-2", old)}, 3},
		{"ordinal 2 updated", sts(3), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), stsPod("web-2", updated)}, 2},
		{"ordinal 2 terminating: not forced back", sts(3), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), terminating(stsPod("web-2", old))}, 2},
		{"2 updated, 1 terminating", sts(3), []*corev1.Pod{stsPod("web-0", old), terminating(stsPod("web-1", old)), stsPod("web-2", updated)}, 1},
		{"ordinal 2 absent (being recreated)", sts(3), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old)}, 2},
		{"ordinal 1 absent, 2 updated", sts(3), []*corev1.Pod{stsPod("web-0", old), stsPod("web-2", updated)}, 1},
		{"no pods at all", sts(3), nil, 0},
		{"all updated", sts(3), []*corev1.Pod{stsPod("web-0", updated), stsPod("web-1", updated), stsPod("web-2", updated)}, 0},
		{"order of the list does not matter", sts(3), []*corev1.Pod{stsPod("web-2", updated), stsPod("web-1", updated), stsPod("web-0", old)}, 1},
		{"user partition 1, rolled down to it", sts(3, userPartition(1)), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", updated), stsPod("web-2", updated)}, 1},
		{"user partition 1, nothing updated", sts(3, userPartition(1)), []*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), stsPod("web-2", old)}, 3},
		{"never below the user's partition", sts(3, userPartition(2)), []*corev1.Pod{stsPod("web-0", old), terminating(stsPod("web-1", old)), stsPod("web-2", updated)}, 2},
		{"nil partition is 0", sts(3, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}),
			[]*corev1.Pod{stsPod("web-0", updated), stsPod("web-1", updated), stsPod("web-2", updated)}, 0},
		{"Parallel, several replaced at once", sts(5, parallel),
			[]*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), terminating(stsPod("web-2", old)), stsPod("web-3", updated), terminating(stsPod("web-4", updated))}, 2},
		{"Parallel, one absent one updated", sts(5, parallel),
			[]*corev1.Pod{stsPod("web-0", old), stsPod("web-1", old), stsPod("web-2", old), stsPod("web-4", updated)}, 3},
		// An evicted pod recreated at the new revision below an old one stays, and the old one is held.
		{"updated pod below an old one", sts(3, parallel), []*corev1.Pod{stsPod("web-0", updated), stsPod("web-1", old), stsPod("web-2", updated)}, 2},
		// Were they counted, a terminating web-1 would give 1.
		{"strangers, orphans and unparsable names ignored", sts(3),
			[]*corev1.Pod{stsPod("web-0", old), terminating(stranger.DeepCopy()), terminating(orphan.DeepCopy()), terminating(stsPod("web-1x", old)),
				terminating(stsPod("web", old)), stsPod("web-1", old), stsPod("web-2", old)}, 3},
		{"a stranger does not fill an absent ordinal", sts(3), []*corev1.Pod{stsPod("web-0", old), stranger, stsPod("web-2", old)}, 1},
		// Were it counted, the old web-2 would hold the partition at 3.
		{"pods beyond replicas (scaling down) ignored", sts(2), []*corev1.Pod{stsPod("web-0", updated), stsPod("web-1", updated), stsPod("web-2", old)}, 0},
		{"ordinals.start: the partition counts from it", sts(3, func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5} }),
			[]*corev1.Pod{stsPod("web-5", old), stsPod("web-6", old), stsPod("web-7", updated), stsPod("web-4", updated)}, 2},
		{"nil replicas is 1", sts(0, func(s *appsv1.StatefulSet) { s.Spec.Replicas = nil }), []*corev1.Pod{stsPod("web-0", old)}, 1},
		{"no update revision in the status: nothing counts as updated", sts(3, func(s *appsv1.StatefulSet) { s.Status.UpdateRevision = "" }),
			[]*corev1.Pod{stsPod("web-0", ""), stsPod("web-1", ""), stsPod("web-2", "")}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StopPartition(tc.s, tc.pods); got != tc.want {
				t.Errorf("StopPartition = %d, want %d", got, tc.want)
			}
		})
	}
}

func storedStatefulSet(t *testing.T, c *fake.Clientset) *appsv1.StatefulSet {
	t.Helper()
	s, err := c.AppsV1().StatefulSets(guardNS).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storedPartition(t *testing.T, c *fake.Clientset) *int32 {
	t.Helper()
	return UserPartition(storedStatefulSet(t, c))
}

func TestStopStatefulSet(t *testing.T) {
	const restorePrefix = `kubectl patch statefulset/web -n shop --type=merge -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":`
	tests := []struct {
		name        string
		user        *int32
		partition   int32
		want        int32
		wantRestore string
	}{
		{"no user partition", nil, 2, 2, restorePrefix + `null}}}}'`},
		{"user partition kept for the restore", ptr.To[int32](1), 2, 2, restorePrefix + `1}}}}'`},
		{"user partition 0", ptr.To[int32](0), 3, 3, restorePrefix + `0}}}}'`},
		{"never below the user's partition", ptr.To[int32](2), 1, 2, restorePrefix + `2}}}}'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := webStatefulSet(podTemplate("web:2", nil))
			if tc.user != nil {
				s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: tc.user, MaxUnavailable: ptr.To(intstr.FromInt32(1))}
			}
			c := fake.NewClientset(s.DeepCopy())
			c.ClearActions()
			stop, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, tc.partition, nil)
			if err != nil {
				t.Fatal(err)
			}
			patches := patchesOf(c, "statefulsets")
			if len(patches) != 1 || len(c.Actions()) != 1 {
				t.Fatalf("actions = %v, want exactly one patch", c.Actions())
			}
			p := patches[0]
			want := `{"metadata":{"resourceVersion":"42"},"spec":{"updateStrategy":{"rollingUpdate":{"partition":` + itoa(tc.want) + `}}}}`
			if p.GetPatchType() != types.MergePatchType || string(p.GetPatch()) != want || p.GetName() != "web" || p.GetNamespace() != guardNS {
				t.Errorf("patch %s %s/%s %s, want the merge patch %s of shop/web", p.GetPatchType(), p.GetNamespace(), p.GetName(), p.GetPatch(), want)
			}
			if fm := p.(k8stesting.PatchActionImpl).GetPatchOptions().FieldManager; fm != workload.FieldManager {
				t.Errorf("field manager %q", fm)
			}
			if got := storedPartition(t, c); got == nil || *got != tc.want {
				t.Errorf("stored partition = %v, want %d", got, tc.want)
			}
			stored := storedStatefulSet(t, c)
			if tc.user != nil && !reflect.DeepEqual(stored.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable) {
				t.Errorf("the stop changed maxUnavailable: %+v", stored.Spec.UpdateStrategy.RollingUpdate)
			}
			if stop.Partition != tc.want || !reflect.DeepEqual(stop.UserPartition, tc.user) || stop.RestoreCommand != tc.wantRestore {
				t.Errorf("stop = %+v (user %v), want partition %d, user %v, restore\n%s", stop, ptr.Deref(stop.UserPartition, -1), tc.want, tc.user, tc.wantRestore)
			}
		})
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The restore command, applied as kubectl would, gives the user's partition back.
func TestStatefulSetRestoreCommandRestores(t *testing.T) {
	for _, user := range []*int32{nil, ptr.To[int32](1)} {
		s := webStatefulSet(podTemplate("web:2", nil))
		if user != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: user}
		}
		c := fake.NewClientset(s.DeepCopy())
		stop, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		body := kubectlPatchBody(t, stop.RestoreCommand)
		if _, err := c.AppsV1().StatefulSets(guardNS).Patch(context.Background(), "web", types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := storedPartition(t, c); !reflect.DeepEqual(got, user) {
			t.Errorf("partition after the restore command = %v, want %v", got, user)
		}
	}
}

// kubectlPatchBody is the -p '...' argument of a kubectl patch command.
func kubectlPatchBody(t *testing.T, command string) string {
	t.Helper()
	_, quoted, ok := strings.Cut(command, " --type=merge -p '")
	if !ok || !strings.HasSuffix(quoted, "'") || strings.Count(quoted, "'") != 1 {
		t.Fatalf("command %q has no single-quoted merge patch", command)
	}
	return strings.TrimSuffix(quoted, "'")
}

func TestStopStatefulSetRefusedWhenTemplateChanged(t *testing.T) {
	s := webStatefulSet(podTemplate("web:3", nil)) // someone else's rollout
	c := fake.NewClientset(s.DeepCopy())
	c.ClearActions()
	guarded := podTemplate("web:2", nil)
	stop, err := StopStatefulSet(context.Background(), c, s, &guarded, 2, nil)
	if !errors.Is(err, ErrStopRefused) || !strings.Contains(err.Error(), "StatefulSet") || stop != (StatefulSetStop{}) {
		t.Fatalf("StopStatefulSet = %+v, %v; want ErrStopRefused naming the StatefulSet", stop, err)
	}
	if len(c.Actions()) != 0 || storedPartition(t, c) != nil {
		t.Errorf("actions %v: want nothing written", c.Actions())
	}
}

func TestStopStatefulSetOnDelete(t *testing.T) {
	s := webStatefulSet(podTemplate("web:2", nil))
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	c := fake.NewClientset(s.DeepCopy())
	c.ClearActions()
	if _, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 2, nil); !errors.Is(err, ErrOnDelete) || !strings.Contains(err.Error(), "statefulset shop/web") {
		t.Fatalf("StopStatefulSet(OnDelete) = %v, want a wrapped ErrOnDelete", err)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("actions %v: want nothing written", c.Actions())
	}
}

// A conflict re-reads: the retry is conditional on the fresh resourceVersion,
// and its restore command names the user's partition set meanwhile.
func TestStopStatefulSetConflictThenSuccess(t *testing.T) {
	s := webStatefulSet(podTemplate("web:2", nil))
	c := fake.NewClientset(s.DeepCopy())
	c.ClearActions()
	conflictFirst(t, c, statefulSetsGVR, func(obj runtime.Object) {
		fresh := obj.(*appsv1.StatefulSet)
		fresh.ResourceVersion = "43"
		fresh.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}
	})
	var attempts []error
	stop, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 2, func(err error) { attempts = append(attempts, err) })
	if err != nil {
		t.Fatal(err)
	}
	if got := verbs(c.Actions()); got != "patch,get,patch" {
		t.Fatalf("actions = %s, want patch,get,patch", got)
	}
	patches := patchesOf(c, "statefulsets")
	if !strings.Contains(string(patches[0].GetPatch()), `"resourceVersion":"42"`) || !strings.Contains(string(patches[1].GetPatch()), `"resourceVersion":"43"`) {
		t.Errorf("patches %s then %s, want conditional on 42 then on the re-read 43", patches[0].GetPatch(), patches[1].GetPatch())
	}
	if len(attempts) != 2 || !apierrors.IsConflict(attempts[0]) || attempts[1] != nil {
		t.Errorf("attempts = %v, want the conflict then success", attempts)
	}
	if stop.Partition != 2 || ptr.Deref(stop.UserPartition, -1) != 1 || !strings.HasSuffix(stop.RestoreCommand, `"partition":1}}}}'`) {
		t.Errorf("stop = %+v, want partition 2 over the user's 1", stop)
	}
	if got := storedPartition(t, c); got == nil || *got != 2 {
		t.Errorf("stored partition = %v, want 2", got)
	}
}

func TestStopStatefulSetConflictThenSomeoneElsesTemplate(t *testing.T) {
	s := webStatefulSet(podTemplate("web:2", nil))
	c := fake.NewClientset(s.DeepCopy())
	c.ClearActions()
	conflictFirst(t, c, statefulSetsGVR, func(obj runtime.Object) {
		obj.(*appsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image = "web:3"
	})
	if _, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 2, nil); !errors.Is(err, ErrStopRefused) {
		t.Fatalf("StopStatefulSet = %v, want ErrStopRefused", err)
	}
	if got := verbs(c.Actions()); got != "patch,get" {
		t.Errorf("actions = %s, want patch,get and nothing more", got)
	}
	if storedPartition(t, c) != nil {
		t.Error("a partition was written over someone else's rollout")
	}
}

func TestStopStatefulSetRetriesTransientErrors(t *testing.T) {
	s := webStatefulSet(podTemplate("web:2", nil))
	c := fake.NewClientset(s.DeepCopy())
	failures := 2
	c.PrependReactor("patch", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
		}
		return false, nil, nil
	})
	var attempts []error
	if _, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 2, func(err error) { attempts = append(attempts, err) }); err != nil {
		t.Fatalf("StopStatefulSet = %v, want success after the outage", err)
	}
	if len(attempts) != 3 || attempts[0] == nil || attempts[2] != nil || ptr.Deref(storedPartition(t, c), -1) != 2 {
		t.Errorf("attempts %v, partition %v; want two failures then the stop", attempts, storedPartition(t, c))
	}
}

func TestStopStatefulSetErrors(t *testing.T) {
	s := webStatefulSet(podTemplate("web:2", nil))
	c := fake.NewClientset()
	_, err := StopStatefulSet(context.Background(), c, s, &s.Spec.Template, 2, nil)
	if !apierrors.IsNotFound(err) || errors.Is(err, ErrStopRefused) || !strings.Contains(err.Error(), "stopping statefulset shop/web") {
		t.Errorf("StopStatefulSet of a missing StatefulSet = %v, want a wrapped NotFound", err)
	}
}

func TestRestartStatefulSet(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		dryRun   DryRun
		onDelete bool
	}{
		{"patches", DryRunNone, false},
		{"server dry run", DryRunServer, false},
		{"client dry run", DryRunClient, false},
		{"OnDelete is patched anyway, as kubectl", DryRunNone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := webStatefulSet(podTemplate("web:2", map[string]string{"keep": "me"}))
			if tc.onDelete {
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			}
			c := fake.NewClientset(s.DeepCopy())
			c.ClearActions()
			out, err := RestartStatefulSet(ctx, c, s, restartTime, tc.dryRun)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Spec.Template.Annotations; got[workload.RestartedAtAnnotation] != restartStamp || got["keep"] != "me" {
				t.Errorf("returned template annotations = %v", got)
			}
			if _, ok := s.Spec.Template.Annotations[workload.RestartedAtAnnotation]; ok {
				t.Error("RestartStatefulSet modified its input")
			}
			if tc.dryRun == DryRunClient {
				if len(c.Actions()) != 0 {
					t.Errorf("client dry run sent %v", c.Actions())
				}
				return
			}
			p := onlyPatch(t, c.Actions())
			if p.GetPatchType() != types.StrategicMergePatchType || p.GetResource() != statefulSetsGVR || p.GetName() != "web" || p.GetNamespace() != guardNS {
				t.Errorf("patch %s of %s %s/%s", p.GetPatchType(), p.GetResource(), p.GetNamespace(), p.GetName())
			}
			if !jsonEqual(t, p.GetPatch(), `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"`+restartStamp+`"}}}}}`) {
				t.Errorf("patch = %s, want only the restartedAt annotation", p.GetPatch())
			}
			wantDry := []string(nil)
			if tc.dryRun == DryRunServer {
				wantDry = []string{metav1.DryRunAll}
			}
			if opts := p.GetPatchOptions(); !reflect.DeepEqual(opts.DryRun, wantDry) || opts.FieldManager != workload.FieldManager {
				t.Errorf("options = %+v, want DryRun %v", opts, wantDry)
			}
			if tc.dryRun == DryRunNone && storedStatefulSet(t, c).Spec.Template.Annotations[workload.RestartedAtAnnotation] != restartStamp {
				t.Error("the stored StatefulSet was not restarted")
			}
		})
	}

	s := webStatefulSet(podTemplate("web:2", nil))
	if _, err := RestartStatefulSet(ctx, fake.NewClientset(), s, restartTime, DryRunNone); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "restarting statefulset shop/web") {
		t.Errorf("RestartStatefulSet of a missing StatefulSet = %v, want a wrapped NotFound", err)
	}
}

// stsRollbackFixture: web-r2 (web:1, restarted once) precedes the guarded web-r3 (web:2).
type stsRollbackFixture struct {
	client   *fake.Clientset
	s        *appsv1.StatefulSet
	previous *appsv1.ControllerRevision
	guarded  *corev1.PodTemplateSpec
}

func newSTSRollbackFixture(t *testing.T) *stsRollbackFixture {
	guarded := podTemplate("web:2", nil)
	s := webStatefulSet(guarded)
	s.Status.UpdateRevision = "web-r3"
	previous := stsRevision(t, "web-r2", 2, restartedTemplate())
	c := fake.NewClientset(s.DeepCopy(), stsRevision(t, "web-r1", 1, podTemplate("web:0", nil)), previous, stsRevision(t, "web-r3", 3, guarded))
	c.ClearActions()
	return &stsRollbackFixture{client: c, s: s, previous: previous, guarded: &guarded}
}

func TestRollbackStatefulSet(t *testing.T) {
	f := newSTSRollbackFixture(t)
	revisions, err := ControllerRevisions(context.Background(), f.client, f.s)
	if err != nil {
		t.Fatal(err)
	}
	previous := PreviousRevision(f.s, revisions, f.guarded)
	if previous == nil || previous.Name != "web-r2" {
		t.Fatalf("PreviousRevision = %v, want web-r2", previous)
	}
	f.client.ClearActions()
	if err := RollbackStatefulSet(context.Background(), f.client, f.s, previous, f.guarded, nil); err != nil {
		t.Fatal(err)
	}
	p := onlyPatch(t, f.client.Actions())
	if p.GetPatchType() != types.StrategicMergePatchType || p.GetResource() != statefulSetsGVR || p.GetPatchOptions().FieldManager != workload.FieldManager {
		t.Errorf("patch %s of %s, want a strategic merge patch of the StatefulSet", p.GetPatchType(), p.GetResource())
	}
	// kubectl's patch is the revision's data; ours adds the precondition.
	var wantBody map[string]any
	mustUnmarshal(t, f.previous.Data.Raw, &wantBody)
	wantBody["metadata"] = map[string]any{"resourceVersion": "42"}
	if !jsonEqual(t, p.GetPatch(), mustMarshal(t, wantBody)) || !strings.Contains(string(p.GetPatch()), `"$patch":"replace"`) {
		t.Errorf("patch = %s, want the revision's data conditional on 42", p.GetPatch())
	}
	stored := storedStatefulSet(t, f.client)
	if !equality.Semantic.DeepEqual(stored.Spec.Template, restartedTemplate()) {
		t.Errorf("stored template\n%+v\nwant web-r2's\n%+v", stored.Spec.Template, restartedTemplate())
	}
	if *stored.Spec.Replicas != 3 || stored.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		t.Errorf("the rollback changed more than the template: %+v", stored.Spec)
	}
	if img := f.s.Spec.Template.Spec.Containers[0].Image; img != "web:2" {
		t.Errorf("RollbackStatefulSet modified its input: image %s", img)
	}
}

// Right after a restart the template to leave is the guarded one, even though
// the status still names the revision before it.
func TestRollbackStatefulSetRightAfterRestart(t *testing.T) {
	old := podTemplate("web:1", nil)
	s := webStatefulSet(old)
	s.Status.UpdateRevision = "web-r2"
	c := fake.NewClientset(s.DeepCopy(), stsRevision(t, "web-r1", 1, podTemplate("web:0", nil)), stsRevision(t, "web-r2", 2, old))
	restarted, err := RestartStatefulSet(context.Background(), c, s, restartTime, DryRunNone)
	if err != nil {
		t.Fatal(err)
	}
	restarted.Generation = s.Generation + 1 // as the API server bumps it
	revisions, err := ControllerRevisions(context.Background(), c, restarted)
	if err != nil {
		t.Fatal(err)
	}
	previous := PreviousRevision(restarted, revisions, &restarted.Spec.Template)
	if previous == nil || previous.Name != "web-r2" {
		t.Fatalf("PreviousRevision right after restart = %s, want web-r2 (the template before the restart)", names(previous))
	}
	if err := RollbackStatefulSet(context.Background(), c, restarted, previous, &restarted.Spec.Template, nil); err != nil {
		t.Fatal(err)
	}
	if got := storedStatefulSet(t, c).Spec.Template; !equality.Semantic.DeepEqual(got, old) {
		t.Errorf("stored template %+v, want the one before the restart", got)
	}
}

func TestRollbackStatefulSetRefusedWhenTemplateChanged(t *testing.T) {
	f := newSTSRollbackFixture(t)
	changed := f.s.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "web:3"
	err := RollbackStatefulSet(context.Background(), f.client, changed, f.previous, f.guarded, nil)
	if !errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "StatefulSet") {
		t.Fatalf("RollbackStatefulSet = %v, want ErrRollbackRefused naming the StatefulSet", err)
	}
	if len(f.client.Actions()) != 0 {
		t.Errorf("a refused rollback sent %v", f.client.Actions())
	}
}

func TestRollbackStatefulSetConflict(t *testing.T) {
	f := newSTSRollbackFixture(t)
	conflictFirst(t, f.client, statefulSetsGVR, func(obj runtime.Object) {
		s := obj.(*appsv1.StatefulSet)
		s.ResourceVersion = "43"
		s.Spec.Replicas = ptr.To[int32](5) // a scale: not the template
	})
	if err := RollbackStatefulSet(context.Background(), f.client, f.s, f.previous, f.guarded, nil); err != nil {
		t.Fatal(err)
	}
	if got := verbs(f.client.Actions()); got != "patch,get,patch" {
		t.Fatalf("actions = %s, want patch,get,patch", got)
	}
	if p := patchesOf(f.client, "statefulsets")[1].GetPatch(); !strings.Contains(string(p), `"resourceVersion":"43"`) {
		t.Errorf("retry %s, want conditional on the re-read 43", p)
	}
	stored := storedStatefulSet(t, f.client)
	if *stored.Spec.Replicas != 5 || stored.Spec.Template.Spec.Containers[0].Image != "web:1" {
		t.Errorf("stored replicas %d image %s, want the concurrent scale kept and web:1", *stored.Spec.Replicas, stored.Spec.Template.Spec.Containers[0].Image)
	}

	g := newSTSRollbackFixture(t)
	conflictFirst(t, g.client, statefulSetsGVR, func(obj runtime.Object) {
		obj.(*appsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image = "web:3"
	})
	if err := RollbackStatefulSet(context.Background(), g.client, g.s, g.previous, g.guarded, nil); !errors.Is(err, ErrRollbackRefused) {
		t.Fatalf("RollbackStatefulSet = %v, want ErrRollbackRefused", err)
	}
	if got := verbs(g.client.Actions()); got != "patch,get" {
		t.Errorf("actions = %s, want patch,get", got)
	}
}

func TestRollbackStatefulSetErrors(t *testing.T) {
	f := newSTSRollbackFixture(t)
	if err := RollbackStatefulSet(context.Background(), f.client, f.s, nil, f.guarded, nil); err == nil || len(f.client.Actions()) != 0 {
		t.Errorf("RollbackStatefulSet without a revision = %v, actions %v", err, f.client.Actions())
	}
	f.client.PrependReactor("patch", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "web", errors.New("no patch"))
	})
	err := RollbackStatefulSet(context.Background(), f.client, f.s, f.previous, f.guarded, nil)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rolling back statefulset shop/web") || verbs(f.client.Actions()) != "patch" {
		t.Errorf("RollbackStatefulSet = %v after %s, want one wrapped Forbidden", err, verbs(f.client.Actions()))
	}

	g := newSTSRollbackFixture(t)
	conflictFirst(t, g.client, statefulSetsGVR, nil)
	g.client.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "web")
	})
	if err := RollbackStatefulSet(context.Background(), g.client, g.s, g.previous, g.guarded, nil); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "re-reading statefulset shop/web") {
		t.Errorf("RollbackStatefulSet with a failing re-read = %v, want a wrapped NotFound", err)
	}
}

func TestForceRollbackPods(t *testing.T) {
	const bad, good = "web-r3", "web-r2"
	s := webStatefulSet(podTemplate("web:1", nil))
	stranger := notReady(stsPod("other-0", bad))
	stranger.OwnerReferences[0].UID = "someone-else"
	noReadyCondition := stsPod("web-4", bad)
	noReadyCondition.Status.Conditions = nil
	pods := []*corev1.Pod{
		stsPod("web-0", good),                       // fine
		notReady(stsPod("web-1", good)),             // good revision: the controller's business
		notReady(stsPod("web-2", bad)),              // blocks the rollback
		stsPod("web-3", bad),                        // Ready: replaced in order
		noReadyCondition,                            // never became Ready
		terminating(notReady(stsPod("web-5", bad))), // already going
		stranger,
	}
	objects := []runtime.Object{}
	for _, p := range pods {
		objects = append(objects, p.DeepCopy())
	}
	c := fake.NewClientset(objects...)
	c.ClearActions()
	deleted, err := ForceRollbackPods(context.Background(), c, s, bad, pods)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(deleted, ",") != "web-2,web-4" {
		t.Errorf("deleted %v, want web-2,web-4", deleted)
	}
	var got []string
	for _, a := range c.Actions() {
		d, ok := a.(k8stesting.DeleteAction)
		if !ok {
			t.Fatalf("unexpected request %v", a)
		}
		pre := d.GetDeleteOptions().Preconditions
		if pre == nil || pre.UID == nil || string(*pre.UID) != "uid-"+d.GetName() || d.GetNamespace() != guardNS || d.GetResource().Resource != "pods" {
			t.Errorf("delete of %s/%s with preconditions %+v, want its UID", d.GetNamespace(), d.GetName(), pre)
		}
		got = append(got, d.GetName())
	}
	if strings.Join(got, ",") != "web-2,web-4" {
		t.Errorf("deletes %v, want web-2,web-4", got)
	}
	left, _ := c.CoreV1().Pods(guardNS).List(context.Background(), metav1.ListOptions{})
	if len(left.Items) != len(pods)-2 {
		t.Errorf("%d pods left, want %d", len(left.Items), len(pods)-2)
	}
}

// A pod already gone, or recreated under the same name (the UID precondition
// fails), is not an error and not reported deleted; other errors are, and the
// remaining pods are still deleted.
func TestForceRollbackPodsGoneAndErrors(t *testing.T) {
	const bad = "web-r3"
	s := webStatefulSet(podTemplate("web:1", nil))
	pods := []*corev1.Pod{notReady(stsPod("web-0", bad)), notReady(stsPod("web-1", bad)), notReady(stsPod("web-2", bad)), notReady(stsPod("web-3", bad))}
	c := fake.NewClientset(pods[1].DeepCopy(), pods[2].DeepCopy(), pods[3].DeepCopy()) // web-0 is gone
	c.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a.(k8stesting.DeleteAction).GetName() {
		case "web-1":
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "web-1", errors.New("Precondition failed: UID in precondition: uid-web-1, UID in object meta: new"))
		case "web-2":
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "web-2", errors.New("no delete"))
		}
		return false, nil, nil
	})
	deleted, err := ForceRollbackPods(context.Background(), c, s, bad, pods)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "deleting pod web-2") || !strings.Contains(err.Error(), "statefulset shop/web") {
		t.Errorf("ForceRollbackPods = %v, want the wrapped Forbidden of web-2", err)
	}
	if strings.Join(deleted, ",") != "web-3" {
		t.Errorf("deleted %v, want web-3 only", deleted)
	}
	if got := verbs(c.Actions()); got != "delete,delete,delete,delete" {
		t.Errorf("requests %s, want one delete each (no retry of a failed precondition)", got)
	}

	if _, err := ForceRollbackPods(context.Background(), c, s, "", pods); err == nil {
		t.Error("ForceRollbackPods without a revision succeeded")
	}
}
