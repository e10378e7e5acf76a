//go:build e2e

package e2e

// Every traffic check that can fail is calibrated here: the configuration it
// fails on, rolled under load on the lab, produces probe errors, SIGKILLs or a
// rollout that never finishes. The README's check table names these tests.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// preflightFindings runs preflight on a live Deployment and returns its exit code
// and each check's "status: message" by check ID (the app container's for
// per-container checks).
func (l *lab) preflightFindings(t *testing.T, ns, name string) (int, map[string]string) {
	t.Helper()
	r := l.run(t, "-n", ns, "preflight", "deploy/"+name, "-o", "json")
	var rep struct {
		Objects []struct {
			Checks []struct{ ID, Status, Container, Message string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Objects) != 1 {
		t.Fatalf("preflight deploy/%s: exit %d, not a report of one object (%v):\n%s%s", name, r.code, err, r.stdout, r.stderr)
	}
	found := map[string]string{}
	for _, c := range rep.Objects[0].Checks {
		if c.Container == "" || c.Container == "app" {
			found[c.ID] = c.Status + ": " + c.Message
		}
	}
	return r.code, found
}

func wantFinding(t *testing.T, findings map[string]string, id, status, has string) {
	t.Helper()
	if got := findings[id]; !strings.HasPrefix(got, status+": ") || !strings.Contains(got, has) {
		t.Errorf("preflight %s = %q, want %s containing %q", id, got, status, has)
	}
}

// readiness-probe fails a serving container without a readinessProbe. The harm
// is at start-up: a new pod gets traffic while it warms up. The same app with
// its readinessProbe rolls with no errors.
func TestCalibrationMissingReadinessProbe(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		name        string
		noReadiness bool
	}{{"warmup-probed", false}, {"warmup-unprobed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := l.namespace(t)
			a := app{name: "warmup", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s", "--ready-delay=5s"}}
			if tc.noReadiness {
				a.mutate = func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil }
			}
			l.deploy(t, ns, a)
			ip := l.clusterIP(t, ns, "warmup")
			l.waitAnswering(t, "http://"+ip+"/")

			code, findings := l.preflightFindings(t, ns, "warmup")
			r := l.run(t, "-n", ns, "restart", "deploy/warmup", "--skip-preflight", "--on-breach=none",
				"--probe", "http://"+ip+"/", "--probe-rate=100", "-o", "json", "--progress=plain", "--timeout=3m")
			rep := decodeBreach(t, r)
			if rep.Probe == nil || rep.Probe.Requests == 0 {
				t.Fatalf("no probe traffic: exit %d\n%s", r.code, r.stderr)
			}
			if !tc.noReadiness {
				wantFinding(t, findings, "readiness-probe", "pass", "readinessProbe httpGet")
				if code != 0 || r.code != 0 || rep.Probe.Errors != 0 {
					t.Errorf("with a readinessProbe: preflight exit %d, restart exit %d, %d of %d requests failed; want 0, 0, 0",
						code, r.code, rep.Probe.Errors, rep.Probe.Requests)
				}
				return
			}
			wantFinding(t, findings, "readiness-probe", "fail", "no readinessProbe")
			if code != 2 {
				t.Errorf("preflight exit %d, want 2", code)
			}
			if r.code != 3 || rep.Probe.ErrorsByClass["http-5xx"] == 0 {
				t.Errorf("without a readinessProbe: restart exit %d, errors %v; want 3 and 5xx from the warming pods", r.code, rep.Probe.ErrorsByClass)
			}
			t.Logf("without a readinessProbe: %d of %d requests failed %v", rep.Probe.Errors, rep.Probe.Requests, rep.Probe.ErrorsByClass)
		})
	}
}

