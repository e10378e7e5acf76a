//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// breachReport is the part of the JSON report about budgets and probes.
type breachReport struct {
	Outcome  string `json:"outcome"`
	Message  string `json:"message"`
	Breaches []struct {
		Budget               string   `json:"budget"`
		Action               string   `json:"action"`
		Pod                  string   `json:"pod"`
		ActionLatencySeconds *float64 `json:"actionLatencySeconds"`
		Attempts             []struct {
			At    time.Time `json:"at"`
			Error string    `json:"error"`
		} `json:"attempts"`
	} `json:"breaches"`
	Probe *struct {
		Requests      int            `json:"requests"`
		Skipped       int            `json:"skipped"`
		Errors        int            `json:"errors"`
		ErrorsByClass map[string]int `json:"errorsByClass"`
		Attribution   []struct {
			Pod    string `json:"pod"`
			Errors int    `json:"errors"`
		} `json:"attribution"`
	} `json:"probe"`
}

func decodeBreach(t *testing.T, r result) breachReport {
	t.Helper()
	var rep breachReport
	decodeJSON(t, r, &rep)
	t.Logf("outcome %s: %s; breaches %+v", rep.Outcome, rep.Message, rep.Breaches)
	return rep
}

func (l *lab) clusterIP(t *testing.T, ns, svc string) string {
	t.Helper()
	s, err := l.client.CoreV1().Services(ns).Get(context.Background(), svc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Spec.ClusterIP
}

// patchArgs changes the app container's arguments: a new release.
func (l *lab) patchArgs(t *testing.T, ns, name string, args ...string) {
	t.Helper()
	quoted, _ := json.Marshal(args)
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","args":` + string(quoted) + `}]}}}}`
	if _, err := l.client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (l *lab) containerArgs(t *testing.T, ns, name string) (string, bool) {
	t.Helper()
	d, err := l.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "), d.Spec.Paused
}

func TestPausedAfterFirstSIGKILL(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "stubborn", grace: 5, args: []string{"--mode=ignore-sigterm"}})

	r := l.run(t, "-n", ns, "restart", "deploy/stubborn", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if r.code != 3 || rep.Outcome != "paused" {
		t.Fatalf("exit %d outcome %q, want 3 and paused", r.code, rep.Outcome)
	}
	if len(rep.Breaches) != 1 || rep.Breaches[0].Budget != "sigkills" || rep.Breaches[0].Action != "paused" || rep.Breaches[0].ActionLatencySeconds == nil || rep.Breaches[0].Pod == "" {
		t.Fatalf("breaches %+v, want one sigkills breach, paused, with its pod and action latency", rep.Breaches)
	}
	t.Logf("action latency %.3fs", *rep.Breaches[0].ActionLatencySeconds)
	if _, paused := l.containerArgs(t, ns, "stubborn"); !paused {
		t.Errorf("deployment not paused although the report says so")
	}
}

func TestBadReleaseRolledBackOnProbeErrors(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	good := []string{"--mode=contract", "--drain-delay=2s"}
	l.deploy(t, ns, app{name: "shop", grace: 30, preStop: true, args: good})
	ip := l.clusterIP(t, ns, "shop")
	l.waitAnswering(t, "http://"+ip+"/")

	l.patchArgs(t, ns, "shop", "--mode=contract", "--drain-delay=2s", "--error-rate=0.5")
	r := l.run(t, "-n", ns, "watch", "deploy/shop", "--on-breach=rollback", "--probe", "http://"+ip+"/", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if r.code != 4 || rep.Outcome != "rolled-back" {
		t.Fatalf("exit %d outcome %q, want 4 and rolled-back", r.code, rep.Outcome)
	}
	if len(rep.Breaches) == 0 || rep.Breaches[0].Budget != "probe-errors" || rep.Breaches[0].Action != "rolled-back" {
		t.Fatalf("breaches %+v, want a probe-errors breach handled by rolling back", rep.Breaches)
	}
	if rep.Probe == nil || rep.Probe.ErrorsByClass["http-5xx"] == 0 {
		t.Errorf("probe %+v: want http-5xx errors", rep.Probe)
	}
	args, _ := l.containerArgs(t, ns, "shop")
	if args != strings.Join(good, " ") {
		t.Errorf("template args %q after rollback, want the previous release's %q", args, strings.Join(good, " "))
	}
	// The Deployment controller renumbers revision 1 as 3 once it observes the
	// rollback: the plugin returns as soon as the rollback is written.
	d, _ := l.client.AppsV1().Deployments(ns).Get(context.Background(), "shop", metav1.GetOptions{})
	var revs map[string]*appsv1.ReplicaSet
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		revs = l.revisions(t, ns, d)
		return revs["3"] != nil && revs["1"] == nil, nil
	})
	if err != nil {
		t.Errorf("revisions %v: want 2 and 3 (revision 1 re-used as 3), as kubectl rollout undo leaves them", keys(revs))
	}
}

