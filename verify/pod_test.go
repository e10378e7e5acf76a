package verify

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Tests of which containers serve (pod.go) and of the checks that follow from it.

func withPorts(ports ...corev1.ContainerPort) ctrOpt {
	return func(c *corev1.Container) { c.Ports = ports }
}

func port(name string, n int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: n}
}

// svc is a Service selecting the web pods with the given target ports ("" = no targetPort).
func svc(name string, targets ...string) corev1.Service {
	s := service("ns", name, webLabels)
	for i, tp := range targets {
		sp := corev1.ServicePort{Port: int32(80 + i)}
		if tp != "" {
			sp.TargetPort = intstr.Parse(tp)
		}
		s.Spec.Ports = append(s.Spec.Ports, sp)
	}
	return s
}

func withNativeSidecar(c corev1.Container) depOpt {
	return func(d *appsv1.Deployment) {
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		d.Spec.Template.Spec.InitContainers = append(d.Spec.Template.Spec.InitContainers, c)
	}
}

func withTemplateAnnotations(kv ...string) depOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d.Spec.Template.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func roles(v podView) string {
	var out []string
	for _, m := range v.members {
		out = append(out, m.c.Name+"="+[]string{"serving", "helper", "proxy", "worker"}[m.role])
	}
	return strings.Join(out, " ")
}

func TestAnalysePodRoles(t *testing.T) {
	exporter := sidecar("exporter", withPorts(port("metrics", 9113)))
	istio := sidecar("istio-proxy", withPorts(port("http-envoy-prom", 15090)))
	tests := []struct {
		name     string
		dep      *appsv1.Deployment
		services []corev1.Service
		want     string
		fallback bool
	}{
		{"no Service: ports serve", deployment(withContainers(goodContainer("app"), exporter)), nil, "app=serving exporter=serving", false},
		{"no Service: a container without ports helps", deployment(withContainers(goodContainer("app"), sidecar("shipper"))), nil, "app=serving shipper=helper", false},
		{"no Service, no ports: a worker", deployment(withContainers(sidecar("main"))), nil, "main=worker", false},
		{"no Service, only the proxy declares ports: a worker", deployment(withContainers(sidecar("main"), istio)), nil, "main=worker istio-proxy=worker", false},
		{"named targetPort", deployment(withContainers(goodContainer("app"), exporter)), []corev1.Service{svc("web", "http")}, "app=serving exporter=helper", false},
		{"numbered targetPort", deployment(withContainers(goodContainer("app"), exporter)), []corev1.Service{svc("web", "9113")}, "app=helper exporter=serving", false},
		{"no targetPort targets port", deployment(withContainers(goodContainer("app", withPorts(port("http", 80))), exporter)), []corev1.Service{svc("web", "")},
			"app=serving exporter=helper", false},
		{"two Services", deployment(withContainers(goodContainer("app"), exporter)), []corev1.Service{svc("web", "http"), svc("web-metrics", "metrics")},
			"app=serving exporter=serving", false},
		{"named targetPort of another protocol", deployment(withContainers(goodContainer("app", withPorts(corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolUDP})), exporter)),
			[]corev1.Service{svc("web", "http")}, "app=serving exporter=serving", true},
		{"target no container declares: containers with ports", deployment(withContainers(goodContainer("app"), sidecar("shipper"))), []corev1.Service{svc("web", "8081")},
			"app=serving shipper=helper", true},
		{"target no container declares, no ports at all: every main container", deployment(withContainers(sidecar("a"), sidecar("b"))), []corev1.Service{svc("web", "8080")},
			"a=serving b=serving", true},
		{"a Service without ports (headless): selected pods are no workers", deployment(withContainers(sidecar("main"))), []corev1.Service{svc("web")},
			"main=serving", false},
		{"a Service selecting other pods does not count", deployment(withContainers(sidecar("main"))), []corev1.Service{service("ns", "other", map[string]string{"app": "other"})},
			"main=worker", false},
		{"istio-proxy and linkerd-proxy are proxies", deployment(withContainers(goodContainer("app"), istio, sidecar("linkerd-proxy", withPorts(port("linkerd-admin", 4191))))),
			[]corev1.Service{svc("web", "http")}, "app=serving istio-proxy=proxy linkerd-proxy=proxy", false},
		{"proxy named by annotation", deployment(withContainers(goodContainer("app"), sidecar("envoy")), withTemplateAnnotations(AnnotationProxyContainers, "envoy, other")),
			nil, "app=serving envoy=proxy", false},
		{"proxy named on the Deployment", deployment(withContainers(goodContainer("app"), sidecar("envoy")), withAnnotations(AnnotationProxyContainers, "envoy")),
			nil, "app=serving envoy=proxy", false},
		{"native sidecar is a helper without a Service", deployment(withNativeSidecar(sidecar("cloud-sql-proxy", withPorts(port("health", 9090))))), nil,
			"app=serving cloud-sql-proxy=helper", false},
		{"native sidecar a Service targets serves", deployment(withNativeSidecar(sidecar("gateway", withPorts(port("grpc", 9090))))), []corev1.Service{svc("web", "grpc")},
			"app=helper gateway=serving", false},
		{"regular init containers are not analysed", deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers = []corev1.Container{sidecar("migrate")}
		}), nil, "app=serving", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := analysePod(DeploymentWorkload(tc.dep), tc.services)
			if got := roles(v); got != tc.want {
				t.Errorf("roles = %s, want %s", got, tc.want)
			}
			if (v.fallback != "") != tc.fallback {
				t.Errorf("fallback = %q, want one: %v", v.fallback, tc.fallback)
			}
		})
	}
}

