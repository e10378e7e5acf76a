package actions

import (
	"context"
	"errors"
	"reflect"
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

func storedDaemonSet(t *testing.T, c *fake.Clientset) *appsv1.DaemonSet {
	t.Helper()
	ds, err := c.AppsV1().DaemonSets(guardNS).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestStopDaemonSet(t *testing.T) {
	const restorePrefix = `kubectl patch daemonset/web -n shop --type=merge -p '`
	tests := []struct {
		name        string
		strategy    appsv1.DaemonSetUpdateStrategy
		wantRestore string
	}{
		{"maxUnavailable as a percentage", appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("10%")), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			restorePrefix + `{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"10%","maxSurge":0}}}}'`},
		{"surge", appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			restorePrefix + `{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}}}}'`},
		{"only maxUnavailable", appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(2))}},
			restorePrefix + `{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}}}}'`},
		{"no rollingUpdate, no type (API defaults)", appsv1.DaemonSetUpdateStrategy{},
			restorePrefix + `{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":null}}}'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := webDaemonSet(podTemplate("web:2", nil))
			ds.Spec.UpdateStrategy = tc.strategy
			c := fake.NewClientset(ds.DeepCopy())
			c.ClearActions()
			stop, err := StopDaemonSet(context.Background(), c, ds, &ds.Spec.Template, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := onlyPatch(t, c.Actions())
			want := `{"metadata":{"resourceVersion":"42"},"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}`
			if p.GetPatchType() != types.MergePatchType || string(p.GetPatch()) != want || p.GetResource() != daemonSetsGVR || p.GetName() != "web" || p.GetNamespace() != guardNS {
				t.Errorf("patch %s of %s %s/%s: %s, want the merge patch %s", p.GetPatchType(), p.GetResource(), p.GetNamespace(), p.GetName(), p.GetPatch(), want)
			}
			if p.GetPatchOptions().FieldManager != workload.FieldManager {
				t.Errorf("field manager %q", p.GetPatchOptions().FieldManager)
			}
			stored := storedDaemonSet(t, c)
			if got := stored.Spec.UpdateStrategy; got.Type != appsv1.OnDeleteDaemonSetStrategyType || got.RollingUpdate != nil {
				t.Errorf("stored updateStrategy %+v, want OnDelete without rollingUpdate", got)
			}
			if !equality.Semantic.DeepEqual(stored.Spec.Template, ds.Spec.Template) {
				t.Error("the stop changed the template")
			}
			if !reflect.DeepEqual(stop.UserStrategy, tc.strategy) || stop.RestoreCommand != tc.wantRestore {
				t.Errorf("stop = %+v\nwant restore %s", stop, tc.wantRestore)
			}

			// The restore command, run as kubectl would, puts the user's strategy back.
			body := kubectlPatchBody(t, stop.RestoreCommand)
			if _, err := c.AppsV1().DaemonSets(guardNS).Patch(context.Background(), "web", types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			wantRestored := tc.strategy
			wantRestored.Type = appsv1.RollingUpdateDaemonSetStrategyType
			if got := storedDaemonSet(t, c).Spec.UpdateStrategy; !reflect.DeepEqual(got, wantRestored) {
				t.Errorf("after the restore command: %+v, want %+v", got, wantRestored)
			}
		})
	}
}

func TestStopDaemonSetRefusedWhenTemplateChanged(t *testing.T) {
	ds := webDaemonSet(podTemplate("web:3", nil))
	c := fake.NewClientset(ds.DeepCopy())
	c.ClearActions()
	guarded := podTemplate("web:2", nil)
	_, err := StopDaemonSet(context.Background(), c, ds, &guarded, nil)
	if !errors.Is(err, ErrStopRefused) || !strings.Contains(err.Error(), "DaemonSet") {
		t.Fatalf("StopDaemonSet = %v, want ErrStopRefused naming the DaemonSet", err)
	}
	if len(c.Actions()) != 0 || storedDaemonSet(t, c).Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		t.Errorf("actions %v: want nothing written", c.Actions())
	}
}

func TestStopDaemonSetOnDelete(t *testing.T) {
	ds := webDaemonSet(podTemplate("web:2", nil))
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	c := fake.NewClientset(ds.DeepCopy())
	c.ClearActions()
	if _, err := StopDaemonSet(context.Background(), c, ds, &ds.Spec.Template, nil); !errors.Is(err, ErrOnDelete) || !strings.Contains(err.Error(), "daemonset shop/web") {
		t.Fatalf("StopDaemonSet(OnDelete) = %v, want a wrapped ErrOnDelete", err)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("actions %v, want none", c.Actions())
	}
}

