package verify

// Cloud load balancers that send traffic straight to pod IPs deregister a
// terminating pod far slower than kube-proxy drops it: users report 25-70 s
// behind AWS ALB, about 2 minutes for NLB IP targets, and a minute of 502s
// behind GKE NEGs (aws-load-balancer-controller#1064, #2106, #2366;
// ingress-gce#2222). When such a load balancer fronts the pods and nobody
// stated the endpoint propagation, preflight assumes these figures instead of
// kube-proxy's. They are assumptions: a grace period short of them warns.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Assumed deregistration times of the load balancers preflight recognises.
const (
	PropagationALB   = 30 * time.Second
	PropagationNEG   = 30 * time.Second
	PropagationNLBIP = 120 * time.Second
	// PropagationAWSInstance covers the other AWS load balancers of a Service
	// (classic ELB, NLB instance targets): their node health checks lag too.
	PropagationAWSInstance = 30 * time.Second
)

const (
	awsServicePrefix       = "service.beta.kubernetes.io/aws-load-balancer-"
	awsLoadBalancerType    = "service.beta.kubernetes.io/aws-load-balancer-type"
	awsNLBTargetType       = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	albAnnotationPrefix    = "alb.ingress.kubernetes.io/"
	ingressClassAnnotation = "kubernetes.io/ingress.class"
	gkeNEGAnnotation       = "cloud.google.com/neg"
	gkeNEGStatusAnnotation = "cloud.google.com/neg-status"
	albIngressClassName    = "alb"
)

// LoadBalancerFront is a cloud load balancer in front of the pods and the
// endpoint propagation assumed for it.
type LoadBalancerFront struct {
	// Kind names the load balancer, e.g. "AWS NLB with IP targets".
	Kind        string
	Propagation time.Duration
	// Evidence names the object and annotation that revealed it.
	Evidence string
}

// FrontingLoadBalancer returns the slowest cloud load balancer that the
// Services selecting d's pods (or the Ingresses routing to those Services)
// reveal; ok is false when none does.
func FrontingLoadBalancer(d *appsv1.Deployment, services []corev1.Service, ingresses []networkingv1.Ingress) (LoadBalancerFront, bool) {
	return frontingLoadBalancer(DeploymentWorkload(d), services, ingresses)
}

// frontingLoadBalancer is FrontingLoadBalancer for a workload of any kind.
func frontingLoadBalancer(w *Workload, services []corev1.Service, ingresses []networkingv1.Ingress) (LoadBalancerFront, bool) {
	var fronts []LoadBalancerFront
	var names []string
	for _, svc := range matchingServices(w, services) {
		names = append(names, svc.Name)
		if f, ok := serviceLoadBalancer(&svc); ok {
			fronts = append(fronts, f)
		}
	}
	for i := range ingresses {
		ing := &ingresses[i]
		if !sameNamespace(ing.Namespace, w.Namespace) {
			continue
		}
		if svc, ok := routesTo(ing, names); ok {
			if f, ok := ingressLoadBalancer(ing, svc); ok {
				fronts = append(fronts, f)
			}
		}
	}
	if len(fronts) == 0 {
		return LoadBalancerFront{}, false
	}
	return slices.MaxFunc(fronts, func(a, b LoadBalancerFront) int { return int(a.Propagation - b.Propagation) }), true
}