// The injected istio-proxy's slow readiness (2s × 30) no longer fails the pod:
// the app's readiness decides when it leaves the endpoints.
func TestMeshProxyIsJudgedSeparately(t *testing.T) {
	istio := sidecar("istio-proxy", withPorts(port("http-envoy-prom", 15090)), readiness(&corev1.Probe{
		ProbeHandler:  httpGet("/healthz/ready", intstr.FromInt32(15021)),
		PeriodSeconds: 2, FailureThreshold: 30, TimeoutSeconds: 3,
	}))
	d := deployment(withContainers(goodContainer("app", readiness(timing(1, 3, 1))), istio))
	env := &Environment{Local: true, Services: []corev1.Service{svc("web", "http")}}
	runCheckCases(t, CheckReadinessReaction, []checkCase{
		{name: "the app reacts in 4s", dep: d, env: env, container: "app", want: StatusPass, contains: []string{"within 4s"}},
		{name: "the proxy is its own hop", dep: d, env: env, container: "istio-proxy", want: StatusPass,
			contains: []string{"mesh proxy, judged separately", "63s", "the pod leaves the endpoints as soon as app fails readiness (up to 4s)"}},
	})
	runCheckCases(t, CheckReadinessProbe, []checkCase{
		{name: "proxy probe", dep: d, env: env, container: "istio-proxy", want: StatusPass, contains: []string{"mesh proxy", "httpGet :15021/healthz/ready"}},
		{name: "proxy without a probe", dep: deployment(withContainers(goodContainer("app"), sidecar("linkerd-proxy"))), container: "linkerd-proxy",
			want: StatusPass, contains: []string{"mesh proxy: no readinessProbe"}},
	})
	withDrain := func(app ctrOpt, proxy corev1.Container, opts ...depOpt) *appsv1.Deployment {
		return deployment(append([]depOpt{withContainers(goodContainer("app", app), proxy)}, opts...)...)
	}
	httpDrain := func(c *corev1.Container) {}
	runCheckCases(t, CheckPreStopHook, []checkCase{
		{name: "istio's default drain covers a 5s drain delay", dep: withDrain(httpDrain, istio), container: "istio-proxy", want: StatusPass,
			contains: []string{"Istio's default terminationDrainDuration keeps it forwarding for 5s, as long as the 5s drain delay"}},
		{name: "istio's default drain is shorter than a 10s preStop sleep", dep: withDrain(execPreStop("sleep", "10"), istio, withGrace(45)), container: "istio-proxy",
			want: StatusWarn, contains: []string{"forwarding only 5s after SIGTERM, less than the app's 10s drain delay"}, fixHas: "ENABLE_NATIVE_SIDECARS"},
		{name: "istio terminationDrainDuration", dep: withDrain(execPreStop("sleep", "10"), istio, withGrace(45),
			withTemplateAnnotations(istioProxyConfigAnnotation, "terminationDrainDuration: 12s")), container: "istio-proxy", want: StatusPass,
			contains: []string{"terminationDrainDuration keeps it forwarding for 12s"}},
		{name: "istio EXIT_ON_ZERO_ACTIVE_CONNECTIONS", dep: withDrain(execPreStop("sleep", "10"), istio, withGrace(45),
			withTemplateAnnotations(istioProxyConfigAnnotation, `{"proxyMetadata": {"EXIT_ON_ZERO_ACTIVE_CONNECTIONS": "true"}}`)), container: "istio-proxy",
			want: StatusPass, contains: []string{"until the app's connections have ended"}},
		{name: "linkerd without wait-before-exit", dep: withDrain(httpDrain, sidecar("linkerd-proxy")), container: "linkerd-proxy", want: StatusWarn,
			contains: []string{"has no preStop wait"}, fixHas: "proxy-wait-before-exit-seconds"},
		{name: "linkerd with wait-before-exit", dep: withDrain(httpDrain, sidecar("linkerd-proxy", execPreStop("/bin/sleep", "10"))), container: "linkerd-proxy",
			want: StatusPass, contains: []string{"preStop exec /bin/sleep 10 keeps it forwarding for 10s"}},
		{name: "native sidecar proxy", dep: deployment(withNativeSidecar(sidecar("linkerd-proxy"))), container: "linkerd-proxy", want: StatusPass,
			contains: []string{"native sidecar"}},
	})
}

