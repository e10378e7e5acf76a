package verify

// Reading manifests the way the API server would: fields are matched by their
// exact, case-sensitive names, and the fields it would drop are noted instead of
// vanishing. Objects preflight cannot check or use are listed with the reason.

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
)

// Manifests is what a set of manifests holds for preflight.
type Manifests struct {
	Deployments []*appsv1.Deployment
	Services    []corev1.Service
	PDBs        []policyv1.PodDisruptionBudget
	// HPAs holds autoscaling/v2 HorizontalPodAutoscalers, and autoscaling/v1 ones
	// converted (the fields preflight reads are the same).
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// Ingresses can reveal a cloud load balancer in front of the Services.
	Ingresses []networkingv1.Ingress
	Skipped   []SkippedObject

	unknown map[*appsv1.Deployment][]string
}

// Add sorts one manifest object in; source names where it came from. Objects of
// kinds preflight has no use for (ConfigMaps, custom resources) are ignored.
func (m *Manifests) Add(u *unstructured.Unstructured, source string) error {
	switch gvk := u.GroupVersionKind(); gvk {
	case appsv1.SchemeGroupVersion.WithKind("Deployment"):
		d := &appsv1.Deployment{}
		unknown, err := decodeStrict(u, d)
		if err != nil {
			return err
		}
		m.Deployments = append(m.Deployments, d)
		if len(unknown) > 0 {
			if m.unknown == nil {
				m.unknown = map[*appsv1.Deployment][]string{}
			}
			m.unknown[d] = unknown
		}
	case corev1.SchemeGroupVersion.WithKind("Service"):
		var s corev1.Service
		if _, err := decodeStrict(u, &s); err != nil {
			return err
		}
		m.Services = append(m.Services, s)
	case policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):
		var p policyv1.PodDisruptionBudget
		if _, err := decodeStrict(u, &p); err != nil {
			return err
		}
		m.PDBs = append(m.PDBs, p)
	case autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"):
		h, err := decodeHPA(u)
		if err != nil {
			return err
		}
		m.HPAs = append(m.HPAs, h)
	case networkingv1.SchemeGroupVersion.WithKind("Ingress"):
		var ing networkingv1.Ingress
		if _, err := decodeStrict(u, &ing); err != nil {
			return err
		}
		m.Ingresses = append(m.Ingresses, ing)
	default:
		if reason := skipReason(gvk); reason != "" {
			m.Skipped = append(m.Skipped, SkippedObject{
				Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Name: u.GetName(), Namespace: u.GetNamespace(),
				Source: source, Reason: reason,
			})
		}
	}
	return nil
}

// UnknownFields returns the fields of d's manifest the API server would drop.
func (m *Manifests) UnknownFields(d *appsv1.Deployment) []string {
	return m.unknown[d]
}

// skipReason says why an object that looks like something preflight checks or
// uses is not; "" for objects preflight has no use for.
func skipReason(gvk schema.GroupVersionKind) string {
	switch {
	case gvk.Kind == "Deployment" && (gvk.Group == "apps" || gvk.Group == "extensions"):
		return fmt.Sprintf("%s Deployments are no longer served (removed in Kubernetes 1.16): a cluster rejects this manifest; only apps/v1 Deployments are checked (convert it with kubectl convert)", gvk.GroupVersion())
	case gvk.Kind == "Deployment":
		return "not an apps/v1 Deployment: only apps/v1 Deployments are checked"
	case gvk.Kind == "PodDisruptionBudget" && gvk.Group == "policy":
		return fmt.Sprintf("%s PodDisruptionBudgets are no longer served (removed in Kubernetes 1.25): not used by the pdb check; use policy/v1", gvk.GroupVersion())
	case gvk.Kind == "HorizontalPodAutoscaler" && gvk.Group == "autoscaling":
		return fmt.Sprintf("%s HorizontalPodAutoscalers are no longer served (removed in Kubernetes 1.25 or 1.26): not used by rollout-strategy; use autoscaling/v2", gvk.GroupVersion())
	case gvk.Kind == "Ingress" && (gvk.Group == "extensions" || gvk.Group == "networking.k8s.io"):
		return fmt.Sprintf("%s Ingresses are no longer served (removed in Kubernetes 1.22): not used to recognise a load balancer in front of the Services; use networking.k8s.io/v1", gvk.GroupVersion())
	case gvk.Group == "apps" && (gvk.Kind == "StatefulSet" || gvk.Kind == "DaemonSet"):
		return "preflight checks Deployments only"
	}
	return ""
}

// decodeStrict decodes an object into a typed one and returns the fields the
// type does not have. Through JSON rather than runtime.DefaultUnstructuredConverter:
// for a field of the wrong type the JSON decoder names the field (spec.replicas),
// the converter only says "unrecognized type: int32".
func decodeStrict(u *unstructured.Unstructured, into any) ([]string, error) {
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("decoding %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	strict, err := kjson.UnmarshalStrict(raw, into, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("decoding %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	var unknown []string
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok && strings.HasPrefix(e.Error(), "unknown field") {
			unknown = append(unknown, fe.FieldPath())
		}
	}
	return unknown, nil
}

// decodeHPA reads an autoscaling/v2 or autoscaling/v1 HorizontalPodAutoscaler.
func decodeHPA(u *unstructured.Unstructured) (autoscalingv2.HorizontalPodAutoscaler, error) {
	var h autoscalingv2.HorizontalPodAutoscaler
	if u.GroupVersionKind().Version == autoscalingv2.SchemeGroupVersion.Version {
		_, err := decodeStrict(u, &h)
		return h, err
	}
	var v1 autoscalingv1.HorizontalPodAutoscaler
	if _, err := decodeStrict(u, &v1); err != nil {
		return h, err
	}
	h.ObjectMeta = v1.ObjectMeta
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference(v1.Spec.ScaleTargetRef)
	h.Spec.MinReplicas, h.Spec.MaxReplicas = v1.Spec.MinReplicas, v1.Spec.MaxReplicas
	return h, nil
}
