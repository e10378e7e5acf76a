//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestRestartContractApp(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	before := l.deploy(t, ns, app{name: "contract", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s", "--shutdown-timeout=10s"}})

	r := l.run(t, "-n", ns, "restart", "deploy/contract", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Fatalf("exit %d, outcome %q (%s), want 0 and succeeded", r.code, rep.Outcome, rep.Message)
	}
	if len(rep.Pods) != 3 {
		t.Fatalf("report has %d pods, want the 3 old ones: %+v", len(rep.Pods), rep.Pods)
	}
	for _, p := range rep.Pods {
		if p.SIGKILL || p.ExitCode == nil || *p.ExitCode != 0 {
			t.Errorf("pod %s: sigkill=%v exitCode=%v, want a clean exit", p.Name, p.SIGKILL, p.ExitCode)
		}
		if !p.ServingFalseBeforeExit || p.SecondsToNotServing == nil {
			t.Errorf("pod %s: serving=false was not reached before the container exited", p.Name)
		}
		if p.SecondsToEndpointRemoval == nil || p.TerminationSeconds == nil {
			t.Errorf("pod %s: timeline incomplete: %+v", p.Name, p)
		}
	}
	if rep.Propagation.Samples != 3 || rep.Propagation.P50 == nil || rep.Propagation.Max == nil || rep.RecommendedGraceSeconds == nil {
		t.Errorf("propagation/recommendation missing: %+v, recommended %v", rep.Propagation, rep.RecommendedGraceSeconds)
	}

	// Same history as `kubectl rollout restart`: a new revision whose template
	// differs from the old one only by the restartedAt annotation.
	after, err := l.client.AppsV1().Deployments(ns).Get(context.Background(), "contract", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs := l.revisions(t, ns, after)
	if len(revs) != 2 || revs["1"] == nil || revs["2"] == nil {
		t.Fatalf("revisions %v, want 1 and 2", keys(revs))
	}
	restartedAt := after.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
	if _, err := time.Parse(time.RFC3339, restartedAt); err != nil {
		t.Fatalf("restartedAt annotation %q is not RFC 3339", restartedAt)
	}
	if got := revs["2"].Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; got != restartedAt {
		t.Errorf("revision 2 restartedAt %q, want %q", got, restartedAt)
	}
	if before.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != "" {
		t.Errorf("revision 1 already had restartedAt")
	}
	if rep.FromRevision != "1" || rep.ToRevision != "2" {
		t.Errorf("report revisions %s -> %s, want 1 -> 2", rep.FromRevision, rep.ToRevision)
	}
}

func TestRestartIgnoreSIGTERMIsSIGKILLed(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "stubborn", grace: 5, args: []string{"--mode=ignore-sigterm"}})

	// --on-breach=none: observe every pod being killed (the default pauses at the first).
	r := l.run(t, "-n", ns, "restart", "deploy/stubborn", "--skip-preflight", "--on-breach=none", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if len(rep.Pods) != 3 {
		t.Fatalf("report has %d pods, want 3: %s", len(rep.Pods), r.stdout)
	}
	for _, p := range rep.Pods {
		if !p.SIGKILL || p.ExitCode == nil || *p.ExitCode != 137 {
			t.Errorf("pod %s: sigkill=%v exitCode=%v, want sigkill and 137", p.Name, p.SIGKILL, p.ExitCode)
		}
	}
	if r.code != 3 || rep.Outcome != "failed" {
		t.Errorf("exit %d outcome %q, want 3 and failed (SIGKILL budget 0, no action)", r.code, rep.Outcome)
	}
}

func TestRestartNaiveAppDiesWithoutDraining(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "naive", grace: 30, args: []string{"--mode=naive"}})

	r := l.run(t, "-n", ns, "restart", "deploy/naive", "--skip-preflight", "--max-unclean-exits=-1", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if len(rep.Pods) != 3 {
		t.Fatalf("report has %d pods, want 3: %s", len(rep.Pods), r.stdout)
	}
	for _, p := range rep.Pods {
		if p.Exit != "died-without-drain" || p.SIGKILL {
			t.Errorf("pod %s: exit %q (code %v), want died-without-drain", p.Name, p.Exit, p.ExitCode)
		}
	}
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Errorf("exit %d outcome %q, want 0/succeeded (unclean exits only reported with --max-unclean-exits=-1)", r.code, rep.Outcome)
	}
}

func TestRestartRefusedWhenPreflightFails(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	before := l.deploy(t, ns, app{name: "recreate", grace: 30, preStop: true, args: []string{"--mode=contract"},
		strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}})

	r := l.run(t, "-n", ns, "restart", "deploy/recreate")
	if r.code != 2 || !strings.Contains(r.stderr, "nothing was changed") || !strings.Contains(r.stdout, "rollout-strategy") {
		t.Fatalf("exit %d, want 2 with the preflight table and a one-line error", r.code)
	}
	after, err := l.client.AppsV1().Deployments(ns).Get(context.Background(), "recreate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation {
		t.Errorf("generation %d -> %d: a failed preflight changed the Deployment", before.Generation, after.Generation)
	}
}

func TestWatchWithoutRolloutExitsZero(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "idle", grace: 30, preStop: true, args: []string{"--mode=contract"}})

	r := l.run(t, "-n", ns, "watch", "deploy/idle")
	if r.code != 0 || !strings.Contains(r.stdout, "no rollout in progress") {
		t.Fatalf("exit %d stdout %q, want 0 and 'no rollout in progress'", r.code, r.stdout)
	}
}

func TestWatchGuardsAnImageChange(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "release", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s"}})

	// What `kubectl apply` of a new release does: change the pod template.
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","args":["--mode=contract","--drain-delay=2s"]}]}}}}`
	if _, err := l.client.AppsV1().Deployments(ns).Patch(context.Background(), "release", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := l.run(t, "-n", ns, "watch", "deploy/release", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" || len(rep.Pods) != 3 {
		t.Fatalf("exit %d outcome %q pods %d, want 0, succeeded, 3", r.code, rep.Outcome, len(rep.Pods))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
