package cli

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// syncBuffer is an output stream the test reads while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeSignals delivers signals to a command without signalling the test process.
type fakeSignals struct {
	mu         sync.Mutex
	registered map[chan<- os.Signal][]os.Signal
}

func (f *fakeSignals) Notify(c chan<- os.Signal, sig ...os.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registered == nil {
		f.registered = map[chan<- os.Signal][]os.Signal{}
	}
	f.registered[c] = append(f.registered[c], sig...)
}

func (f *fakeSignals) Stop(c chan<- os.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.registered, c)
}

// send delivers sig as the OS would: only to a channel registered for it, and
// without blocking (a full channel misses it).
func (f *fakeSignals) send(sig os.Signal) (delivered bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, sigs := range f.registered {
		if slices.Contains(sigs, sig) {
			select {
			case c <- sig:
				delivered = true
			default:
			}
		}
	}
	return delivered
}

// guardedCluster is Deployment "web" in "shop" (rollouttest's fixtures) as a
// command sees it: kubectl's resource builder resolves deploy/web against a fake
// API server, preflight and the guard work on a fake clientset, on a fake clock.
// Its methods play the Deployment controller and the kubelet, and wait for the
// guard's progress lines on stderr before each next step.
type guardedCluster struct {
	rollouttest.FakeAPI
	t       *testing.T
	ctx     context.Context
	api     *fakeAPIServer
	client  *fake.Clientset
	clock   *clocktesting.FakeClock
	signals *fakeSignals
	stdout  *syncBuffer
	stderr  *syncBuffer
	// endpoints is what the EndpointSlice lists now, in order.
	endpoints []rollouttest.Endpoint
}

var deploymentsResource = appsv1.SchemeGroupVersion.WithResource("deployments")

// newGuardedCluster serves d with objects and an EndpointSlice of endpoints.
func newGuardedCluster(t *testing.T, d *appsv1.Deployment, endpoints []rollouttest.Endpoint, objects ...runtime.Object) *guardedCluster {
	t.Helper()
	c := &guardedCluster{
		t: t, ctx: context.Background(),
		api:     newFakeAPIServer(t),
		clock:   clocktesting.NewFakeClock(rollouttest.T0),
		signals: &fakeSignals{},
		stdout:  &syncBuffer{}, stderr: &syncBuffer{},
		endpoints: endpoints,
	}
	c.api.addDeployment(*d.DeepCopy())
	c.client = fake.NewClientset(append(objects, d, rollouttest.WebSlice(endpoints...))...)
	c.FakeAPI = rollouttest.FakeAPI{T: t, Client: c.client, Clock: c.clock}
	// The API server bumps metadata.generation on every change of the spec, in the
	// same write: the patch is worked out on a scratch tracker, so that watchers
	// never see the patched object at its old generation.
	c.client.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tracker := c.client.Tracker()
		before, err := tracker.Get(deploymentsResource, a.GetNamespace(), a.(k8stesting.PatchAction).GetName())
		if err != nil {
			return true, nil, err
		}
		scratch := k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
		if err := scratch.Add(before); err != nil {
			return true, nil, err
		}
		_, obj, err := k8stesting.ObjectReaction(scratch)(a)
		if err != nil {
			return true, nil, err
		}
		after := obj.(*appsv1.Deployment)
		if !equality.Semantic.DeepEqual(before.(*appsv1.Deployment).Spec, after.Spec) {
			after.Generation++
		}
		if err := tracker.Update(deploymentsResource, after, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, after, nil
	})
	return c
}

