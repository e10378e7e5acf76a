package verify_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

func annotatedService(name string, typ corev1.ServiceType, annotations map[string]string) corev1.Service {
	s := verifytest.Service("ns", name, verifytest.WebLabels)
	s.Spec.Type = typ
	s.Annotations = annotations
	return s
}

func ingressTo(name, service string, class *string, annotations map[string]string) networkingv1.Ingress {
	return networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: annotations},
		Spec: networkingv1.IngressSpec{
			IngressClassName: class,
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			}}}},
		},
	}
}

func TestFrontingLoadBalancer(t *testing.T) {
	tests := []struct {
		name      string
		services  []corev1.Service
		ingresses []networkingv1.Ingress
		want      time.Duration // 0: none recognised
		evidence  string
	}{
		{name: "plain ClusterIP", services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, nil)}},
		{name: "NLB IP targets, legacy type",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeLoadBalancer, map[string]string{
				"service.beta.kubernetes.io/aws-load-balancer-type": "nlb-ip"})},
			want: verify.PropagationNLBIP, evidence: "Service web: service.beta.kubernetes.io/aws-load-balancer-type: nlb-ip"},
		{name: "NLB IP targets, load balancer controller",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeLoadBalancer, map[string]string{
				"service.beta.kubernetes.io/aws-load-balancer-type":            "external",
				"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
				"service.beta.kubernetes.io/aws-load-balancer-scheme":          "internet-facing"})},
			want: verify.PropagationNLBIP, evidence: "aws-load-balancer-nlb-target-type: ip"},
		{name: "classic ELB with an AWS annotation",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeLoadBalancer, map[string]string{
				"service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true"})},
			want: verify.PropagationAWSInstance, evidence: "connection-draining-enabled"},
		{name: "AWS annotation on a ClusterIP Service is not a load balancer",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, map[string]string{
				"service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true"})}},
		{name: "GKE NEG for Ingress",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, map[string]string{
				"cloud.google.com/neg": `{"ingress": true}`})},
			want: verify.PropagationNEG, evidence: "Service web: cloud.google.com/neg"},
		{name: "GKE standalone NEG",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, map[string]string{
				"cloud.google.com/neg": `{"exposed_ports": {"80": {}}}`})},
			want: verify.PropagationNEG},
		{name: "GKE NEG switched off",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, map[string]string{
				"cloud.google.com/neg": `{"ingress": false}`})}},
		{name: "NEG on a Service that selects other pods",
			services: []corev1.Service{func() corev1.Service {
				s := annotatedService("api", corev1.ServiceTypeClusterIP, map[string]string{"cloud.google.com/neg": `{"ingress": true}`})
				s.Spec.Selector = map[string]string{"app": "api"}
				return s
			}()}},
		{name: "ALB by ingressClassName",
			services:  []corev1.Service{annotatedService("web", corev1.ServiceTypeNodePort, nil)},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "web", ptr.To("alb"), nil)},
			want:      verify.PropagationALB, evidence: "Ingress shop (to Service web): ingressClassName: alb"},
		{name: "ALB by the old class annotation",
			services:  []corev1.Service{annotatedService("web", corev1.ServiceTypeNodePort, nil)},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "web", nil, map[string]string{"kubernetes.io/ingress.class": "alb"})},
			want:      verify.PropagationALB},
		{name: "ALB by its annotations",
			services: []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, nil)},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "web", ptr.To("internet"), map[string]string{
				"alb.ingress.kubernetes.io/target-type": "ip"})},
			want: verify.PropagationALB, evidence: "alb.ingress.kubernetes.io/target-type"},
		{name: "nginx Ingress",
			services:  []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, nil)},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "web", ptr.To("nginx"), nil)}},
		{name: "ALB routing to another Service",
			services:  []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, nil)},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "api", ptr.To("alb"), nil)}},
		{name: "the slowest wins",
			services: []corev1.Service{
				annotatedService("web", corev1.ServiceTypeClusterIP, nil),
				annotatedService("web-nlb", corev1.ServiceTypeLoadBalancer, map[string]string{
					"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}),
			},
			ingresses: []networkingv1.Ingress{ingressTo("shop", "web", ptr.To("alb"), nil)},
			want:      verify.PropagationNLBIP, evidence: "Service web-nlb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front, ok := verify.FrontingLoadBalancer(verifytest.Deployment(), tt.services, tt.ingresses)
			if ok != (tt.want > 0) || front.Propagation != tt.want {
				t.Fatalf("FrontingLoadBalancer = %+v, %v; want propagation %s", front, ok, tt.want)
			}
			if !strings.Contains(front.Evidence, tt.evidence) {
				t.Errorf("evidence %q, want it to contain %q", front.Evidence, tt.evidence)
			}
		})
	}
}

// The grace-budget verdict behind an ALB: the assumed 30 s propagation warns
// (never fails), says why, and yields to a stated propagation.
func TestGraceBudgetBehindALoadBalancer(t *testing.T) {
	alb := []networkingv1.Ingress{ingressTo("shop", "web", ptr.To("alb"), nil)}
	services := []corev1.Service{annotatedService("web", corev1.ServiceTypeClusterIP, nil)}
	tests := []struct {
		name        string
		grace       int64
		annotations map[string]string
		ingresses   []networkingv1.Ingress
		status      verify.Status
		message     string
	}{
		{name: "no load balancer", grace: 30, status: verify.StatusPass,
			message: "30 >= 30s = 5s endpoint propagation + 5s drain delay"},
		{name: "ALB raises the assumption: warn", grace: 30, ingresses: alb, status: verify.StatusWarn,
			message: "terminationGracePeriodSeconds 30 < 55s = 30s endpoint propagation (assumed: AWS ALB) + 5s drain delay + 15s max request + 5s safety margin, short only by the assumed endpoint propagation (30s assumed for AWS ALB, Ingress shop (to Service web): ingressClassName: alb)"},
		{name: "grace covering the ALB passes", grace: 60, ingresses: alb, status: verify.StatusPass,
			message: "60 >= 55s = 30s endpoint propagation (assumed: AWS ALB)"},
		{name: "the workload's annotation overrides", grace: 30, ingresses: alb, status: verify.StatusPass,
			annotations: map[string]string{verify.AnnotationEndpointPropagation: "3s"},
			message:     "30 >= 28s = 3s endpoint propagation + 5s drain delay"},
		{name: "a stated propagation still fails on its own", grace: 30, ingresses: alb, status: verify.StatusFail,
			annotations: map[string]string{verify.AnnotationEndpointPropagation: "40s"},
			message:     "30 < 65s = 40s endpoint propagation + 5s drain delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := verifytest.Deployment()
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(tt.grace)
			budget, err := verify.DefaultGraceBudget().WithAnnotations(tt.annotations)
			if err != nil {
				t.Fatal(err)
			}
			report := verify.CheckDeployment(d, budget, verify.Environment{Local: true, Services: services, Ingresses: tt.ingresses})
			for _, c := range report.Checks {
				if c.ID != verify.CheckGraceBudget {
					continue
				}
				if c.Status != tt.status || !strings.Contains(c.Message, tt.message) {
					t.Errorf("grace-budget %s: %q\nwant %s containing %q", c.Status, c.Message, tt.status, tt.message)
				}
				return
			}
			t.Fatal("no grace-budget check")
		})
	}
}