func TestStuckReleaseIsAProgressBreach(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "stuck", grace: 10, preStop: true, args: []string{"--mode=contract"}})

	// The new pods never become ready.
	l.patchArgs(t, ns, "stuck", "--mode=contract", "--ready-delay=1h")
	none := l.run(t, "-n", ns, "watch", "deploy/stuck", "--on-breach=none", "--timeout=15s", "-o", "json", "--progress=plain")
	if rep := decodeBreach(t, none); none.code != 5 || rep.Outcome != "timeout" {
		t.Fatalf("--on-breach=none: exit %d outcome %q, want 5 and timeout", none.code, rep.Outcome)
	}
	back := l.run(t, "-n", ns, "watch", "deploy/stuck", "--on-breach=rollback", "--timeout=15s", "-o", "json", "--progress=plain")
	rep := decodeBreach(t, back)
	if back.code != 4 || rep.Outcome != "rolled-back" || len(rep.Breaches) != 1 || rep.Breaches[0].Budget != "progress" {
		t.Fatalf("--on-breach=rollback: exit %d outcome %q breaches %+v, want 4, rolled-back, a progress breach", back.code, rep.Outcome, rep.Breaches)
	}
	if args, _ := l.containerArgs(t, ns, "stuck"); args != "--mode=contract" {
		t.Errorf("template args %q after rollback, want --mode=contract", args)
	}
}

// Someone else's release while a stuck one is guarded with --on-breach=rollback:
// the guard sees the new revision and ends (superseded) instead of rolling
// back over it; the other release is left exactly as shipped. (A change that
// lands between a breach and its action is refused by the action's template
// precondition: rollout/actions tests.)
func TestRollbackRefusedWhenSomeoneElseChangedTheTemplate(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "shared", grace: 10, preStop: true, args: []string{"--mode=contract"}})
	l.patchArgs(t, ns, "shared", "--mode=contract", "--ready-delay=1h")

	guard := l.start(t, "-n", ns, "watch", "deploy/shared", "--on-breach=rollback", "--timeout=15s", "-o", "json", "--progress=plain")
	guard.waitStderr(t, "watching deployment") // someone else ships another release while the guard runs
	other := []string{"--mode=contract", "--ready-delay=2h"}
	l.patchArgs(t, ns, "shared", other...)
	r := <-guard.done
	rep := decodeBreach(t, r)
	if r.code != 3 || rep.Outcome != "superseded" || len(rep.Breaches) != 0 || !strings.Contains(rep.Message, "revision 3") {
		t.Fatalf("exit %d outcome %q (%s) breaches %+v, want 3, superseded by revision 3, nothing acted", r.code, rep.Outcome, rep.Message, rep.Breaches)
	}
	if args, _ := l.containerArgs(t, ns, "shared"); args != strings.Join(other, " ") {
		t.Errorf("template args %q, want the other release %q untouched", args, strings.Join(other, " "))
	}
}

func TestContractAppProbesStayClean(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "clean", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s"}})
	ip := l.clusterIP(t, ns, "clean")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/clean", "--probe", "http://"+ip+"/", "--probe", "grpc://"+ip+":9090/saferollout.drainapp.v1.DrainApp", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if rep.Probe == nil || rep.Probe.Requests == 0 {
		t.Fatalf("no probe traffic in the report: %s", r.stdout)
	}
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Probe.Errors != 0 {
		t.Fatalf("exit %d outcome %q probe errors %d %v, want 0, succeeded, 0 errors", r.code, rep.Outcome, rep.Probe.Errors, rep.Probe.ErrorsByClass)
	}
	t.Logf("%d probe requests, 0 errors", rep.Probe.Requests)
}

func TestNaiveAppProbeErrorsAttributedToTerminatingPods(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "naive", grace: 30, args: []string{"--mode=naive"}})
	ip := l.clusterIP(t, ns, "naive")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/naive", "--probe", "http://"+ip+"/", "--probe-new-connections", "--probe-rate=200", "--max-unclean-exits=-1", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if r.code != 3 || rep.Outcome != "paused" {
		t.Fatalf("exit %d outcome %q, want 3 and paused", r.code, rep.Outcome)
	}
	if rep.Probe == nil || rep.Probe.Errors == 0 || len(rep.Probe.Attribution) == 0 {
		t.Fatalf("probe %+v: want errors attributed to terminating pods", rep.Probe)
	}
	if len(rep.Breaches) == 0 || rep.Breaches[0].Budget != "probe-errors" {
		t.Errorf("breaches %+v, want a probe-errors breach", rep.Breaches)
	}
}
