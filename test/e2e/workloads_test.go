//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// workloadReport is the part of the JSON report about containers and new pods.
type workloadReport struct {
	Outcome   string    `json:"outcome"`
	StartedAt time.Time `json:"startedAt"`
	Pods      []struct {
		Name       string `json:"name"`
		Exit       string `json:"exit"`
		Verdict    string `json:"verdict"`
		Containers []struct {
			Name     string `json:"name"`
			ExitCode int32  `json:"exitCode"`
			Exit     string `json:"exit"`
			Ignored  bool   `json:"ignored"`
		} `json:"containers"`
	} `json:"pods"`
	Summary struct {
		Clean            int `json:"clean"`
		CleanSignalExits int `json:"cleanSignalExits"`
		SIGKILLs         int `json:"sigkills"`
		UncleanExits     int `json:"uncleanExits"`
	} `json:"summary"`
	Breaches []struct {
		Budget  string    `json:"budget"`
		Action  string    `json:"action"`
		Pod     string    `json:"pod"`
		At      time.Time `json:"at"`
		Message string    `json:"message"`
	} `json:"breaches"`
}

func decodeWorkload(t *testing.T, r result) workloadReport {
	t.Helper()
	var rep workloadReport
	decodeJSON(t, r, &rep)
	return rep
}

// A JVM (Spring Boot graceful shutdown) or a Node app with a handler exits 143
// after draining: that is a clean exit, not a failure.
func TestJVMStyleSignalExitIsClean(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "jvm", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s", "--exit-code=143"}})
	r := l.run(t, "-n", ns, "restart", "deploy/jvm", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeWorkload(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Fatalf("exit %d outcome %q, want 0 succeeded: %s", r.code, rep.Outcome, r.stdout)
	}
	if len(rep.Pods) != 3 || rep.Summary.CleanSignalExits != 3 || rep.Summary.Clean != 3 {
		t.Fatalf("summary %+v over %d pods, want 3 clean signal exits", rep.Summary, len(rep.Pods))
	}
	for _, p := range rep.Pods {
		if p.Exit != "clean-signal-exit" || p.Verdict != "ok" {
			t.Errorf("pod %s: exit %q verdict %q, want clean-signal-exit, ok", p.Name, p.Exit, p.Verdict)
		}
	}
}

// The naive app dies on SIGTERM without draining: the default budget of 0
// unclean exits pauses the rollout at its first pod.
func TestNaiveAppPausedAtFirstPod(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "naive", grace: 30, args: []string{"--mode=naive"}})
	r := l.run(t, "-n", ns, "restart", "deploy/naive", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeWorkload(t, r)
	if r.code != 3 || rep.Outcome != "paused" {
		t.Fatalf("exit %d outcome %q, want 3 paused: %s", r.code, rep.Outcome, r.stdout)
	}
	if len(rep.Breaches) != 1 || rep.Breaches[0].Budget != "unclean-exits" || rep.Breaches[0].Action != "paused" {
		t.Fatalf("breaches %+v, want one unclean-exits breach, paused", rep.Breaches)
	}
	if rep.Summary.UncleanExits != 1 {
		t.Errorf("summary %+v, want the first pod's unclean exit only", rep.Summary)
	}
	d, err := l.client.AppsV1().Deployments(ns).Get(context.Background(), "naive", metav1.GetOptions{})
	if err != nil || !d.Spec.Paused {
		t.Errorf("deployment paused = %v (%v), want paused as the report says", d.Spec.Paused, err)
	}
}