// start runs the command tree with args (on deploy/web in "shop", plain
// progress) and returns its result once it ends.
func (c *guardedCluster) start(args ...string) <-chan cmdResult {
	c.t.Helper()
	clients := func(*genericclioptions.ConfigFlags, time.Duration) (kubernetes.Interface, error) {
		return c.client, nil
	}
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: c.stdout, ErrOut: c.stderr}
	root := newRootCmd(streams, BuildInfo{}, Deps{Clients: clients, Clock: c.clock, Signals: c.signals})
	root.SetArgs(append(args, "-n", rollouttest.NS, "--progress=plain", "--kubeconfig", c.api.Kubeconfig, "--cache-dir", c.t.TempDir()))
	done := make(chan cmdResult, 1)
	go func() {
		code := Execute(root, streams)
		done <- cmdResult{code: code, stdout: c.stdout.String(), stderr: c.stderr.String()}
	}()
	return done
}

// result waits for the command to end.
func (c *guardedCluster) result(done <-chan cmdResult) cmdResult {
	c.t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		c.t.Fatalf("the command did not end\nstdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
	}
	return cmdResult{}
}

// waitUntil polls cond with a generous deadline; it never asserts on timing.
func (c *guardedCluster) waitUntil(what string, cond func() bool) {
	c.t.Helper()
	err := wait.PollUntilContextTimeout(c.ctx, 2*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		c.t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, c.stdout, c.stderr)
	}
}

// waitProgress waits until the guard printed a progress line containing line.
func (c *guardedCluster) waitProgress(line string) {
	c.t.Helper()
	c.waitUntil("progress line "+line, func() bool { return strings.Contains(c.stderr.String(), line) })
}

// signal delivers sig once the command listens for it.
func (c *guardedCluster) signal(sig os.Signal) {
	c.t.Helper()
	c.waitUntil("the command listening for "+signalName(sig), func() bool { return c.signals.send(sig) })
}

func (c *guardedCluster) step(d time.Duration) { c.clock.Step(d) }

func (c *guardedCluster) stored() *appsv1.Deployment {
	c.t.Helper()
	return rollouttest.StoredDeployment(c.t, c.client)
}

// setEndpoint lists pod in the EndpointSlice with these conditions.
func (c *guardedCluster) setEndpoint(pod string, ready, serving, terminating bool) {
	c.t.Helper()
	ep := rollouttest.EP(pod, ready, serving, terminating)
	i := slices.IndexFunc(c.endpoints, func(e rollouttest.Endpoint) bool { return e.Pod == pod })
	if i < 0 {
		c.endpoints = append(c.endpoints, ep)
	} else {
		c.endpoints[i] = ep
	}
	c.updateSlice()
}

// removeEndpoint takes pod out of the EndpointSlice.
func (c *guardedCluster) removeEndpoint(pod string) {
	c.t.Helper()
	c.endpoints = slices.DeleteFunc(c.endpoints, func(e rollouttest.Endpoint) bool { return e.Pod == pod })
	c.updateSlice()
}