// readiness-probe fails a probe on a port name the container does not declare:
// the kubelet fails it, so the new pods never become ready and the rollout
// never finishes.
func TestCalibrationProbeOnUndeclaredPort(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "port", replicas: 2, grace: 10, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}})
	// The release renames the probe's port to one the container does not declare.
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","readinessProbe":{"httpGet":{"path":"/health/ready","port":"admin"}}}]}}}}`
	if _, err := l.client.AppsV1().Deployments(ns).Patch(context.Background(), "port", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	code, findings := l.preflightFindings(t, ns, "port")
	wantFinding(t, findings, "readiness-probe", "fail", "names port admin, which the container does not declare")
	if code != 2 {
		t.Errorf("preflight exit %d, want 2", code)
	}
	// The guard's deadline passes with the new pod never ready: a breach, rolled
	// back by default (exit 4).
	r := l.run(t, "-n", ns, "watch", "deploy/port", "-o", "json", "--progress=plain", "--timeout=20s")
	if r.code != 4 || !strings.Contains(r.stderr, "not complete after 20s: 1 of 2 new pods updated") {
		t.Errorf("watch: exit %d, want 4 and the new pod never ready\n%s", r.code, r.stderr)
	}
}

// prestop-hook and grace-budget fail a preStop sleep that fills the grace
// period: SIGTERM comes only after it, with the kubelet's 2s extension, and an
// app that drains on SIGTERM is SIGKILLed.
func TestCalibrationPreStopSleepFillsGrace(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "sleepy", replicas: 2, grace: 10, args: []string{"--mode=contract", "--drain-delay=3s"},
		mutate: func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
		}})
	code, findings := l.preflightFindings(t, ns, "sleepy")
	wantFinding(t, findings, "prestop-hook", "fail", "10s")
	wantFinding(t, findings, "grace-budget", "fail", "not longer than the 10s a preStop hook sleeps")
	if code != 2 {
		t.Errorf("preflight exit %d, want 2", code)
	}
	r := l.run(t, "-n", ns, "restart", "deploy/sleepy", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if r.code != 3 || !anySIGKILL(rep) {
		t.Errorf("restart: exit %d, pods %+v; want 3 and a SIGKILLed old pod", r.code, rep.Pods)
	}
}

// grace-budget fails a grace period shorter than the stated inputs: an app that
// really drains for 8s (stated in its annotation) under a 5s grace period is
// SIGKILLed mid-drain.
func TestCalibrationGraceShorterThanStatedDrain(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "short", replicas: 2, grace: 5, args: []string{"--mode=contract", "--drain-delay=8s"},
		mutate: func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{"safe-rollout.io/drain-delay": "8s"}
		}})
	code, findings := l.preflightFindings(t, ns, "short")
	wantFinding(t, findings, "grace-budget", "fail", "terminationGracePeriodSeconds 5 <")
	if code != 2 {
		t.Errorf("preflight exit %d, want 2", code)
	}
	r := l.run(t, "-n", ns, "restart", "deploy/short", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if r.code != 3 || !anySIGKILL(rep) {
		t.Errorf("restart: exit %d, pods %+v; want 3 and a SIGKILLed old pod", r.code, rep.Pods)
	}
}

func anySIGKILL(rep rolloutReport) bool {
	for _, p := range rep.Pods {
		if p.SIGKILL {
			return true
		}
	}
	return false
}

// rollout-strategy fails Recreate for a serving app: every old pod stops before
// a new one starts, and requests meanwhile fail.
func TestCalibrationRecreateStrategy(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "recreate", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"},
		strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}})
	ip := l.clusterIP(t, ns, "recreate")
	l.waitAnswering(t, "http://"+ip+"/")
	code, findings := l.preflightFindings(t, ns, "recreate")
	wantFinding(t, findings, "rollout-strategy", "fail", "Recreate")
	if code != 2 {
		t.Errorf("preflight exit %d, want 2", code)
	}
	r := l.run(t, "-n", ns, "restart", "deploy/recreate", "--skip-preflight", "--on-breach=none",
		"--probe", "http://"+ip+"/", "--probe-rate=100", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if r.code != 3 || rep.Probe == nil || rep.Probe.Errors == 0 {
		t.Fatalf("restart: exit %d, probe %+v; want 3 and failed requests while no pod runs", r.code, rep.Probe)
	}
	t.Logf("Recreate: %d of %d requests failed %v", rep.Probe.Errors, rep.Probe.Requests, rep.Probe.ErrorsByClass)
}