func serviceLoadBalancer(svc *corev1.Service) (LoadBalancerFront, bool) {
	where := "Service " + svc.Name
	a := svc.Annotations
	if v, ok := a[gkeNEGAnnotation]; ok && negEnabled(v) {
		return LoadBalancerFront{Kind: "GKE network endpoint group", Propagation: PropagationNEG,
			Evidence: fmt.Sprintf("%s: %s", where, gkeNEGAnnotation)}, true
	}
	if _, ok := a[gkeNEGStatusAnnotation]; ok {
		return LoadBalancerFront{Kind: "GKE network endpoint group", Propagation: PropagationNEG,
			Evidence: fmt.Sprintf("%s: %s", where, gkeNEGStatusAnnotation)}, true
	}
	lbType := strings.ToLower(a[awsLoadBalancerType])
	target := strings.ToLower(a[awsNLBTargetType])
	switch {
	case lbType == "nlb-ip":
		return LoadBalancerFront{Kind: "AWS NLB with IP targets", Propagation: PropagationNLBIP,
			Evidence: fmt.Sprintf("%s: %s: %s", where, awsLoadBalancerType, a[awsLoadBalancerType])}, true
	case target == "ip":
		return LoadBalancerFront{Kind: "AWS NLB with IP targets", Propagation: PropagationNLBIP,
			Evidence: fmt.Sprintf("%s: %s: %s", where, awsNLBTargetType, a[awsNLBTargetType])}, true
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return LoadBalancerFront{}, false
	}
	for _, key := range sortedKeys(a) {
		if strings.HasPrefix(key, awsServicePrefix) {
			return LoadBalancerFront{Kind: "AWS load balancer with instance targets", Propagation: PropagationAWSInstance,
				Evidence: fmt.Sprintf("%s: %s", where, key)}, true
		}
	}
	return LoadBalancerFront{}, false
}

// ingressLoadBalancer recognises the AWS Load Balancer Controller's ALB. An
// Ingress on GKE reaches pods through the NEG annotation of its Service, which
// serviceLoadBalancer already sees.
func ingressLoadBalancer(ing *networkingv1.Ingress, service string) (LoadBalancerFront, bool) {
	where := fmt.Sprintf("Ingress %s (to Service %s)", ing.Name, service)
	alb := LoadBalancerFront{Kind: "AWS ALB", Propagation: PropagationALB}
	switch {
	case ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == albIngressClassName:
		alb.Evidence = where + ": ingressClassName: alb"
		return alb, true
	case ing.Annotations[ingressClassAnnotation] == albIngressClassName:
		alb.Evidence = fmt.Sprintf("%s: %s: alb", where, ingressClassAnnotation)
		return alb, true
	}
	for _, key := range sortedKeys(ing.Annotations) {
		if strings.HasPrefix(key, albAnnotationPrefix) {
			alb.Evidence = fmt.Sprintf("%s: %s", where, key)
			return alb, true
		}
	}
	return LoadBalancerFront{}, false
}

// routesTo returns the first of services that the Ingress sends traffic to.
func routesTo(ing *networkingv1.Ingress, services []string) (string, bool) {
	for _, b := range ingressBackends(ing) {
		if b.Service != nil && slices.Contains(services, b.Service.Name) {
			return b.Service.Name, true
		}
	}
	return "", false
}

// ingressBackends returns the Ingress's default backend and its rules' backends.
func ingressBackends(ing *networkingv1.Ingress) []*networkingv1.IngressBackend {
	var backends []*networkingv1.IngressBackend
	if ing.Spec.DefaultBackend != nil {
		backends = append(backends, ing.Spec.DefaultBackend)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			backends = append(backends, &rule.HTTP.Paths[i].Backend)
		}
	}
	return backends
}

// negEnabled reads a cloud.google.com/neg value such as {"ingress": true} or
// {"exposed_ports": {"80": {}}}; one it cannot read counts as enabled.
func negEnabled(value string) bool {
	var neg struct {
		Ingress      *bool                      `json:"ingress"`
		ExposedPorts map[string]json.RawMessage `json:"exposed_ports"`
	}
	if err := json.Unmarshal([]byte(value), &neg); err != nil {
		return true
	}
	return (neg.Ingress != nil && *neg.Ingress) || len(neg.ExposedPorts) > 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FrontedBy raises an assumed endpoint propagation to what the load balancer
// needs. A stated one (flag, annotation) is kept: the user measured or chose it.
func (b GraceBudget) FrontedBy(front LoadBalancerFront, ok bool) GraceBudget {
	if !ok || b.Stated.EndpointPropagation || b.EndpointPropagation >= front.Propagation {
		return b
	}
	b.EndpointPropagation = front.Propagation
	f := front
	b.PropagationFrom = &f
	return b
}
