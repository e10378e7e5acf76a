package rollouttest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// FakeAPI changes web's pods and EndpointSlice in a fake clientset the way the
// API server and the kubelet would, on the test's clock. The guard's tests and
// the commands' tests embed it.
type FakeAPI struct {
	T      *testing.T
	Client *fake.Clientset
	Clock  clock.PassiveClock
}

// UpdatePod reads the pod, lets mutate change it and writes it back.
func (a FakeAPI) UpdatePod(name string, mutate func(*corev1.Pod)) {
	a.T.Helper()
	pods := a.Client.CoreV1().Pods(NS)
	p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		a.T.Fatal(err)
	}
	mutate(p)
	if _, err := pods.Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		a.T.Fatal(err)
	}
}

// DeletePodGracefully sets what the API server sets on a graceful delete.
func (a FakeAPI) DeletePodGracefully(name string, grace int64) {
	a.T.Helper()
	a.UpdatePod(name, func(p *corev1.Pod) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(a.Clock.Now().Add(time.Duration(grace) * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To(grace)
	})
}

// TerminateContainer records the pod's container as exited now.
func (a FakeAPI) TerminateContainer(name string, code int32, reason string) {
	a.T.Helper()
	a.UpdatePod(name, func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].Ready = false
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(a.Clock.Now()),
		}}
	})
}

// RemovePod is the kubelet's final delete.
func (a FakeAPI) RemovePod(name string) {
	a.T.Helper()
	if err := a.Client.CoreV1().Pods(NS).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		a.T.Fatal(err)
	}
}

// SetSlice makes WebSlice list exactly these endpoints.
func (a FakeAPI) SetSlice(endpoints ...Endpoint) {
	a.T.Helper()
	if _, err := a.Client.DiscoveryV1().EndpointSlices(NS).Update(context.Background(), WebSlice(endpoints...), metav1.UpdateOptions{}); err != nil {
		a.T.Fatal(err)
	}
}