func TestStopDaemonSetConflictThenSuccess(t *testing.T) {
	ds := webDaemonSet(podTemplate("web:2", nil))
	c := fake.NewClientset(ds.DeepCopy())
	c.ClearActions()
	conflictFirst(t, c, daemonSetsGVR, func(obj runtime.Object) {
		fresh := obj.(*appsv1.DaemonSet)
		fresh.ResourceVersion = "43"
		fresh.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(3)) // the user's edit meanwhile
	})
	var attempts []error
	stop, err := StopDaemonSet(context.Background(), c, ds, &ds.Spec.Template, func(err error) { attempts = append(attempts, err) })
	if err != nil {
		t.Fatal(err)
	}
	if got := verbs(c.Actions()); got != "patch,get,patch" {
		t.Fatalf("actions = %s, want patch,get,patch", got)
	}
	if p := patchesOf(c, "daemonsets")[1].GetPatch(); !strings.Contains(string(p), `"resourceVersion":"43"`) {
		t.Errorf("retry %s, want conditional on the re-read 43", p)
	}
	if len(attempts) != 2 || !apierrors.IsConflict(attempts[0]) || attempts[1] != nil {
		t.Errorf("attempts = %v", attempts)
	}
	if !strings.Contains(stop.RestoreCommand, `"maxUnavailable":3`) {
		t.Errorf("restore %s, want the strategy as re-read", stop.RestoreCommand)
	}
	if storedDaemonSet(t, c).Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		t.Error("not stopped")
	}

	g := webDaemonSet(podTemplate("web:2", nil))
	gc := fake.NewClientset(g.DeepCopy())
	gc.ClearActions()
	conflictFirst(t, gc, daemonSetsGVR, func(obj runtime.Object) {
		obj.(*appsv1.DaemonSet).Spec.Template.Spec.Containers[0].Image = "web:3"
	})
	if _, err := StopDaemonSet(context.Background(), gc, g, &g.Spec.Template, nil); !errors.Is(err, ErrStopRefused) {
		t.Fatalf("StopDaemonSet = %v, want ErrStopRefused", err)
	}
	if got := verbs(gc.Actions()); got != "patch,get" {
		t.Errorf("actions = %s, want patch,get", got)
	}
}

func TestStopDaemonSetRetriesTransientErrors(t *testing.T) {
	ds := webDaemonSet(podTemplate("web:2", nil))
	c := fake.NewClientset(ds.DeepCopy())
	failures := 2
	c.PrependReactor("patch", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewTooManyRequests("throttled", 0)
		}
		return false, nil, nil
	})
	var attempts []error
	if _, err := StopDaemonSet(context.Background(), c, ds, &ds.Spec.Template, func(err error) { attempts = append(attempts, err) }); err != nil {
		t.Fatalf("StopDaemonSet = %v", err)
	}
	if len(attempts) != 3 || attempts[2] != nil || storedDaemonSet(t, c).Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		t.Errorf("attempts %v; want two failures then the stop", attempts)
	}

	_, err := StopDaemonSet(context.Background(), fake.NewClientset(), ds, &ds.Spec.Template, nil)
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "stopping daemonset shop/web") {
		t.Errorf("StopDaemonSet of a missing DaemonSet = %v, want a wrapped NotFound", err)
	}
}

func TestRestartDaemonSet(t *testing.T) {
	ctx := context.Background()
	for _, dryRun := range []DryRun{DryRunNone, DryRunServer, DryRunClient} {
		t.Run(string(dryRun), func(t *testing.T) {
			ds := webDaemonSet(podTemplate("web:2", map[string]string{"keep": "me"}))
			c := fake.NewClientset(ds.DeepCopy())
			c.ClearActions()
			out, err := RestartDaemonSet(ctx, c, ds, restartTime, dryRun)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Spec.Template.Annotations; got[workload.RestartedAtAnnotation] != restartStamp || got["keep"] != "me" {
				t.Errorf("returned template annotations = %v", got)
			}
			if _, ok := ds.Spec.Template.Annotations[workload.RestartedAtAnnotation]; ok {
				t.Error("RestartDaemonSet modified its input")
			}
			if dryRun == DryRunClient {
				if len(c.Actions()) != 0 {
					t.Errorf("client dry run sent %v", c.Actions())
				}
				return
			}
			p := onlyPatch(t, c.Actions())
			if p.GetPatchType() != types.StrategicMergePatchType || p.GetResource() != daemonSetsGVR || p.GetName() != "web" {
				t.Errorf("patch %s of %s %s", p.GetPatchType(), p.GetResource(), p.GetName())
			}
			if !jsonEqual(t, p.GetPatch(), `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"`+restartStamp+`"}}}}}`) {
				t.Errorf("patch = %s, want only the restartedAt annotation", p.GetPatch())
			}
			wantDry := []string(nil)
			if dryRun == DryRunServer {
				wantDry = []string{metav1.DryRunAll}
			}
			if opts := p.GetPatchOptions(); !reflect.DeepEqual(opts.DryRun, wantDry) || opts.FieldManager != workload.FieldManager {
				t.Errorf("options = %+v, want DryRun %v", opts, wantDry)
			}
		})
	}
	ds := webDaemonSet(podTemplate("web:2", nil))
	if _, err := RestartDaemonSet(ctx, fake.NewClientset(), ds, restartTime, DryRunNone); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "restarting daemonset shop/web") {
		t.Errorf("RestartDaemonSet of a missing DaemonSet = %v, want a wrapped NotFound", err)
	}
}

