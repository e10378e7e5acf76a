package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// rollOutRound is the Deployment controller's answer to a round's restart:
// ReplicaSet web-HASH of revision with two pods, serving beside the old ones.
func (c *guardedCluster) rollOutRound(hash, revision string) {
	c.t.Helper()
	d := c.stored()
	if _, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Create(c.ctx, rollouttest.TemplatedReplicaSet(hash, revision, d.Spec.Template), metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	for _, name := range []string{"web-" + hash + "-1", "web-" + hash + "-2"} {
		if _, err := c.client.CoreV1().Pods(rollouttest.NS).Create(c.ctx, rollouttest.WebPod(name, hash), metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
		c.setEndpoint(name, true, true, false)
	}
	d.Annotations[workload.RevisionAnnotation] = revision
	c.updateDeployment(d, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 4, AvailableReplicas: 4})
}

// sigkilledAndGone: pod ignores SIGTERM, is killed at the grace deadline and goes.
func (c *guardedCluster) sigkilledAndGone(pod string) {
	c.t.Helper()
	c.sigkill(pod)
	c.waitProgress("pod " + pod + ": container app exited 137")
	c.step(time.Second)
	// Each change seen before the next: the endpoint's removal and the pod's
	// go through two informers, and a late one would take the next step's time.
	c.removeEndpoint(pod)
	c.waitProgress("pod " + pod + ": endpoint removed")
	c.RemovePod(pod)
	c.waitProgress("pod " + pod + ": gone")
}

// round plays one round: the restart, the new pods, each old pod's drain
// (drain), the rollout's completion.
func (c *guardedCluster) round(prefix, generation, hash, revision string, drain func(pod string), oldPods ...string) {
	c.t.Helper()
	c.waitProgress(prefix + "restart requested (generation " + generation + ")")
	c.rollOutRound(hash, revision)
	c.waitProgress(prefix + "2 old pods pending termination")
	for _, p := range oldPods {
		drain(p)
	}
	c.completeRollout()
	c.waitProgress(prefix + "succeeded after")
}

// Two rehearsals of web, each round's report made by the guard from the
// fake API's changes: before, the second round's old pods are SIGKILLed and
// --on-breach=none runs it to the end (exit 3, its JSON saved); after, every
// pod drains by the contract and --compare puts the two side by side.
func TestRehearseCommand(t *testing.T) {
	beforeFile := filepath.Join(t.TempDir(), "before.json")
	t.Run("before", func(t *testing.T) {
		c := restartable(t, servingTemplate("web:1"))
		htmlFile := filepath.Join(t.TempDir(), "rehearsal.html")
		done := c.start("rehearse", "deploy/web", "--rounds", "2", "--on-breach=none", "-o", "json", "--html", htmlFile, "--record-events")
		c.round("round 1/2: ", "2", "bbb", "2", c.drainByContract, "web-aaa-1", "web-aaa-2")
		c.waitProgress("round 2/2: restart requested (generation 3)")
		c.rollOutRound("ccc", "3")
		c.waitProgress("round 2/2: 2 old pods pending termination")
		c.sigkilledAndGone("web-bbb-1")
		c.drainByContract("web-bbb-2")
		c.completeRollout()
		r := c.result(done)
		if r.code != ExitBudgetBreached {
			t.Errorf("exit code %d, want %d (breaches reported with --on-breach=none)\nstderr:\n%s", r.code, ExitBudgetBreached, r.stderr)
		}
		if !strings.Contains(r.stderr, "Warning: no --probe") {
			t.Errorf("stderr lacks the no-probe warning:\n%s", r.stderr)
		}
		if p := rollouttest.DeploymentActions(c.client, "patch"); len(p) != 2 {
			t.Errorf("%d restarts, want 2", len(p))
		}
		assertRolloutGolden(t, "rehearse.before.json", r.stdout)
		// --html: the rounds' pictures on one page, in order, the SIGKILL in round 2.
		page, err := os.ReadFile(htmlFile)
		if err != nil {
			t.Fatalf("--html: %v", err)
		}
		sections := strings.Split(string(page), `<section class="rollout"`)[1:]
		if len(sections) != 2 || strings.Contains(sections[0], "sigkill 137") || !strings.Contains(sections[1], "sigkill 137") {
			t.Errorf("--html page has %d rollout sections, want 2 with the SIGKILL in the second:\n%s", len(sections), page)
		}
		if !strings.Contains(string(page), "<h1>kubectl safe-rollout rehearse deployment/web: 2 of 2 rounds</h1>") {
			t.Errorf("--html page title:\n%.400s", page)
		}
		// --record-events: the cluster is told of round 2's SIGKILL and breach.
		events, err := c.client.CoreV1().Events(rollouttest.NS).List(c.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var told []string
		for _, e := range events.Items {
			told = append(told, e.Reason+" "+e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+": "+e.Message)
		}
		if strings.Contains(strings.Join(told, "\n"), "web-aaa") || !strings.Contains(strings.Join(told, "\n"), "SafeRolloutSIGKILL Deployment/web: pod web-bbb-1: container app SIGKILLed") ||
			!strings.Contains(strings.Join(told, "\n"), "SafeRolloutBreach Deployment/web") {
			t.Errorf("--record-events: Events\n%s\nwant round 2's SIGKILL of web-bbb-1 and the breach on deployment/web, nothing about round 1's pods", strings.Join(told, "\n"))
		}
		if err := os.WriteFile(beforeFile, []byte(r.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after", func(t *testing.T) {
		c := restartable(t, servingTemplate("web:1"))
		done := c.start("rehearse", "deploy/web", "--rounds", "2", "--compare", beforeFile)
		c.round("round 1/2: ", "2", "bbb", "2", c.drainByContract, "web-aaa-1", "web-aaa-2")
		c.round("round 2/2: ", "3", "ccc", "3", c.drainByContract, "web-bbb-1", "web-bbb-2")
		r := c.result(done)
		if r.code != ExitOK {
			t.Errorf("exit code %d, want 0\nstderr:\n%s", r.code, r.stderr)
		}
		assertRolloutGolden(t, "rehearse.after.table", r.stdout)
	})
}

// A breach stops the rehearsal as it stops a restart: the Deployment paused,
// the next round not run, exit 3, and the report says in which round.
func TestRehearseStopsOnBreach(t *testing.T) {
	c := restartable(t, servingTemplate("web:1"))
	done := c.start("rehearse", "deploy/web", "--rounds", "3")
	c.round("round 1/3: ", "2", "bbb", "2", c.drainByContract, "web-aaa-1", "web-aaa-2")
	c.waitProgress("round 2/3: restart requested (generation 3)")
	c.rollOutRound("ccc", "3")
	c.waitProgress("round 2/3: 2 old pods pending termination")
	c.sigkill("web-bbb-1")
	r := c.result(done)
	if r.code != ExitBudgetBreached {
		t.Errorf("exit code %d, want %d", r.code, ExitBudgetBreached)
	}
	for _, want := range []string{
		"Round 2 breach: sigkills: 1 container SIGKILLed at the grace deadline (budget 0) -> paused",
		"Outcome: paused (round 2: 1 container SIGKILLed at the grace deadline (budget 0); paused the rollout",
		"; round 3 not run)",
		"Stopped in round 2 of 3",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !c.stored().Spec.Paused {
		t.Error("the Deployment is not paused")
	}
	if p := rollouttest.DeploymentActions(c.client, "patch"); len(p) != 3 { // two restarts, one pause
		t.Errorf("%d patches, want 3 (two restarts and the pause): round 3 must not restart", len(p))
	}
}

// Bad input: one line, nothing changed.
func TestRehearseBadInput(t *testing.T) {
	restartReport := filepath.Join(t.TempDir(), "restart.json")
	if err := os.WriteFile(restartReport, []byte(`{"namespace":"shop","deployment":"web","outcome":"succeeded"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rehearse", "deploy/web", "--compare", restartReport}, `error: --compare ` + restartReport + `: not a rehearsal report: kind "", want "Rehearsal" (the JSON of rehearse -o json)`},
		{[]string{"rehearse", "deploy/web", "--compare", filepath.Join(t.TempDir(), "missing.json")}, "error: --compare: open "},
		{[]string{"rehearse", "deploy/web", "--rounds", "0"}, "error: --rounds must be between 1 and 100, got 0"},
		{[]string{"rehearse", "-l", "app=web"}, "error: rehearse restarts one workload: name it (TYPE/NAME or TYPE NAME), not -l or --all"},
		{[]string{"rehearse"}, "error: you must specify a Deployment, StatefulSet or DaemonSet"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCmd(t, tc.args...)
			assertOneErrorLine(t, r)
			if !strings.HasPrefix(r.stderr, tc.want) {
				t.Errorf("stderr = %q, want it to start with %q", r.stderr, tc.want)
			}
		})
	}
}
