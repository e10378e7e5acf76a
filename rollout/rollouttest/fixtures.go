// Package rollouttest builds the objects of one Deployment "web" in namespace
// "shop" (its ReplicaSets, pods, Service and EndpointSlice) for the tests of
// rollout/ and its sub-packages: small, valid fixtures in one place.
package rollouttest

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// NS is the namespace of every fixture.
const NS = "shop"

// T0 is when the tests' fake clocks start.
var T0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// At is T0 plus seconds.
func At(seconds float64) time.Time { return T0.Add(time.Duration(seconds * float64(time.Second))) }

// WebDeployment is web (2 replicas) at revision, with the given generation,
// observed generation and status.
func WebDeployment(generation, observed int64, revision string, status appsv1.DeploymentStatus) *appsv1.Deployment {
	status.ObservedGeneration = observed
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: NS, Generation: generation, UID: "dep-uid",
			Annotations: map[string]string{workload.RevisionAnnotation: revision}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Containers:                    []corev1.Container{{Name: "app", Image: "web:1"}},
				},
			},
		},
		Status: status,
	}
}

// CompleteStatus is web's status once every replica is updated and available.
func CompleteStatus() appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}
}

// WebReplicaSet is web's ReplicaSet web-HASH of revision, controlled by web.
func WebReplicaSet(hash, revision string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: NS, UID: types.UID("rs-uid-" + hash),
			Labels:          map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash},
			Annotations:     map[string]string{workload.RevisionAnnotation: revision},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2)},
	}
}

// PodTemplate is web's pod template running image, with template annotations.
func PodTemplate(image string, annotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: annotations},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			Containers:                    []corev1.Container{{Name: "app", Image: image}},
		},
	}
}

// TemplatedDeployment is web at revision, running template.
func TemplatedDeployment(revision string, template corev1.PodTemplateSpec) *appsv1.Deployment {
	d := WebDeployment(3, 3, revision, CompleteStatus())
	d.Spec.Template = template
	return d
}

// TemplatedReplicaSet is web's ReplicaSet for revision: template plus its pod-template-hash label.
func TemplatedReplicaSet(hash, revision string, template corev1.PodTemplateSpec) *appsv1.ReplicaSet {
	rs := WebReplicaSet(hash, revision)
	t := *template.DeepCopy()
	t.Labels = map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash}
	for k, v := range template.Labels {
		t.Labels[k] = v
	}
	rs.Spec.Template = t
	return rs
}

// WebPod is a running, ready pod controlled by web's ReplicaSet with that hash.
func WebPod(name, hash string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: NS, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-" + hash,
				UID: types.UID("rs-uid-" + hash), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30), Containers: []corev1.Container{{Name: "app", Image: "web:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
}

// WebService selects web's pods.
func WebService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: NS},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

// Endpoint is one pod's endpoint conditions in WebSlice.
type Endpoint struct {
	Pod                         string
	Ready, Serving, Terminating bool
}

// WebSlice is the EndpointSlice of WebService listing the endpoints.
func WebSlice(endpoints ...Endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x1y2z", Namespace: NS, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i, e := range endpoints {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"10.0.0." + string(rune('1'+i))},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.Ready), Serving: ptr.To(e.Serving), Terminating: ptr.To(e.Terminating)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: NS, Name: e.Pod},
		})
	}
	return s
}

// EP is an Endpoint of pod with the three conditions.
func EP(pod string, ready, serving, terminating bool) Endpoint {
	return Endpoint{Pod: pod, Ready: ready, Serving: serving, Terminating: terminating}
}
