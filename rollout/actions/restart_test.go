package actions

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

var restartTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const restartStamp = "2025-01-02T03:04:05Z"

func restartDeployment(templateAnnotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 4, Annotations: map[string]string{workload.RevisionAnnotation: "4"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: templateAnnotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1"}}},
			},
		},
	}
}

// applyPatch applies a strategic merge patch as the API server would.
func applyPatch(t *testing.T, d *appsv1.Deployment, patch []byte) *appsv1.Deployment {
	t.Helper()
	original, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := strategicpatch.StrategicMergePatch(original, patch, appsv1.Deployment{})
	if err != nil {
		t.Fatalf("applying patch %s: %v", patch, err)
	}
	var out appsv1.Deployment
	if err := json.Unmarshal(patched, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestRestartPatch(t *testing.T) {
	t.Run("sets only the restartedAt annotation", func(t *testing.T) {
		patch, err := RestartPatch(restartDeployment(nil), restartTime)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(patch, &got); err != nil {
			t.Fatalf("patch %s is not JSON: %v", patch, err)
		}
		_ = json.Unmarshal([]byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"`+restartStamp+`"}}}}}`), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("patch = %s, want %v", patch, want)
		}
	})

	t.Run("RFC 3339 in the time's zone, as kubectl", func(t *testing.T) {
		zone := time.FixedZone("CET", 3600)
		d := applyPatch(t, restartDeployment(nil), mustPatch(t, restartDeployment(nil), restartTime.In(zone)))
		if got := d.Spec.Template.Annotations[workload.RestartedAtAnnotation]; got != "2025-01-02T04:04:05+01:00" {
			t.Errorf("restartedAt = %q", got)
		}
		if _, err := time.Parse(time.RFC3339, d.Spec.Template.Annotations[workload.RestartedAtAnnotation]); err != nil {
			t.Error(err)
		}
	})

	t.Run("existing template annotations are kept", func(t *testing.T) {
		orig := restartDeployment(map[string]string{"prometheus.io/scrape": "true", workload.RestartedAtAnnotation: "2020-01-01T00:00:00Z"})
		patch := mustPatch(t, orig, restartTime)
		out := applyPatch(t, orig, patch)
		want := map[string]string{"prometheus.io/scrape": "true", workload.RestartedAtAnnotation: restartStamp}
		if !reflect.DeepEqual(out.Spec.Template.Annotations, want) {
			t.Errorf("template annotations after patch %s = %v, want %v", patch, out.Spec.Template.Annotations, want)
		}
		if orig.Spec.Template.Annotations[workload.RestartedAtAnnotation] != "2020-01-01T00:00:00Z" {
			t.Error("RestartPatch modified its input")
		}
		if !reflect.DeepEqual(out.Spec.Template.Spec, orig.Spec.Template.Spec) || !reflect.DeepEqual(out.Annotations, orig.Annotations) {
			t.Error("patch changed more than the template annotation")
		}
	})

	t.Run("paused is refused", func(t *testing.T) {
		d := restartDeployment(nil)
		d.Spec.Paused = true
		patch, err := RestartPatch(d, restartTime)
		if !errors.Is(err, ErrPaused) || patch != nil {
			t.Errorf("RestartPatch(paused) = %s, %v; want nil, ErrPaused", patch, err)
		}
	})
}

func mustPatch(t *testing.T, d *appsv1.Deployment, now time.Time) []byte {
	t.Helper()
	p, err := RestartPatch(d, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRestart(t *testing.T) {
	ctx := context.Background()

	t.Run("patches the deployment", func(t *testing.T) {
		d := restartDeployment(map[string]string{"keep": "me"})
		client := fake.NewClientset(d.DeepCopy())
		client.ClearActions()
		out, err := Restart(ctx, client, d, restartTime, DryRunNone)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Spec.Template.Annotations[workload.RestartedAtAnnotation]; got != restartStamp {
			t.Errorf("returned restartedAt = %q, want %q", got, restartStamp)
		}
		patch := onlyPatch(t, client.Actions())
		stored, err := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := stored.Spec.Template.Annotations; got[workload.RestartedAtAnnotation] != restartStamp || got["keep"] != "me" {
			t.Errorf("stored template annotations = %v", got)
		}
		if patch.GetPatchType() != types.StrategicMergePatchType {
			t.Errorf("patch type = %s, want strategic merge", patch.GetPatchType())
		}
		if patch.GetNamespace() != "shop" || patch.GetName() != "web" || patch.GetResource().Resource != "deployments" {
			t.Errorf("patched %s %s/%s", patch.GetResource().Resource, patch.GetNamespace(), patch.GetName())
		}
		if opts := patch.GetPatchOptions(); len(opts.DryRun) != 0 {
			t.Errorf("DryRun = %v, want none", opts.DryRun)
		}
	})

	t.Run("server dry run sends DryRun=All", func(t *testing.T) {
		d := restartDeployment(nil)
		client := fake.NewClientset(d.DeepCopy())
		client.ClearActions()
		out, err := Restart(ctx, client, d, restartTime, DryRunServer)
		if err != nil {
			t.Fatal(err)
		}
		patch := onlyPatch(t, client.Actions())
		if opts := patch.GetPatchOptions(); !reflect.DeepEqual(opts.DryRun, []string{metav1.DryRunAll}) {
			t.Errorf("DryRun = %v, want [All]", opts.DryRun)
		}
		// The fake applies dry runs; a server returns the object as it would be.
		if out.Spec.Template.Annotations[workload.RestartedAtAnnotation] != restartStamp {
			t.Errorf("returned template annotations = %v", out.Spec.Template.Annotations)
		}
	})

	t.Run("client dry run sends nothing", func(t *testing.T) {
		d := restartDeployment(nil)
		client := fake.NewClientset(d.DeepCopy())
		client.ClearActions()
		out, err := Restart(ctx, client, d, restartTime, DryRunClient)
		if err != nil {
			t.Fatal(err)
		}
		if actions := client.Actions(); len(actions) != 0 {
			t.Errorf("client dry run sent %d requests: %v", len(actions), actions)
		}
		if out.Spec.Template.Annotations[workload.RestartedAtAnnotation] != restartStamp {
			t.Errorf("returned template annotations = %v", out.Spec.Template.Annotations)
		}
		if d.Spec.Template.Annotations != nil {
			t.Errorf("client dry run modified its input: %v", d.Spec.Template.Annotations)
		}
	})

	t.Run("paused is refused before any request", func(t *testing.T) {
		for _, dry := range []DryRun{DryRunNone, DryRunClient, DryRunServer} {
			d := restartDeployment(nil)
			d.Spec.Paused = true
			client := fake.NewClientset(d.DeepCopy())
			client.ClearActions()
			out, err := Restart(ctx, client, d, restartTime, dry)
			if !errors.Is(err, ErrPaused) || out != nil {
				t.Errorf("dry run %s: Restart(paused) = %v, %v; want nil, ErrPaused", dry, out, err)
			}
			if actions := client.Actions(); len(actions) != 0 {
				t.Errorf("dry run %s: sent %v", dry, actions)
			}
		}
	})

	t.Run("a missing deployment is an error naming it", func(t *testing.T) {
		client := fake.NewClientset()
		_, err := Restart(ctx, client, restartDeployment(nil), restartTime, DryRunNone)
		if err == nil || !strings.Contains(err.Error(), "shop/web") {
			t.Errorf("err = %v, want an error naming shop/web", err)
		}
	})
}

func onlyPatch(t *testing.T, actions []k8stesting.Action) k8stesting.PatchActionImpl {
	t.Helper()
	if len(actions) != 1 {
		t.Fatalf("want exactly one request, got %d: %v", len(actions), actions)
	}
	patch, ok := actions[0].(k8stesting.PatchActionImpl)
	if !ok || actions[0].GetVerb() != "patch" {
		t.Fatalf("want a patch, got %#v", actions[0])
	}
	return patch
}
