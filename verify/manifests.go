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

// Manifests is what a set of manifests holds for preflight, every object kept
// in memory. A large set is better read through a ManifestIndex.
type Manifests struct {
	Deployments []*appsv1.Deployment
	// Workloads are the Deployments, StatefulSets and DaemonSets, in manifest order.
	Workloads []*Workload
	Services  []corev1.Service
	PDBs      []policyv1.PodDisruptionBudget
	// HPAs holds autoscaling/v2 HorizontalPodAutoscalers, and autoscaling/v1 ones
	// converted (the fields preflight reads are the same).
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// Ingresses can reveal a cloud load balancer in front of the Services.
	Ingresses []networkingv1.Ingress
	Skipped   []SkippedObject

	// unknown is keyed by a Workload's Object.
	unknown map[any][]string
}

// Add sorts one manifest object in; source names where it came from. Objects of
// kinds preflight has no use for (ConfigMaps, custom resources) are ignored.
func (m *Manifests) Add(u *unstructured.Unstructured, source string) error {
	obj, err := DecodeManifest(u, source)
	if err != nil {
		return err
	}
	switch {
	case obj.workload != nil:
		if d := obj.workload.Deployment(); d != nil {
			m.Deployments = append(m.Deployments, d)
		}
		m.Workloads = append(m.Workloads, obj.workload)
		if len(obj.unknown) > 0 {
			if m.unknown == nil {
				m.unknown = map[any][]string{}
			}
			m.unknown[obj.workload.Object] = obj.unknown
		}
	case obj.service != nil:
		m.Services = append(m.Services, *obj.service)
	case obj.pdb != nil:
		m.PDBs = append(m.PDBs, *obj.pdb)
	case obj.hpa != nil:
		m.HPAs = append(m.HPAs, *obj.hpa)
	case obj.ingress != nil:
		m.Ingresses = append(m.Ingresses, *obj.ingress)
	case obj.skipped != nil:
		m.Skipped = append(m.Skipped, *obj.skipped)
	}
	return nil
}

// UnknownFields returns the fields of d's manifest the API server would drop.
func (m *Manifests) UnknownFields(d *appsv1.Deployment) []string {
	return m.unknown[d]
}

// WorkloadUnknownFields returns the fields of w's manifest the API server would drop.
func (m *Manifests) WorkloadUnknownFields(w *Workload) []string {
	return m.unknown[w.Object]
}

// ManifestIndex keeps what preflight needs of manifests other than their
// workloads, in little memory: the Services, PodDisruptionBudgets,
// HorizontalPodAutoscalers and Ingresses as indexed JSON (Surroundings), and the
// objects skipped. The workloads are the caller's to keep or not.
type ManifestIndex struct {
	Surroundings
	Skipped []SkippedObject
}

// Add keeps what preflight needs of a manifest object other than a workload.
func (x *ManifestIndex) Add(m Manifest) error {
	if m.skipped != nil {
		x.Skipped = append(x.Skipped, *m.skipped)
		return nil
	}
	return x.add(m)
}

// DeploymentManifest is an apps/v1 Deployment read from a manifest.
type DeploymentManifest struct {
	Deployment *appsv1.Deployment
	// JSON is the manifest the Deployment was decoded from: DecodeDeploymentJSON
	// reads it back into the same Deployment.
	JSON []byte
	// UnknownFields are the manifest's fields the API server would drop.
	UnknownFields []string
}

// WorkloadManifest is an apps/v1 Deployment, StatefulSet or DaemonSet read
// from a manifest.
type WorkloadManifest struct {
	Workload *Workload
	// JSON is the manifest the object was decoded from: DecodeWorkloadJSON
	// reads it back into the same object.
	JSON []byte
	// UnknownFields are the manifest's fields the API server would drop.
	UnknownFields []string
}

