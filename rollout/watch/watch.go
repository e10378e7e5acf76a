// Package watch runs the guard's informers: the Deployment by name, its
// ReplicaSets and pods by selector, the EndpointSlices of the Services that
// select them, and pod Events. It hands every object, as delivered, to one
// channel and shuts the informers down when its context ends.
package watch

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
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
	Deployment *appsv1.Deployment
	Selector   labels.Selector
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

	synced    []cache.InformerSynced
	factories []informers.SharedInformerFactory
}

// Start starts the informers; they stop when ctx ends, and Stop waits for them.
func Start(ctx context.Context, client kubernetes.Interface, t Target) (*Watches, error) {
	changes := make(chan Change, 256)
	failed := make(chan error, 1)
	retrying := make(chan Error, 16)
	w := &Watches{Changes: changes, Failed: failed, Retrying: retrying}
	d := t.Deployment
	factory := func(tweak func(*metav1.ListOptions)) informers.SharedInformerFactory {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(d.Namespace), informers.WithTweakListOptions(tweak))
		w.factories = append(w.factories, f)
		return f
	}
	byName := factory(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", d.Name).String()
	})
	bySelector := factory(func(o *metav1.ListOptions) { o.LabelSelector = t.Selector.String() })
	podEvents := factory(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("involvedObject.kind", "Pod").String()
	})
	type watched struct {
		resource string
		informer cache.SharedIndexInformer
	}
	toSync := []watched{
		{"deployments", byName.Apps().V1().Deployments().Informer()},
		{"replicasets", bySelector.Apps().V1().ReplicaSets().Informer()},
		{"pods", bySelector.Core().V1().Pods().Informer()},
		{"events", podEvents.Core().V1().Events().Informer()},
	}
	if len(t.Services) > 0 {
		bySlice := factory(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + " in (" + strings.Join(t.Services, ",") + ")"
		})
		toSync = append(toSync, watched{"endpointslices", bySlice.Discovery().V1().EndpointSlices().Informer()})
	}
	for _, ws := range toSync {
		send := func(obj any, deleted bool) {
			c := Change{Object: obj, Deleted: deleted, Resource: ws.resource}
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				c.Object, c.Unobserved = tomb.Obj, true
			}
			select {
			case changes <- c:
			case <-ctx.Done():
			}
		}
		handler := cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { send(obj, false) },
			UpdateFunc: func(_, obj any) { send(obj, false) },
			DeleteFunc: func(obj any) { send(obj, true) },
		}
		inf := ws.informer
		// A missing permission never heals: fail with the API's message instead of
		// retrying forever. Other errors are retried by the reflector.
		if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				select {
				case failed <- fmt.Errorf("watching: %w (the guard needs list and watch on it)", err):
				default:
				}
				return
			}
			select {
			case retrying <- Error{Resource: ws.resource, Err: err}:
			default:
			}
		}); err != nil {
			return nil, fmt.Errorf("watching: %w", err)
		}
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return nil, fmt.Errorf("watching: %w", err)
		}
		w.synced = append(w.synced, reg.HasSynced)
	}
	for _, f := range w.factories {
		f.Start(ctx.Done())
	}
	return w, nil
}

// Synced returns a channel that receives true once every informer has
// delivered its initial list to the handler, or false when ctx ends first.
func (w *Watches) Synced(ctx context.Context) <-chan bool {
	done := make(chan bool, 1)
	go func() { done <- cache.WaitForCacheSync(ctx.Done(), w.synced...) }()
	return done
}

// Stop waits for the informers' goroutines after their context ended.
func (w *Watches) Stop() {
	for _, f := range w.factories {
		f.Shutdown()
	}
}
