// Package watch runs the guard's informers: the workload by name, its
// ReplicaSets (a Deployment) or ControllerRevisions (a StatefulSet or
// DaemonSet) and pods by selector, the namespace's Services, the
// EndpointSlices of the Services that select the pods; and a watch on pod
// Events from the guard's start (events.go). It hands every object, as delivered, to one
// channel and shuts the informers down when its context ends.
package watch

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Change is one object as a watch delivered it; Deleted marks the final
// DELETED object, which carries the last container statuses. Unobserved marks a
// deletion the watch missed (it was disconnected): the object is the last one it
// saw, with stale status, and the deletion happened at some unknown time.
type Change struct {
	Object     any
	Deleted    bool
	Unobserved bool
	// Resource names the watch that delivered it (deployments, pods, ...).
	Resource string
}

// Error is a watch failure of one resource.
type Error struct {
	Resource string
	Err      error
}

func (e Error) Error() string { return e.Resource + ": " + e.Err.Error() }
func (e Error) Unwrap() error { return e.Err }

// Target is what to watch.
type Target struct {
	Workload workload.Workload
	Selector labels.Selector
	// Services whose EndpointSlices to watch; none means no slice watch.
	Services []string
}

// Watches are running informers.
type Watches struct {
	// Changes delivers every add, update and delete, in order per object kind.
	Changes <-chan Change
	// Failed receives an error that retrying cannot heal (a missing permission).
	Failed <-chan error
	// Retrying receives other watch errors, which the reflectors retry.
	Retrying <-chan Error

	ctx       context.Context
	client    kubernetes.Interface
	namespace string
	changes   chan Change
	failed    chan error
	retrying  chan Error

	mu        sync.Mutex
	synced    []cache.InformerSynced
	factories []informers.SharedInformerFactory
	services  map[string]bool
	pods      cache.SharedIndexInformer
	// running counts the goroutines Stop waits for besides the informers'.
	running sync.WaitGroup
}

// Start starts the informers; they stop when ctx ends, and Stop waits for them.
func Start(ctx context.Context, client kubernetes.Interface, t Target) (*Watches, error) {
	changes := make(chan Change, 256)
	failed := make(chan error, 1)
	retrying := make(chan Error, 16)
	wl := t.Workload
	w := &Watches{Changes: changes, Failed: failed, Retrying: retrying,
		ctx: ctx, client: client, namespace: wl.GetNamespace(), changes: changes, failed: failed, retrying: retrying,
		services: map[string]bool{}}
	byName := w.factory(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", wl.GetName()).String()
	})
	bySelector := w.factory(func(o *metav1.ListOptions) { o.LabelSelector = t.Selector.String() })
	// Every Service of the namespace: one created during the rollout that selects
	// the pods gets its EndpointSlices watched too (WatchServices).
	all := w.factory(func(*metav1.ListOptions) {})
	var toSync []watched
	switch wl.Kind() {
	case workload.KindStatefulSet:
		toSync = append(toSync,
			watched{resource: "statefulsets", informer: byName.Apps().V1().StatefulSets().Informer()},
			watched{resource: "controllerrevisions", informer: bySelector.Apps().V1().ControllerRevisions().Informer()})
	case workload.KindDaemonSet:
		toSync = append(toSync,
			watched{resource: "daemonsets", informer: byName.Apps().V1().DaemonSets().Informer()},
			watched{resource: "controllerrevisions", informer: bySelector.Apps().V1().ControllerRevisions().Informer()})
	default:
		toSync = append(toSync,
			watched{resource: "deployments", informer: byName.Apps().V1().Deployments().Informer()},
			watched{resource: "replicasets", informer: bySelector.Apps().V1().ReplicaSets().Informer()})
	}
	w.pods = bySelector.Core().V1().Pods().Informer()
	toSync = append(toSync, []watched{
		{resource: "pods", informer: w.pods},
		{resource: "services", informer: all.Core().V1().Services().Informer()},
	}...)
	if slices := w.sliceInformer(t.Services); slices != nil {
		toSync = append(toSync, *slices)
	}
	for _, ws := range toSync {
		if err := w.handle(ws); err != nil {
			return nil, err
		}
	}
	if err := w.startPodEvents(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.factories {
		f.Start(ctx.Done())
	}
	return w, nil
}

// WatchServices adds the EndpointSlices of Services not watched yet; it
// returns the names it added. Their informers start at once and are not part
// of Synced.
func (w *Watches) WatchServices(names []string) ([]string, error) {
	slices := w.sliceInformer(names)
	if slices == nil {
		return nil, nil
	}
	if err := w.handle(*slices); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.factories {
		f.Start(w.ctx.Done()) // starts only the informers not started yet
	}
	return slices.services, nil
}

