package policy

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

var podTemplate = rollouttest.PodTemplate

func TestOnlyRestarted(t *testing.T) {
	restarted := func(image, at string, extra map[string]string) *corev1.PodTemplateSpec {
		a := map[string]string{}
		if at != "" {
			a[workload.RestartedAtAnnotation] = at
		}
		for k, v := range extra {
			a[k] = v
		}
		tpl := podTemplate(image, a)
		return &tpl
	}
	withHash := func(tpl *corev1.PodTemplateSpec, hash string) *corev1.PodTemplateSpec {
		c := tpl.DeepCopy()
		c.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
		return c
	}
	nilAnnotations := podTemplate("web:1", nil)
	tests := []struct {
		name string
		a, b *corev1.PodTemplateSpec
		want bool
	}{
		{"identical", restarted("web:1", "", nil), restarted("web:1", "", nil), true},
		{"restartedAt set", restarted("web:1", "2025-01-01T00:00:00Z", nil), restarted("web:1", "", nil), true},
		{"restartedAt changed", restarted("web:1", "2025-01-02T00:00:00Z", nil), restarted("web:1", "2025-01-01T00:00:00Z", nil), true},
		{"restartedAt vs nil annotations", restarted("web:1", "2025-01-02T00:00:00Z", nil), &nilAnnotations, true},
		{"pod-template-hash ignored", restarted("web:1", "2025-01-02T00:00:00Z", nil), withHash(restarted("web:1", "", nil), "abc123"), true},
		{"pod-template-hash on both, different", withHash(restarted("web:1", "", nil), "x"), withHash(restarted("web:1", "", nil), "y"), true},
		{"image changed", restarted("web:2", "", nil), restarted("web:1", "", nil), false},
		{"image and restartedAt changed", restarted("web:2", "2025-01-02T00:00:00Z", nil), withHash(restarted("web:1", "2025-01-01T00:00:00Z", nil), "h"), false},
		{"another annotation changed", restarted("web:1", "2025-01-02T00:00:00Z", map[string]string{"checksum/config": "b"}), restarted("web:1", "", map[string]string{"checksum/config": "a"}), false},
		{"another annotation added", restarted("web:1", "", map[string]string{"checksum/config": "a"}), restarted("web:1", "", nil), false},
		{"a label changed", func() *corev1.PodTemplateSpec { t := restarted("web:1", "", nil); t.Labels["tier"] = "front"; return t }(), restarted("web:1", "", nil), false},
		{"grace changed", func() *corev1.PodTemplateSpec {
			t := restarted("web:1", "", nil)
			t.Spec.TerminationGracePeriodSeconds = ptr.To[int64](60)
			return t
		}(), restarted("web:1", "", nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a0, b0 := tc.a.DeepCopy(), tc.b.DeepCopy()
			if got := OnlyRestarted(tc.a, tc.b); got != tc.want {
				t.Errorf("OnlyRestarted = %v, want %v", got, tc.want)
			}
			if got := OnlyRestarted(tc.b, tc.a); got != tc.want {
				t.Errorf("OnlyRestarted (swapped) = %v, want %v", got, tc.want)
			}
			if !equality.Semantic.DeepEqual(a0, tc.a) || !equality.Semantic.DeepEqual(b0, tc.b) {
				t.Error("OnlyRestarted modified its arguments")
			}
		})
	}
}

func TestResolve(t *testing.T) {
	image1, image2 := podTemplate("web:1", nil), podTemplate("web:2", nil)
	restarted := podTemplate("web:1", map[string]string{workload.RestartedAtAnnotation: "2025-03-04T10:00:00Z"})
	tests := []struct {
		name              string
		onBreach          Action
		current, previous *corev1.PodTemplateSpec
		want              Action
	}{
		{"unset is none", "", &image2, &image1, ActionNone},
		{"none", ActionNone, &image2, &image1, ActionNone},
		{"pause", ActionPause, &image2, &image1, ActionPause},
		{"rollback", ActionRollback, &restarted, &image1, ActionRollback},
		{"auto rolls back an image change", ActionAuto, &image2, &image1, ActionRollback},
		{"auto pauses a restart", ActionAuto, &restarted, &image1, ActionPause},
		{"auto pauses without a previous revision", ActionAuto, &image2, nil, ActionPause},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.onBreach, tc.current, tc.previous); got != tc.want {
				t.Errorf("Resolve(%q) = %q, want %q", tc.onBreach, got, tc.want)
			}
		})
	}
}
