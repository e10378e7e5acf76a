//go:build e2e

package e2e

// The guard under faults, interrupts and concurrent changes, on the lab.

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// restartAPIServer stops the lab's kube-apiserver for down and starts it again
// (make lab-restart-apiserver), returning once it is ready.
func (l *lab) restartAPIServer(t *testing.T, down time.Duration) {
	t.Helper()
	root, _ := filepath.Abs("../..")
	out, err := exec.Command(filepath.Join(root, "lab/restart-apiserver.sh"), filepath.Join(root, ".lab"),
		strings.TrimSuffix(down.String(), "s")).CombinedOutput()
	if err != nil {
		t.Fatalf("restarting the API server: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// The controllers' own watches back off for up to 30 s after an outage: wait
	// until they work again (a new namespace gets its ServiceAccount) so that the
	// next test does not inherit the outage.
	start := time.Now()
	l.namespace(t)
	t.Logf("controllers caught up %.1fs after the API server was ready", time.Since(start).Seconds())
}

// An API server outage mid-rollout: the guard reconnects, reports the gap, and
// a SIGKILL that happens after it is still caught and acted on.
func TestAPIServerRestartMidRollout(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "stubborn", replicas: 2, grace: 30, args: []string{"--mode=ignore-sigterm"}})
	guard := l.start(t, "-n", ns, "restart", "deploy/stubborn", "-o", "json", "--progress=plain", "--timeout=4m")
	guard.waitStderr(t, "deletion requested")
	// Down while the first old pod ignores its SIGTERM; its SIGKILL comes at
	// 30 s, after the watches are back.
	l.restartAPIServer(t, 5*time.Second)
	r := <-guard.done
	rep := decodeReport(t, r)
	if r.code != 3 || rep.Outcome != "paused" || !anySIGKILL(rep) {
		t.Errorf("exit %d outcome %q (%s): want 3, paused on the SIGKILL after the outage\n%s", r.code, rep.Outcome, rep.Message, r.stderr)
	}
	if len(rep.WatchGaps) == 0 {
		t.Fatalf("no watchGaps in the report; stderr:\n%s", r.stderr)
	}
	for _, g := range rep.WatchGaps {
		if g.To == nil || !g.To.After(g.From) {
			t.Errorf("watch gap of %s from %s never closed: %+v", g.Resource, g.From, g.To)
		}
	}
	if !strings.Contains(r.stderr, "resumed after") {
		t.Errorf("stderr does not say the watch resumed:\n%s", r.stderr)
	}
	if _, paused := l.containerArgs(t, ns, "stubborn"); !paused {
		t.Error("deployment not paused, although the report says paused")
	}
}

// The Deployment deleted while guarded: a clear message and exit 1.
func TestDeploymentDeletedMidGuard(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "doomed", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s"}})
	guard := l.start(t, "-n", ns, "restart", "deploy/doomed", "-o", "json", "--progress=plain", "--timeout=3m")
	guard.waitStderr(t, "deletion requested")
	if err := l.client.AppsV1().Deployments(ns).Delete(context.Background(), "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := <-guard.done
	rep := decodeReport(t, r)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != 1 || rep.Outcome != "deleted" || last != "error: deployment "+ns+"/doomed was deleted while guarded" {
		t.Errorf("exit %d outcome %q, last stderr line %q; want 1, deleted and one clear error", r.code, rep.Outcome, last)
	}
}

// Someone else's `kubectl set image` during a guarded restart is a new
// revision: reported by name and never paused or rolled back; --follow guards
// it to the end.
func TestConcurrentNewRevision(t *testing.T) {
	l := newLab(t)
	for _, follow := range []bool{false, true} {
		name := "unfollowed"
		if follow {
			name = "followed"
		}
		t.Run(name, func(t *testing.T) {
			ns := l.namespace(t)
			l.deploy(t, ns, app{name: "shared", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s"}})
			args := []string{"-n", ns, "restart", "deploy/shared", "-o", "json", "--progress=plain", "--timeout=3m"}
			if follow {
				args = append(args, "--follow")
			}
			guard := l.start(t, args...)
			guard.waitStderr(t, "deletion requested")
			other := []string{"--mode=contract", "--drain-delay=2s"}
			l.patchArgs(t, ns, "shared", other...) // the other release
			r := <-guard.done
			rep := decodeReport(t, r)
			args2, paused := l.containerArgs(t, ns, "shared")
			if paused || args2 != strings.Join(other, " ") {
				t.Errorf("template args %q paused %v: want the other release untouched and not paused", args2, paused)
			}
			if len(rep.Revisions) != 1 || rep.Revisions[0].Revision != "3" || rep.Revisions[0].Followed != follow {
				t.Fatalf("revisions %+v: want revision 3, followed %v\n%s", rep.Revisions, follow, r.stderr)
			}
			if !follow {
				if r.code != 3 || rep.Outcome != "superseded" || !strings.Contains(rep.Message, "revision 3") {
					t.Errorf("exit %d outcome %q (%s): want 3, superseded, naming revision 3", r.code, rep.Outcome, rep.Message)
				}
				return
			}
			if r.code != 0 || rep.Outcome != "succeeded" || rep.ToRevision != "3" {
				t.Errorf("exit %d outcome %q (%s) at revision %q: want 0, succeeded at revision 3\n%s", r.code, rep.Outcome, rep.Message, rep.ToRevision, r.stderr)
			}
			d := l.waitAvailable(t, ns, "shared")
			if d.Status.UpdatedReplicas != 2 {
				t.Errorf("status %+v, want the other release fully rolled out", d.Status)
			}
		})
	}
}

// SIGINT and SIGTERM stop guarding, not the rollout: the report so far is
// printed, the Deployment is left as it says (not paused), exit 130 / 143.
func TestPluginInterrupted(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			ns := l.namespace(t)
			l.deploy(t, ns, app{name: "slow", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s"}})
			guard := l.start(t, "-n", ns, "restart", "deploy/slow", "-o", "json", "--progress=plain", "--timeout=3m")
			guard.waitStderr(t, "deletion requested")
			guard.signal(t, tc.sig)
			r := <-guard.done
			rep := decodeReport(t, r)
			if r.code != tc.code || rep.Outcome != "interrupted" {
				t.Errorf("exit %d outcome %q: want %d and interrupted\n%s", r.code, rep.Outcome, tc.code, r.stderr)
			}
			if len(rep.Pods) != 2 {
				t.Errorf("report so far has %d old pods, want 2", len(rep.Pods))
			}
			if _, paused := l.containerArgs(t, ns, "slow"); paused {
				t.Error("deployment paused by an interrupted guard")
			}
			// The rollout goes on in the cluster without the guard.
			if err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
				d, err := l.client.AppsV1().Deployments(ns).Get(ctx, "slow", metav1.GetOptions{})
				return err == nil && d.Status.UpdatedReplicas == 2 && d.Status.Replicas == 2 && d.Status.AvailableReplicas == 2, err
			}); err != nil {
				t.Errorf("the rollout did not finish without the guard: %v", err)
			}
		})
	}
}
