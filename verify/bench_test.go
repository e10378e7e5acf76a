package verify

// Benchmarks of the contract checks (issue 12): reading a preStop exec hook the
// way its shell would (mvdan.cc/sh parses sh -c scripts), and CheckDeployment
// over whole Deployments. scripts/bench-go.sh runs them.

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// drainScript is a longer preStop script of the kind teams write: a function, a
// trap, a command substitution, a loop, a defaulted sleep.
const drainScript = `set -eu
log() { echo "$(date -u +%FT%TZ) prestop: $*" >&2; }
trap 'log interrupted' TERM
log "draining"
curl -fsS -X POST "http://127.0.0.1:${ADMIN_PORT:-9901}/healthcheck/fail" || log "admin not reachable"
for i in 1 2 3 4 5; do
  active=$(curl -fsS "http://127.0.0.1:${ADMIN_PORT:-9901}/stats?filter=downstream_cx_active" | awk '{s+=$2} END {print s+0}')
  if [ "$active" -eq 0 ]; then
    log "no active connections"
    break
  fi
  sleep 1
done
sleep ${DRAIN_SECONDS:-5}
log "done"`

// readsDrainFile is an exec readinessProbe that fails once /tmp/drain exists.
var readsDrainFile = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test ! -e /tmp/drain"}}}}

// BenchmarkScanPreStop reads one exec preStop hook (scan, verdict, description)
// in the shapes found in real charts.
func BenchmarkScanPreStop(b *testing.B) {
	cases := []struct {
		name      string
		cmd       []string
		readiness *corev1.Probe
		kind      preStopKind
		sleep     time.Duration
	}{
		{"sleep-argv", []string{"sleep", "15"}, nil, preStopSleeps, 15 * time.Second},
		{"sh-c-sleep", []string{"/bin/sh", "-c", "sleep 15"}, nil, preStopSleeps, 15 * time.Second},
		{"nginx-quit-wait", []string{"/bin/sh", "-c", "nginx -s quit; while killall -0 nginx; do sleep 1; done"}, nil, preStopDrains, 0},
		{"istio-drain-listeners", []string{"/bin/sh", "-c", "curl -X POST localhost:15000/drain_listeners?graceful; sleep 5"}, nil, preStopDrains, 5 * time.Second},
		{"istio-drain-argv", []string{"curl", "-X", "POST", "localhost:15000/drain_listeners?graceful"}, nil, preStopDrains, 0},
		{"touch-read-by-readiness", []string{"sh", "-c", "touch /tmp/drain && sleep 20"}, readsDrainFile, preStopDrains, 20 * time.Second},
		{"drain-script-15-lines", []string{"/bin/bash", "-c", drainScript}, nil, preStopDrains, 5 * time.Second},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if h := classifyExec(tc.cmd, tc.readiness); h.kind != tc.kind || h.sleep != tc.sleep {
				b.Fatalf("classifyExec = kind %d, sleep %s (notes %q); want kind %d, sleep %s", h.kind, h.sleep, h.notes, tc.kind, tc.sleep)
			}
			b.ReportAllocs()
			for b.Loop() {
				classifyExec(tc.cmd, tc.readiness)
			}
		})
	}
}

// BenchmarkCheckDeployment runs every contract check on one Deployment: the
// contract-abiding app alone with --local; an Istio-injected app against a live
// cluster (the Deployment, its Service, EndpointSlice, 3 pods and a PDB); and
// a pod of three containers with shell preStop hooks and a Service.
func BenchmarkCheckDeployment(b *testing.B) {
	istio := sidecar("istio-proxy", withPorts(port("http-envoy-prom", 15090)), readiness(&corev1.Probe{
		ProbeHandler:  httpGet("/healthz/ready", intstr.FromInt32(15021)),
		PeriodSeconds: 2, FailureThreshold: 30, TimeoutSeconds: 3,
	}), execPreStop("/bin/sh", "-c", "curl -X POST localhost:15000/drain_listeners?graceful; sleep 5"))
	mesh := deployment(withContainers(goodContainer("app", execPreStop("sleep", "10")), istio), withGrace(45),
		withTemplateAnnotations(istioProxyConfigAnnotation, "terminationDrainDuration: 12s"))
	web := svc("web", "http")
	live := Environment{
		Live:           DeploymentWorkload(steady(mesh)),
		Services:       []corev1.Service{web},
		EndpointSlices: []discoveryv1.EndpointSlice{slice("ns", "web", "web-1", "web-2", "web-3")},
		Pods:           []corev1.Pod{pod("ns", "web-1", webLabels), pod("ns", "web-2", webLabels), pod("ns", "web-3", webLabels)},
		PDBs:           []policyv1.PodDisruptionBudget{pdb("ns", "web", &metav1.LabelSelector{MatchLabels: webLabels})},
	}
	shells := deployment(withContainers(
		goodContainer("nginx", execPreStop("/bin/sh", "-c", "nginx -s quit; while killall -0 nginx; do sleep 1; done")),
		goodContainer("api", withPorts(port("api", 9090)), readiness(readsDrainFile), execPreStop("sh", "-c", "touch /tmp/drain && sleep 20")),
		sidecar("envoy", execPreStop("/bin/bash", "-c", drainScript)),
	), withGrace(60))

	cases := []struct {
		name   string
		d      *appsv1.Deployment
		env    Environment
		checks int
	}{
		{"good-app-local", deployment(), localEnv, 10},
		{"istio-live-cluster", mesh, live, 14},
		{"three-shell-hooks", shells, Environment{Local: true, Services: []corev1.Service{svc("web", "http", "api")}}, 18},
	}
	budget := DefaultGraceBudget()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if r := CheckDeployment(tc.d, budget, tc.env); len(r.Checks) != tc.checks {
				b.Fatalf("%d checks, want %d: %+v", len(r.Checks), tc.checks, r.Checks)
			}
			b.ReportAllocs()
			for b.Loop() {
				CheckDeployment(tc.d, budget, tc.env)
			}
		})
	}
}