type watched struct {
	resource string
	informer cache.SharedIndexInformer
	services []string // for an EndpointSlice informer: the Services it covers
}

func (w *Watches) factory(tweak func(*metav1.ListOptions)) informers.SharedInformerFactory {
	f := informers.NewSharedInformerFactoryWithOptions(w.client, 0, informers.WithNamespace(w.namespace), informers.WithTweakListOptions(tweak))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.factories = append(w.factories, f)
	return f
}

// sliceInformer is an informer on the EndpointSlices of the Services among
// names not watched yet; nil when there are none.
func (w *Watches) sliceInformer(names []string) *watched {
	w.mu.Lock()
	var fresh []string
	for _, n := range names {
		if !w.services[n] {
			w.services[n] = true
			fresh = append(fresh, n)
		}
	}
	w.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	bySlice := w.factory(func(o *metav1.ListOptions) {
		o.LabelSelector = discoveryv1.LabelServiceName + " in (" + strings.Join(fresh, ",") + ")"
	})
	return &watched{resource: "endpointslices", informer: bySlice.Discovery().V1().EndpointSlices().Informer(), services: fresh}
}

// handle sends the informer's objects to Changes and its errors to Failed or
// Retrying.
func (w *Watches) handle(ws watched) error {
	ctx := w.ctx
	send := func(obj any, deleted bool) {
		c := Change{Object: obj, Deleted: deleted, Resource: ws.resource}
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			c.Object, c.Unobserved = tomb.Obj, true
		}
		select {
		case w.changes <- c:
		case <-ctx.Done():
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { send(obj, false) },
		UpdateFunc: func(_, obj any) { send(obj, false) },
		DeleteFunc: func(obj any) { send(obj, true) },
	}
	inf := ws.informer
	if err := inf.SetTransform(slim); err != nil {
		return fmt.Errorf("watching: %w", err)
	}
	// A missing permission never heals: fail with the API's message instead of
	// retrying forever. Other errors are retried by the reflector.
	if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			select {
			case w.failed <- fmt.Errorf("watching: %w (the guard needs list and watch on it)", err):
			default:
			}
			return
		}
		select {
		case w.retrying <- Error{Resource: ws.resource, Err: err}:
		default:
		}
	}); err != nil {
		return fmt.Errorf("watching: %w", err)
	}
	reg, err := inf.AddEventHandler(handler)
	if err != nil {
		return fmt.Errorf("watching: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.synced = append(w.synced, reg.HasSynced)
	return nil
}

// Pods are the workload's pods as the watch has them now (slimmed: metadata
// and status). A StatefulSet's stop reads which ordinals are being replaced.
func (w *Watches) Pods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, obj := range w.pods.GetStore().List() {
		if p, ok := obj.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// Synced returns a channel that receives true once every informer has
// delivered its initial list to the handler, or false when ctx ends first.
func (w *Watches) Synced(ctx context.Context) <-chan bool {
	w.mu.Lock()
	synced := append([]cache.InformerSynced(nil), w.synced...)
	w.mu.Unlock()
	done := make(chan bool, 1)
	go func() { done <- cache.WaitForCacheSync(ctx.Done(), synced...) }()
	return done
}

// Stop waits for the informers' goroutines after their context ended.
func (w *Watches) Stop() {
	w.mu.Lock()
	factories := append([]informers.SharedInformerFactory(nil), w.factories...)
	w.mu.Unlock()
	for _, f := range factories {
		f.Shutdown()
	}
	w.running.Wait()
}

// slim keeps the caches small (make bench: a 500-replica rollout): the guard
// never reads managedFields, often the largest part of an object, and of a pod
// it reads only the metadata, the status and which init containers are native
// sidecars (state.terminatingContainers). The rest of a pod's spec (volumes,
// env, probes: tens of KB in an Istio-injected pod) stays out of the cache.
func slim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	if p, ok := obj.(*corev1.Pod); ok {
		p.Spec = slimPodSpec(p.Spec)
	}
	return obj, nil
}

func slimPodSpec(spec corev1.PodSpec) corev1.PodSpec {
	out := corev1.PodSpec{NodeName: spec.NodeName, TerminationGracePeriodSeconds: spec.TerminationGracePeriodSeconds}
	for _, c := range spec.InitContainers {
		out.InitContainers = append(out.InitContainers, corev1.Container{Name: c.Name, RestartPolicy: c.RestartPolicy})
	}
	for _, c := range spec.Containers {
		out.Containers = append(out.Containers, corev1.Container{Name: c.Name})
	}
	return out
}
