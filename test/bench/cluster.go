package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

const drainAppImage = "safe-rollout.local/drain-app:dev"

// workload is a Deployment (and its Service) on kwok's fake nodes or the real one.
type workload struct {
	name, namespace string
	replicas        int32
	grace           int64
	simulated       bool
	// weights of kwok's exit stages (lab/kwok/kwok.yaml): clean drain vs SIGKILL
	cleanWeight, sigkillWeight int
	args                       []string // the drain-app's, on the real node
	preStop                    bool     // an httpGet preStop hook to the drain-app's /admin/drain
}

func (w workload) objects() (*appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{"app": w.name}
	annotations := map[string]string{}
	spec := corev1.PodSpec{TerminationGracePeriodSeconds: &w.grace}
	if w.simulated {
		annotations["bench.safe-rollout.io/clean-weight"] = fmt.Sprint(w.cleanWeight)
		annotations["bench.safe-rollout.io/sigkill-weight"] = fmt.Sprint(w.sigkillWeight)
		spec.NodeSelector = map[string]string{"type": "kwok"}
		spec.Tolerations = []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	spec.Containers = []corev1.Container{{
		Name: "app", Image: drainAppImage, ImagePullPolicy: corev1.PullNever, Args: w.args,
		Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health/ready", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1,
		},
	}}
	if w.preStop {
		spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/admin/drain", Port: intstr.FromInt32(8080)}}}
	}
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if w.replicas < 4 { // one at a time, as a small service is rolled
		strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: w.namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &w.replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Strategy: strategy,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Spec: spec},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: w.namespace},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	return d, svc
}

// createNamespace creates a fresh namespace (deleting a leftover of an earlier run first).
func (b *bench) createNamespace(ctx context.Context, name string) error {
	if err := b.deleteNamespace(ctx, name); err != nil {
		return err
	}
	_, err := b.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return err
}

// deleteNamespace deletes a namespace and waits until it is gone (kwok must run:
// it plays the pods' termination).
func (b *bench) deleteNamespace(ctx context.Context, name string) error {
	err := b.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := b.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("namespace %s still there after 5 minutes", name)
}

func (b *bench) create(ctx context.Context, w workload) error {
	d, svc := w.objects()
	if _, err := b.client.CoreV1().Services(w.namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := b.client.AppsV1().Deployments(w.namespace).Create(ctx, d, metav1.CreateOptions{})
	return err
}

// observed is what the bench's own watcher saw happen in one namespace, by its
// receipt time: it is the independent witness the plugin is measured against.
type observed struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	deploys map[string]*appsv1.Deployment
	pods    map[string]*corev1.Pod // live pods by UID
	// kills are the pods seen terminated with exit 137, in order
	kills []podExit
	// exits holds each pod's final terminated exit code by UID
	exits map[string]int32
	// pausedAt is when a Deployment was first seen with spec.paused (zero: not yet)
	pausedAt map[string]time.Time
	// stamps maps a pod resourceVersion written by kwok to the time kwok wrote it
	stamps map[string]time.Time
	// lastStamp is the newest kwok write per pod UID (a later write by someone
	// else keeps the stamp: only a new stamp marks a kwok write)
	lastStamp map[string]time.Time
	// ownLag collects this watcher's receipt time minus kwok's write time
	ownLag []time.Duration
	stop   context.CancelFunc
}

type podExit struct {
	uid, name string
	at        time.Time
}