// dsRollbackFixture: web-r2 (web:1, restarted once) precedes the guarded web-r3 (web:2).
func newDSRollbackFixture(t *testing.T) (*fake.Clientset, *appsv1.DaemonSet, *corev1.PodTemplateSpec) {
	guarded := podTemplate("web:2", nil)
	ds := webDaemonSet(guarded)
	c := fake.NewClientset(ds.DeepCopy(), dsRevision(t, "web-r1", 1, podTemplate("web:0", nil)),
		dsRevision(t, "web-r2", 2, restartedTemplate()), dsRevision(t, "web-r3", 3, guarded))
	c.ClearActions()
	return c, ds, &guarded
}

func TestRollbackDaemonSet(t *testing.T) {
	c, ds, guarded := newDSRollbackFixture(t)
	revisions, err := ControllerRevisions(context.Background(), c, ds)
	if err != nil {
		t.Fatal(err)
	}
	previous := PreviousRevision(ds, revisions, guarded)
	if previous == nil || previous.Name != "web-r2" {
		t.Fatalf("PreviousRevision = %s, want web-r2", names(previous))
	}
	c.ClearActions()
	if err := RollbackDaemonSet(context.Background(), c, ds, previous, guarded, nil); err != nil {
		t.Fatal(err)
	}
	p := onlyPatch(t, c.Actions())
	var wantBody map[string]any
	mustUnmarshal(t, previous.Data.Raw, &wantBody)
	wantBody["metadata"] = map[string]any{"resourceVersion": "42"}
	if p.GetPatchType() != types.StrategicMergePatchType || p.GetResource() != daemonSetsGVR || !jsonEqual(t, p.GetPatch(), mustMarshal(t, wantBody)) {
		t.Errorf("patch %s of %s: %s, want the revision's data conditional on 42", p.GetPatchType(), p.GetResource(), p.GetPatch())
	}
	stored := storedDaemonSet(t, c)
	if !equality.Semantic.DeepEqual(stored.Spec.Template, restartedTemplate()) {
		t.Errorf("stored template\n%+v\nwant web-r2's\n%+v", stored.Spec.Template, restartedTemplate())
	}
	if stored.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || stored.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.StrVal != "10%" {
		t.Errorf("the rollback changed more than the template: %+v", stored.Spec.UpdateStrategy)
	}
}

func TestRollbackDaemonSetRefusedAndConflicts(t *testing.T) {
	c, ds, guarded := newDSRollbackFixture(t)
	previous := dsRevision(t, "web-r2", 2, restartedTemplate())
	changed := ds.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "web:3"
	if err := RollbackDaemonSet(context.Background(), c, changed, previous, guarded, nil); !errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "DaemonSet") {
		t.Fatalf("RollbackDaemonSet = %v, want ErrRollbackRefused naming the DaemonSet", err)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("a refused rollback sent %v", c.Actions())
	}

	conflictFirst(t, c, daemonSetsGVR, func(obj runtime.Object) { obj.(*appsv1.DaemonSet).ResourceVersion = "43" })
	if err := RollbackDaemonSet(context.Background(), c, ds, previous, guarded, nil); err != nil {
		t.Fatal(err)
	}
	if got := verbs(c.Actions()); got != "patch,get,patch" {
		t.Errorf("actions = %s, want patch,get,patch", got)
	}
	if img := storedDaemonSet(t, c).Spec.Template.Spec.Containers[0].Image; img != "web:1" {
		t.Errorf("stored image %s, want web:1", img)
	}

	d, dds, dguarded := newDSRollbackFixture(t)
	d.PrependReactor("patch", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, "web", errors.New("no patch"))
	})
	if err := RollbackDaemonSet(context.Background(), d, dds, previous, dguarded, nil); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rolling back daemonset shop/web") {
		t.Errorf("RollbackDaemonSet = %v, want a wrapped Forbidden", err)
	}
	if err := RollbackDaemonSet(context.Background(), d, dds, nil, dguarded, nil); err == nil {
		t.Error("RollbackDaemonSet without a revision succeeded")
	}
}