// DecodeDeploymentJSON decodes the JSON of a DeploymentManifest again, with the
// decoder that read it first: field names match case-sensitively, and the
// fields the type does not have (already reported) are dropped.
func DecodeDeploymentJSON(raw []byte) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	if err := decodeJSON(raw, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Manifest is one manifest object decoded for preflight: an apps/v1 Deployment,
// StatefulSet or DaemonSet, a Service, PodDisruptionBudget, HorizontalPodAutoscaler or Ingress, an object
// preflight skips, or (the zero Manifest) one it has no use for.
type Manifest struct {
	workload *Workload
	service  *corev1.Service
	pdb      *policyv1.PodDisruptionBudget
	hpa      *autoscalingv2.HorizontalPodAutoscaler
	ingress  *networkingv1.Ingress
	skipped  *SkippedObject
	// json is what the object was decoded from; hpaV1 tells that it is an
	// autoscaling/v1 HorizontalPodAutoscaler's.
	json  []byte
	hpaV1 bool
	// unknown are the fields of the manifest the type does not have.
	unknown []string
}

// Deployment returns the apps/v1 Deployment of the manifest; nil for any other
// object.
func (m Manifest) Deployment() *DeploymentManifest {
	if m.workload == nil || m.workload.Deployment() == nil {
		return nil
	}
	return &DeploymentManifest{Deployment: m.workload.Deployment(), JSON: m.json, UnknownFields: m.unknown}
}

// Workload returns the apps/v1 Deployment, StatefulSet or DaemonSet of the
// manifest; nil for any other object.
func (m Manifest) Workload() *WorkloadManifest {
	if m.workload == nil {
		return nil
	}
	return &WorkloadManifest{Workload: m.workload, JSON: m.json, UnknownFields: m.unknown}
}

// DecodeManifest decodes one manifest object the way the API server reads it:
// fields are matched by their exact, case-sensitive names, and the fields it
// would drop are noted. source names where the object came from.
func DecodeManifest(u *unstructured.Unstructured, source string) (Manifest, error) {
	var obj Manifest
	var err error
	switch gvk := u.GroupVersionKind(); gvk {
	case appsv1.SchemeGroupVersion.WithKind("Deployment"):
		d := &appsv1.Deployment{}
		obj.json, obj.unknown, err = decodeStrict(u, d)
		obj.workload = DeploymentWorkload(d)
	case appsv1.SchemeGroupVersion.WithKind(KindStatefulSet):
		s := &appsv1.StatefulSet{}
		obj.json, obj.unknown, err = decodeStrict(u, s)
		obj.workload = StatefulSetWorkload(s)
	case appsv1.SchemeGroupVersion.WithKind(KindDaemonSet):
		ds := &appsv1.DaemonSet{}
		obj.json, obj.unknown, err = decodeStrict(u, ds)
		obj.workload = DaemonSetWorkload(ds)
	case corev1.SchemeGroupVersion.WithKind("Service"):
		obj.service = &corev1.Service{}
		obj.json, _, err = decodeStrict(u, obj.service)
	case policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):
		obj.pdb = &policyv1.PodDisruptionBudget{}
		obj.json, _, err = decodeStrict(u, obj.pdb)
	case autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"):
		obj.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
		obj.json, _, err = decodeStrict(u, obj.hpa)
	case autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"):
		var v1 autoscalingv1.HorizontalPodAutoscaler
		obj.json, _, err = decodeStrict(u, &v1)
		obj.hpa, obj.hpaV1 = hpaFromV1(&v1), true
	case networkingv1.SchemeGroupVersion.WithKind("Ingress"):
		obj.ingress = &networkingv1.Ingress{}
		obj.json, _, err = decodeStrict(u, obj.ingress)
	default:
		if reason := skipReason(gvk); reason != "" {
			obj.skipped = &SkippedObject{
				Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Name: u.GetName(), Namespace: u.GetNamespace(),
				Source: source, Reason: reason,
			}
		}
	}
	if err != nil {
		return Manifest{}, err
	}
	return obj, nil
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
	case (gvk.Kind == KindStatefulSet || gvk.Kind == KindDaemonSet) && (gvk.Group == "apps" || gvk.Group == "extensions"):
		return fmt.Sprintf("%s %ss are no longer served (removed in Kubernetes 1.16): a cluster rejects this manifest; only apps/v1 %[2]ss are checked (convert it with kubectl convert)", gvk.GroupVersion(), gvk.Kind)
	case gvk.Kind == KindStatefulSet || gvk.Kind == KindDaemonSet:
		return fmt.Sprintf("not an apps/v1 %s: only apps/v1 %[1]ss are checked", gvk.Kind)
	}
	return ""
}

// decodeStrict decodes an object into a typed one and returns the JSON it
// decoded and the fields the type does not have. Through JSON rather than
// runtime.DefaultUnstructuredConverter: for a field of the wrong type the JSON
// decoder names the field (spec.replicas), the converter only says
// "unrecognized type: int32".
func decodeStrict(u *unstructured.Unstructured, into any) ([]byte, []string, error) {
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("decoding %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	strict, err := kjson.UnmarshalStrict(raw, into, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding %s %q: %w", u.GetKind(), u.GetName(), err)
	}
	var unknown []string
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok && strings.HasPrefix(e.Error(), "unknown field") {
			unknown = append(unknown, fe.FieldPath())
		}
	}
	return raw, unknown, nil
}

// decodeJSON decodes JSON that decodeStrict read before into a typed object:
// the same decoder, without collecting the unknown fields again.
func decodeJSON(raw []byte, into any) error {
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, into); err != nil {
		return fmt.Errorf("decoding %T: %w", into, err)
	}
	return nil
}

// hpaFromV1 converts an autoscaling/v1 HorizontalPodAutoscaler: the fields
// preflight reads are the same in v2.
func hpaFromV1(v1 *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: v1.ObjectMeta}
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference(v1.Spec.ScaleTargetRef)
	h.Spec.MinReplicas, h.Spec.MaxReplicas = v1.Spec.MinReplicas, v1.Spec.MaxReplicas
	return h
}