func (c *guardedCluster) updateSlice() {
	c.t.Helper()
	if _, err := c.client.DiscoveryV1().EndpointSlices(rollouttest.NS).Update(c.ctx, rollouttest.WebSlice(c.endpoints...), metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// drainByContract takes pod through the contract, a second a step: deleted,
// not ready, not serving, endpoint removed, exit 0, gone.
func (c *guardedCluster) drainByContract(pod string) {
	c.t.Helper()
	c.step(time.Second)
	c.DeletePodGracefully(pod, 30)
	c.waitProgress("pod " + pod + ": deletion requested")
	c.step(time.Second)
	c.setEndpoint(pod, false, true, true)
	c.waitProgress("pod " + pod + ": endpoint not ready")
	c.step(time.Second)
	c.setEndpoint(pod, false, false, true)
	c.waitProgress("pod " + pod + ": endpoint not serving")
	c.step(time.Second)
	c.removeEndpoint(pod)
	c.waitProgress("pod " + pod + ": endpoint removed")
	c.step(time.Second)
	c.TerminateContainer(pod, 0, "Completed")
	c.waitProgress("pod " + pod + ": container app exited 0")
	c.step(time.Second)
	c.RemovePod(pod)
	c.waitProgress("pod " + pod + ": gone")
}

// sigkill deletes pod; its app ignores SIGTERM and the kubelet kills it at the
// grace deadline.
func (c *guardedCluster) sigkill(pod string) {
	c.t.Helper()
	c.step(time.Second)
	c.DeletePodGracefully(pod, 30)
	c.waitProgress("pod " + pod + ": deletion requested")
	c.step(30 * time.Second)
	c.TerminateContainer(pod, 137, "Error")
}

// rollOutRevision2 is the Deployment controller's answer to a change of the
// template: ReplicaSet web-bbb of revision 2 and its first pod.
func (c *guardedCluster) rollOutRevision2() {
	c.t.Helper()
	d := c.stored()
	if _, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Create(c.ctx, rollouttest.TemplatedReplicaSet("bbb", "2", d.Spec.Template), metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.client.CoreV1().Pods(rollouttest.NS).Create(c.ctx, rollouttest.WebPod("web-bbb-1", "bbb"), metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	d.Annotations[workload.RevisionAnnotation] = "2"
	c.updateDeployment(d, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
}

// completeRollout is the controller's last status: every replica updated and available.
func (c *guardedCluster) completeRollout() {
	c.t.Helper()
	c.updateDeployment(c.stored(), rollouttest.CompleteStatus())
}

// updateDeployment stores d with status, observed at its generation.
func (c *guardedCluster) updateDeployment(d *appsv1.Deployment, status appsv1.DeploymentStatus) {
	c.t.Helper()
	deployments := c.client.AppsV1().Deployments(rollouttest.NS)
	d, err := deployments.Update(c.ctx, d, metav1.UpdateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	d.Status = status
	d.Status.ObservedGeneration = d.Generation
	if _, err := deployments.UpdateStatus(c.ctx, d, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// servingTemplate is web's pod template as preflight passes it: a readiness
// probe and a preStop hook that triggers draining, on the port the Service targets.
func servingTemplate(image string) corev1.PodTemplateSpec {
	t := rollouttest.PodTemplate(image, nil)
	http := intstr.FromString("http")
	t.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}
	t.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: http}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
	t.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: http},
	}}
	return t
}

// restartable is web at rest at revision 1 (web-aaa-1 and -2 serving), running template.
func restartable(t *testing.T, template corev1.PodTemplateSpec) *guardedCluster {
	d := rollouttest.TemplatedDeployment("1", template)
	d.Generation, d.Status.ObservedGeneration = 1, 1
	return newGuardedCluster(t, d,
		[]rollouttest.Endpoint{rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", true, true, false)},
		rollouttest.TemplatedReplicaSet("aaa", "1", template),
		rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-aaa-2", "aaa"), rollouttest.WebService())
}

// rollingOut is web rolling out from revision 1 (prev) to revision 2 (next):
// web-aaa-1 and -2 are old and serving, web-bbb-1 is new.
func rollingOut(t *testing.T, next, prev corev1.PodTemplateSpec) *guardedCluster {
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
	d.Spec.Template = next
	return newGuardedCluster(t, d,
		[]rollouttest.Endpoint{rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", true, true, false)},
		rollouttest.TemplatedReplicaSet("aaa", "1", prev), rollouttest.TemplatedReplicaSet("bbb", "2", next),
		rollouttest.WebPod("web-aaa-1", "aaa"), rollouttest.WebPod("web-aaa-2", "aaa"), rollouttest.WebPod("web-bbb-1", "bbb"), rollouttest.WebService())
}

// atRest is web with its rollout to revision 3 complete.
func atRest(t *testing.T) *guardedCluster {
	d := rollouttest.TemplatedDeployment("3", servingTemplate("web:3"))
	return newGuardedCluster(t, d,
		[]rollouttest.Endpoint{rollouttest.EP("web-ccc-1", true, true, false), rollouttest.EP("web-ccc-2", true, true, false)},
		rollouttest.TemplatedReplicaSet("ccc", "3", d.Spec.Template),
		rollouttest.WebPod("web-ccc-1", "ccc"), rollouttest.WebPod("web-ccc-2", "ccc"), rollouttest.WebService())
}
