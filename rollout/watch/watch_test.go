package watch

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSlimKeepsWhatTheGuardReads(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	grace := int64(45)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{"app": "web"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.PodSpec{
			NodeName: "node-1", TerminationGracePeriodSeconds: &grace,
			Volumes:        []corev1.Volume{{Name: "data"}},
			InitContainers: []corev1.Container{{Name: "istio-proxy", RestartPolicy: &always, Image: "proxy", Env: []corev1.EnvVar{{Name: "A"}}}},
			Containers:     []corev1.Container{{Name: "app", Image: "app", Env: []corev1.EnvVar{{Name: "B"}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
	out, err := slim(pod)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	want := corev1.PodSpec{NodeName: "node-1", TerminationGracePeriodSeconds: &grace,
		InitContainers: []corev1.Container{{Name: "istio-proxy", RestartPolicy: &always}},
		Containers:     []corev1.Container{{Name: "app"}}}
	if !equality.Semantic.DeepEqual(got.Spec, want) {
		t.Errorf("spec = %+v, want %+v", got.Spec, want)
	}
	if got.ManagedFields != nil || got.Labels["app"] != "web" || got.Status.PodIP != "10.0.0.1" {
		t.Errorf("metadata or status changed: %+v", got.ObjectMeta)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kcm"}}},
		Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}}}
	out, _ = slim(rs)
	if got := out.(*appsv1.ReplicaSet); got.ManagedFields != nil || got.Spec.Template.Spec.Containers[0].Image != "app:1" {
		t.Errorf("replicaset = %+v: want its template kept (rollback reads it), managedFields gone", got)
	}
}
