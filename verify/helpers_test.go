package verify

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

// Small builders: a Deployment that satisfies the whole contract, and options that
// break it one way at a time.

type depOpt func(*appsv1.Deployment)

type ctrOpt func(*corev1.Container)

var webLabels = verifytest.WebLabels

// deployment returns verifytest.Deployment() with one contract-abiding "app"
// container, then applies opts.
func deployment(opts ...depOpt) *appsv1.Deployment {
	d := verifytest.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{goodContainer("app")}
	for _, o := range opts {
		o(d)
	}
	return d
}

func withContainers(cs ...corev1.Container) depOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = cs }
}

func withGrace(s int64) depOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(s) }
}

func withoutGrace() depOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.TerminationGracePeriodSeconds = nil }
}

func withReplicas(n int32) depOpt {
	return func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(n) }
}

func withRolling(surge, unavailable *intstr.IntOrString) depOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable},
		}
	}
}

func withAnnotations(kv ...string) depOpt {
	return func(d *appsv1.Deployment) {
		d.Annotations = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

// goodContainer serves on a named port, has a fast readiness probe, a separate
// liveness probe and a draining preStop hook.
func goodContainer(name string, opts ...ctrOpt) corev1.Container {
	c := corev1.Container{
		Name:  name,
		Image: "example/web:1",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     httpGet("/health/ready", intstr.FromString("http")),
			PeriodSeconds:    1,
			FailureThreshold: 1,
			TimeoutSeconds:   1,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     httpGet("/health/live", intstr.FromString("http")),
			PeriodSeconds:    10,
			FailureThreshold: 3,
		},
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/admin/drain", Port: intstr.FromInt32(8080)},
		}},
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// sidecar is a container without ports, probes or hooks (a log shipper).
func sidecar(name string, opts ...ctrOpt) corev1.Container {
	c := corev1.Container{Name: name, Image: "example/shipper:1"}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func httpGet(p string, port intstr.IntOrString) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p, Port: port}}
}

func noPorts() ctrOpt { return func(c *corev1.Container) { c.Ports = nil } }

func noReadiness() ctrOpt { return func(c *corev1.Container) { c.ReadinessProbe = nil } }

func noLiveness() ctrOpt { return func(c *corev1.Container) { c.LivenessProbe = nil } }

func noPreStop() ctrOpt { return func(c *corev1.Container) { c.Lifecycle = nil } }

func readiness(p *corev1.Probe) ctrOpt {
	return func(c *corev1.Container) { c.ReadinessProbe = p }
}

func liveness(p *corev1.Probe) ctrOpt {
	return func(c *corev1.Container) { c.LivenessProbe = p }
}

func preStop(h *corev1.LifecycleHandler) ctrOpt {
	return func(c *corev1.Container) { c.Lifecycle = &corev1.Lifecycle{PreStop: h} }
}

func execPreStop(cmd ...string) ctrOpt {
	return preStop(&corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}})
}

func sleepAction(seconds int64) ctrOpt {
	return preStop(&corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: seconds}})
}

// timing returns a readiness probe on /health/ready with the given timing (0 = unset).
func timing(period, threshold, timeout int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     httpGet("/health/ready", intstr.FromString("http")),
		PeriodSeconds:    period,
		FailureThreshold: threshold,
		TimeoutSeconds:   timeout,
	}
}

// findCheck returns the check with that ID (and container, when given) or fails the test.
func findCheck(t *testing.T, r ObjectReport, id, container string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID == id && c.Container == container {
			return c
		}
	}
	t.Fatalf("no check %q for container %q in %+v", id, container, r.Checks)
	return Check{}
}

// localEnv is --local with no Service or PDB among the manifests.
var localEnv = Environment{Local: true}