// A sidecar that ignores SIGTERM is SIGKILLed at the grace deadline: found and
// attributed to the sidecar; --ignore-container accepts it.
func TestSidecarSIGKILLAttributedAndIgnorable(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	sidecar := corev1.Container{
		Name: "stubborn-sidecar", Image: drainAppImage, ImagePullPolicy: corev1.PullNever,
		Args: []string{"--mode=ignore-sigterm", "--http-addr=:8081", "--grpc-addr=:9091"},
	}
	l.deploy(t, ns, app{name: "sidecar", replicas: 2, grace: 4, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}, sidecars: []corev1.Container{sidecar}})

	r := l.run(t, "-n", ns, "restart", "deploy/sidecar", "--skip-preflight", "--on-breach=none", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeWorkload(t, r)
	if r.code != 3 || len(rep.Breaches) == 0 || rep.Breaches[0].Budget != "sigkills" {
		t.Fatalf("exit %d breaches %+v, want 3 and a sigkills breach: %s", r.code, rep.Breaches, r.stdout)
	}
	for _, p := range rep.Pods {
		byName := map[string]string{}
		for _, c := range p.Containers {
			byName[c.Name] = c.Exit
		}
		if p.Exit != "sigkill" || byName["stubborn-sidecar"] != "sigkill" || byName["app"] != "clean" {
			t.Errorf("pod %s: exit %q containers %v, want the sidecar SIGKILLed and the app clean", p.Name, p.Exit, byName)
		}
	}

	r = l.run(t, "-n", ns, "restart", "deploy/sidecar", "--skip-preflight", "--ignore-container", "stubborn-sidecar", "-o", "json", "--progress=plain", "--timeout=3m")
	rep = decodeWorkload(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Summary.SIGKILLs != 0 {
		t.Fatalf("with --ignore-container: exit %d outcome %q summary %+v, want 0 succeeded: %s", r.code, rep.Outcome, rep.Summary, r.stdout)
	}
	for _, p := range rep.Pods {
		ignored := false
		for _, c := range p.Containers {
			ignored = ignored || (c.Name == "stubborn-sidecar" && c.Ignored && c.Exit == "sigkill")
		}
		if !ignored || p.Exit != "clean" {
			t.Errorf("pod %s: exit %q, containers %+v; want clean with the sidecar's SIGKILL shown as ignored", p.Name, p.Exit, p.Containers)
		}
	}
}

// A release whose new pods crash-loop is caught within seconds, not after the
// progress deadline.
func TestCrashLoopingReleaseCaughtFast(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "crashy", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}})
	l.patchArgs(t, ns, "crashy", "--mode=no-such-mode") // exits 2 at start: CrashLoopBackOff
	r := l.run(t, "-n", ns, "watch", "deploy/crashy", "--on-breach=pause", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeWorkload(t, r)
	if r.code != 3 || rep.Outcome != "paused" || len(rep.Breaches) != 1 || rep.Breaches[0].Budget != "new-pod-restarts" {
		t.Fatalf("exit %d outcome %q breaches %+v, want 3, paused, a new-pod-restarts breach: %s", r.code, rep.Outcome, rep.Breaches, r.stdout)
	}
	b := rep.Breaches[0]
	if took := b.At.Sub(rep.StartedAt); took > 30*time.Second {
		t.Errorf("breach %s after the guard started, want within 30s", took)
	}
	t.Logf("caught %s after the guard started: %s", b.At.Sub(rep.StartedAt), b.Message)
}

// A bare pod carrying the app's labels (a debug copy) is not one of the
// Deployment's pods: restart and watch still end.
func TestBarePodWithTheAppsLabelsDoesNotBlock(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	d := l.deploy(t, ns, app{name: "web", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}})
	bare := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-debug", Namespace: ns, Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
	if _, err := l.client.CoreV1().Pods(ns).Create(context.Background(), bare, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := l.run(t, "-n", ns, "restart", "deploy/web", "-o", "json", "--progress=plain", "--timeout=2m")
	rep := decodeWorkload(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" || len(rep.Pods) != 2 {
		t.Fatalf("restart: exit %d outcome %q, %d old pods; want 0, succeeded, the 2 pods of the Deployment: %s", r.code, rep.Outcome, len(rep.Pods), r.stdout)
	}
	for _, p := range rep.Pods {
		if p.Name == "web-debug" {
			t.Errorf("the bare pod is reported as an old pod")
		}
	}
	if w := l.run(t, "-n", ns, "watch", "deploy/web", "-o", "json", "--progress=plain", "--timeout=1m"); w.code != 0 {
		t.Errorf("watch: exit %d, want 0 (no rollout)", w.code)
	}
}

// Most users probe a gRPC server's overall health (grpc://IP:9090, service "").
// A draining server answers NOT_SERVING there by design; like a health-checking
// client the probe re-dials, and the contract app rolls with no probe error.
func TestGRPCOverallHealthProbeOfTheContractApp(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "grpc", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s"}})
	ip := l.clusterIP(t, ns, "grpc")
	l.waitAnswering(t, "http://"+ip+"/")
	r := l.run(t, "-n", ns, "restart", "deploy/grpc", "--probe", "grpc://"+ip+":9090", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if rep.Probe == nil || rep.Probe.Requests == 0 {
		t.Fatalf("no probe traffic in the report: %s", r.stdout)
	}
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Probe.Errors != 0 {
		t.Fatalf("exit %d outcome %q probe errors %d %v, want 0, succeeded, no error", r.code, rep.Outcome, rep.Probe.Errors, rep.Probe.ErrorsByClass)
	}
	t.Logf("%d gRPC health probes of the overall server, 0 errors", rep.Probe.Requests)
}
