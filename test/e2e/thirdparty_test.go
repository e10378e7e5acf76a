//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// podinfoImage is built by the lab from podinfo's Go module at a pinned commit
// (lab/lab.mk LAB_PODINFO): code nobody on this project wrote.
const podinfoImage = "safe-rollout.local/podinfo:6.9.2"

// podinfoObjects follow upstream's kustomize/ manifests (podinfo 6.x): the HPA's
// minReplicas 2 as replicas, maxUnavailable 0, minReadySeconds 3, no preStop
// hook, the default 30s grace period, and upstream's probe timings (timeout
// 5s, period and failureThreshold left at 10 and 3). Upstream probes with its
// podcli binary; the lab image holds podinfo alone, so the same checks are
// httpGet on /readyz and /healthz.
func podinfoObjects(ns string) (*appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{"app": "podinfo"}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			InitialDelaySeconds: 1, TimeoutSeconds: 5,
		}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: appsv1.DeploymentSpec{
			Replicas:        ptr.To[int32](2),
			MinReadySeconds: 3,
			Selector:        &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:            "podinfod",
					Image:           podinfoImage,
					ImagePullPolicy: corev1.PullNever,
					Args: []string{"--port=9898", "--port-metrics=9797", "--grpc-port=9999", "--grpc-service-name=podinfo",
						"--level=info", "--random-delay=false", "--random-error=false"},
					Ports: []corev1.ContainerPort{
						{Name: "http", ContainerPort: 9898}, {Name: "http-metrics", ContainerPort: 9797}, {Name: "grpc", ContainerPort: 9999},
					},
					ReadinessProbe: probe("/readyz"),
					LivenessProbe:  probe("/healthz"),
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "http", Port: 9898, TargetPort: intstr.FromString("http")},
			{Name: "grpc", Port: 9999, TargetPort: intstr.FromString("grpc")},
		}},
	}
	return d, svc
}

// A third-party app that drains correctly is neither refused nor failed: podinfo
// rolls under probe load with no errors, its slow readiness (up to 35s) is a
// warning, and every old pod exits clean.
func TestThirdPartyPodinfoRollsClean(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	ctx := context.Background()
	d, svc := podinfoObjects(ns)
	if _, err := l.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitAvailable(t, ns, "podinfo")
	ip := l.clusterIP(t, ns, "podinfo")
	l.waitAnswering(t, "http://"+ip+":9898/version")

	pre := l.run(t, "-n", ns, "preflight", "deploy/podinfo", "-o", "json")
	var checks struct {
		Verdict string `json:"verdict"`
		Objects []struct {
			Checks []struct{ ID, Status, Message string }
		}
	}
	if err := json.Unmarshal([]byte(pre.stdout), &checks); err != nil {
		t.Fatalf("preflight: not JSON: %v\n%s%s", err, pre.stdout, pre.stderr)
	}
	if pre.code != 0 || checks.Verdict == "fail" {
		t.Fatalf("preflight: exit %d verdict %q, want 0 and no fail:\n%s", pre.code, checks.Verdict, pre.stdout)
	}
	for _, c := range checks.Objects[0].Checks {
		if c.ID == "readiness-reaction" && (c.Status != "warn" || !strings.Contains(c.Message, "35s")) {
			t.Errorf("readiness-reaction %s %q, want a warning about the 35s worst case", c.Status, c.Message)
		}
	}

	r := l.run(t, "-n", ns, "restart", "deploy/podinfo",
		"--probe", "http://"+ip+":9898/version", "--probe-new-connections", "--probe-rate=200",
		"-o", "json", "--progress=plain", "--timeout=4m")
	rep := decodeBreach(t, r)
	work := decodeWorkload(t, r)
	if rep.Probe == nil || rep.Probe.Requests == 0 {
		t.Fatalf("no probe traffic in the report: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Probe.Errors != 0 {
		t.Fatalf("restart: exit %d outcome %q, %d of %d probe requests failed %v; want 0, succeeded, 0 errors\n%s",
			r.code, rep.Outcome, rep.Probe.Errors, rep.Probe.Requests, rep.Probe.ErrorsByClass, r.stderr)
	}
	if len(work.Pods) != 2 || work.Summary.Clean != 2 {
		t.Errorf("report: %d old pods, summary %+v; want the 2 old pods clean", len(work.Pods), work.Summary)
	}
	t.Logf("podinfo: %d probe requests, 0 errors; old pods %+v", rep.Probe.Requests, work.Summary)
}