func (b *bench) watch(ctx context.Context, namespace string) (*observed, error) {
	ctx, cancel := context.WithCancel(ctx)
	o := &observed{changed: make(chan struct{}), deploys: map[string]*appsv1.Deployment{}, pods: map[string]*corev1.Pod{},
		exits: map[string]int32{}, pausedAt: map[string]time.Time{}, stamps: map[string]time.Time{}, lastStamp: map[string]time.Time{}, stop: cancel}
	f := informers.NewSharedInformerFactoryWithOptions(b.client, 0, informers.WithNamespace(namespace))
	pods := f.Core().V1().Pods().Informer()
	deploys := f.Apps().V1().Deployments().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.pod(obj.(*corev1.Pod), false, time.Now()) },
		UpdateFunc: func(_, obj any) { o.pod(obj.(*corev1.Pod), false, time.Now()) },
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				o.pod(p, true, time.Now())
			} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				if p, ok := t.Obj.(*corev1.Pod); ok {
					o.pod(p, true, time.Now())
				}
			}
		},
	}); err != nil {
		cancel()
		return nil, err
	}
	if _, err := deploys.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.deploy(obj.(*appsv1.Deployment), time.Now()) },
		UpdateFunc: func(_, obj any) { o.deploy(obj.(*appsv1.Deployment), time.Now()) },
	}); err != nil {
		cancel()
		return nil, err
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			cancel()
			return nil, fmt.Errorf("watch %v in %s: not synced", typ, namespace)
		}
	}
	return o, nil
}

func (o *observed) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *observed) pod(p *corev1.Pod, deleted bool, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer o.notify()
	uid := string(p.UID)
	if stamp, ok := kwokStamp(p); ok && !stamp.Equal(o.lastStamp[uid]) {
		o.lastStamp[uid] = stamp
		o.stamps[p.ResourceVersion] = stamp
		if !deleted {
			o.ownLag = append(o.ownLag, at.Sub(stamp))
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			if _, seen := o.exits[uid]; !seen && t.ExitCode == 137 {
				o.kills = append(o.kills, podExit{uid: uid, name: p.Name, at: at})
			}
			o.exits[uid] = t.ExitCode
		}
	}
	if deleted {
		delete(o.pods, uid)
	} else {
		o.pods[uid] = p
	}
}

// kwokStamp reads the time kwok wrote the pod's status (lab/kwok/kwok.yaml puts
// it in the Ready condition's message).
func kwokStamp(p *corev1.Pod) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if s, ok := strings.CutPrefix(c.Message, "kwok-write "); ok {
				t, err := time.Parse(time.RFC3339Nano, s)
				return t, err == nil
			}
		}
	}
	return time.Time{}, false
}

func (o *observed) deploy(d *appsv1.Deployment, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer o.notify()
	o.deploys[d.Name] = d
	if d.Spec.Paused {
		if _, ok := o.pausedAt[d.Name]; !ok {
			o.pausedAt[d.Name] = at
		}
	} else {
		delete(o.pausedAt, d.Name)
	}
}

// waitFor waits until cond (called under the lock) holds.
func (o *observed) waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		ok, changed := cond(), o.changed
		o.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("%s: not after %s", what, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settled: the Deployment's rollout is complete and no old pod is left.
func (o *observed) settled(name string) bool {
	d := o.deploys[name]
	if d == nil || d.Spec.Paused {
		return false
	}
	want, s := *d.Spec.Replicas, d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
		return false
	}
	n := int32(0)
	for _, p := range o.pods {
		if p.Labels["app"] == name {
			n++
		}
	}
	return n == want
}

func (o *observed) waitSettled(ctx context.Context, name string, timeout time.Duration) error {
	return o.waitFor(ctx, timeout, "deployment "+name+" complete with no old pod left", func() bool { return o.settled(name) })
}

// measured is one run of a command: exit code, wall and CPU time, peak RSS.
type measured struct {
	code          int
	wall, cpu     time.Duration
	peakRSSMiB    float64
	stdout        []byte
	stderr        string
	start, finish time.Time
}

// runMeasured runs a command as the lab's admin with the bench's HOME.
func (b *bench) runMeasured(ctx context.Context, name string, args ...string) (measured, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+b.home, "KUBECONFIG="+b.kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	m := measured{start: time.Now()}
	err := cmd.Run()
	m.finish = time.Now()
	m.wall = m.finish.Sub(m.start)
	m.stdout, m.stderr = out.Bytes(), errOut.String()
	if cmd.ProcessState == nil {
		return m, fmt.Errorf("%s: %w", name, err)
	}
	m.code = cmd.ProcessState.ExitCode()
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.peakRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return m, nil
}

func (b *bench) kubectlRun(ctx context.Context, args ...string) (measured, error) {
	return b.runMeasured(ctx, b.kubectl, args...)
}