func TestServingByService(t *testing.T) {
	exporter := sidecar("exporter", withPorts(port("metrics", 9113)))
	d := deployment(withContainers(goodContainer("app"), exporter))
	env := &Environment{Local: true, Services: []corev1.Service{svc("web", "http")}}
	runCheckCases(t, CheckReadinessProbe, []checkCase{
		{name: "exporter the Service does not target", dep: d, env: env, container: "exporter", want: StatusSkip,
			contains: []string{"no Service targets its ports: not serving traffic"}},
		{name: "without a Service the exporter's port serves", dep: d, container: "exporter", want: StatusFail},
		{name: "fallback is said", dep: d, env: &Environment{Local: true, Services: []corev1.Service{svc("web", "8081")}}, container: "exporter",
			want: StatusFail, contains: []string{"Service web targets port 8081, which no container declares: taken as serving"}},
	})
	runCheckCases(t, CheckPreStopHook, []checkCase{
		{name: "exporter without hook", dep: d, env: env, container: "exporter", want: StatusSkip},
	})
	runCheckCases(t, CheckService, []checkCase{
		{name: "worker in a cluster without Service", dep: deployment(withContainers(sidecar("main"))), env: &Environment{}, want: StatusSkip,
			contains: []string{"a worker"}},
	})
}

// The pod leaves the endpoints with its fastest serving container.
func TestPodReactionIsTheFastestServingContainer(t *testing.T) {
	d := deployment(withContainers(goodContainer("app", readiness(timing(1, 2, 1))), goodContainer("admin", readiness(timing(10, 3, 1)))))
	runCheckCases(t, CheckReadinessReaction, []checkCase{
		{name: "fast container", dep: d, container: "app", want: StatusPass, contains: []string{"within 3s"}},
		{name: "slow container judged by the pod", dep: d, container: "admin", want: StatusPass,
			contains: []string{"this container's readiness notices draining after up to 31s", "as soon as app fails readiness: readiness notices draining within 3s"}},
		{name: "a helper's probe does not count", dep: deployment(withContainers(goodContainer("app", readiness(timing(0, 0, 0))), sidecar("shipper", readiness(timing(1, 1, 1))))),
			container: "app", want: StatusWarn, contains: []string{"31s"}},
	})
}

func TestNativeSidecarChecks(t *testing.T) {
	proxy := sidecar("cloud-sql-proxy", liveness(&corev1.Probe{ProbeHandler: httpGet("/liveness", intstr.FromInt32(9090))}))
	runCheckCases(t, CheckPreStopHook, []checkCase{
		{name: "no hook", dep: deployment(withNativeSidecar(proxy)), container: "cloud-sql-proxy", want: StatusSkip, contains: []string{"native sidecar"}},
		{name: "a sleeping hook runs after the app", dep: deployment(withNativeSidecar(sidecar("cloud-sql-proxy", sleepAction(5)))), container: "cloud-sql-proxy",
			want: StatusPass, contains: []string{"its hook runs after the main containers have exited"}},
	})
	runCheckCases(t, CheckReadinessLiveness, []checkCase{
		{name: "liveness of a native sidecar", dep: deployment(withNativeSidecar(proxy)), container: "cloud-sql-proxy", want: StatusPass},
		{name: "liveness on an undeclared named port", dep: deployment(withContainers(goodContainer("app", liveness(&corev1.Probe{
			ProbeHandler: httpGet("/live", intstr.FromString("admin"))})))), container: "app", want: StatusFail,
			contains: []string{"livenessProbe httpGet :admin/live names port admin", "restarts the container"}},
	})
}
