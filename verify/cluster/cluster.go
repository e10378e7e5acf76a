// Package cluster reads what surrounds a live workload (Services,
// EndpointSlices, pods, PodDisruptionBudgets, HorizontalPodAutoscalers, Ingresses) for
// preflight's checks.
package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// Reader gathers the verify.Environment of workloads from a live cluster,
// listing each namespace's objects once.
type Reader struct {
	client     kubernetes.Interface
	namespaces map[string]*namespaceObjects
}

type namespaceObjects struct {
	services []corev1.Service
	slices   []discoveryv1.EndpointSlice
	pods     []corev1.Pod
	pdbs     []policyv1.PodDisruptionBudget
	hpas     []autoscalingv2.HorizontalPodAutoscaler
	// hpasUnread says why the HPAs could not be read: they only refine the
	// replica count, so a Role without them must not stop the preflight.
	hpasUnread string
	// ingresses only reveal a load balancer in front of the Services: the
	// same holds for them.
	ingresses       []networkingv1.Ingress
	ingressesUnread string
}

// NewReader reads through client.
func NewReader(client kubernetes.Interface) *Reader {
	return &Reader{client: client, namespaces: map[string]*namespaceObjects{}}
}

// Environment returns what the cluster knows around d, as WorkloadEnvironment.
func (r *Reader) Environment(ctx context.Context, d *appsv1.Deployment, known verify.Environment) (verify.Environment, error) {
	return r.WorkloadEnvironment(ctx, verify.DeploymentWorkload(d), known)
}

// WorkloadEnvironment returns what the cluster knows around w. Manifest-side
// Services and PDBs (from -f) are added to the cluster's when the cluster has no
// object of that name. The live object, of w's kind, is read unless known.Live
// holds it already.
func (r *Reader) WorkloadEnvironment(ctx context.Context, w *verify.Workload, known verify.Environment) (verify.Environment, error) {
	objs, err := r.namespace(ctx, w.Namespace)
	if err != nil {
		return verify.Environment{}, err
	}
	live := known.Live
	if live == nil {
		if live, err = r.live(ctx, w); err != nil {
			return verify.Environment{}, err
		}
	}
	env := verify.Environment{
		Live:            live,
		Services:        objs.services,
		EndpointSlices:  objs.slices,
		Pods:            objs.pods,
		PDBs:            objs.pdbs,
		HPAs:            objs.hpas,
		HPAsUnread:      objs.hpasUnread,
		Ingresses:       objs.ingresses,
		IngressesUnread: objs.ingressesUnread,
		UnknownFields:   known.UnknownFields,
	}
	for _, s := range known.Services {
		if !slices.ContainsFunc(env.Services, func(c corev1.Service) bool { return c.Name == s.Name }) {
			env.Services = append(env.Services, s)
		}
	}
	for _, p := range known.PDBs {
		if !slices.ContainsFunc(env.PDBs, func(c policyv1.PodDisruptionBudget) bool { return c.Name == p.Name }) {
			env.PDBs = append(env.PDBs, p)
		}
	}
	for _, h := range known.HPAs {
		if !slices.ContainsFunc(env.HPAs, func(c autoscalingv2.HorizontalPodAutoscaler) bool { return c.Name == h.Name }) {
			env.HPAs = append(env.HPAs, h)
		}
	}
	for _, ing := range known.Ingresses {
		if !slices.ContainsFunc(env.Ingresses, func(c networkingv1.Ingress) bool { return c.Name == ing.Name }) {
			env.Ingresses = append(env.Ingresses, ing)
		}
	}
	return env, nil
}

// live reads w again by its kind; nil when the cluster does not have it.
func (r *Reader) live(ctx context.Context, w *verify.Workload) (*verify.Workload, error) {
	apps := r.client.AppsV1()
	var obj runtime.Object
	var err error
	switch w.Kind {
	case verify.KindStatefulSet:
		obj, err = apps.StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	case verify.KindDaemonSet:
		obj, err = apps.DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	default:
		obj, err = apps.Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s/%s: %w", strings.ToLower(w.Kind), w.Namespace, w.Name, err)
	}
	return verify.NewWorkload(obj)
}

func (r *Reader) namespace(ctx context.Context, ns string) (*namespaceObjects, error) {
	if objs, ok := r.namespaces[ns]; ok {
		return objs, nil
	}
	objs := &namespaceObjects{}
	svcs, err := r.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing services in %s: %w", ns, err)
	}
	objs.services = svcs.Items
	slices, err := r.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing endpointslices in %s: %w", ns, err)
	}
	objs.slices = slices.Items
	pods, err := r.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	objs.pods = pods.Items
	pdbs, err := r.client.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing poddisruptionbudgets in %s: %w", ns, err)
	}
	objs.pdbs = pdbs.Items
	if err := r.readHPAs(ctx, ns, objs); err != nil {
		return nil, err
	}
	if err := r.readIngresses(ctx, ns, objs); err != nil {
		return nil, err
	}
	r.namespaces[ns] = objs
	return objs, nil
}

// readHPAs lists the namespace's HorizontalPodAutoscalers. Forbidden, or an API
// the cluster does not serve, is noted and the preflight carries on.
func (r *Reader) readHPAs(ctx context.Context, ns string, objs *namespaceObjects) error {
	hpas, err := r.client.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		objs.hpasUnread = err.Error()
		return nil
	case err != nil:
		return fmt.Errorf("listing horizontalpodautoscalers in %s: %w", ns, err)
	}
	objs.hpas = hpas.Items
	return nil
}

// readIngresses lists the namespace's Ingresses; like HPAs, a Role without
// them (or a cluster without the API) is noted and the preflight carries on.
func (r *Reader) readIngresses(ctx context.Context, ns string, objs *namespaceObjects) error {
	ings, err := r.client.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		objs.ingressesUnread = err.Error()
		return nil
	case err != nil:
		return fmt.Errorf("listing ingresses in %s: %w", ns, err)
	}
	objs.ingresses = ings.Items
	return nil
}
