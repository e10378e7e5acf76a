//go:build e2e

package e2e

// The guard under faults, interrupts and concurrent changes, on the lab.

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
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

// apiServerAddr is host:port of the lab's API server, from its kubeconfig.
func (l *lab) apiServerAddr(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(l.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			t.Fatal(err)
		}
		return u.Host
	}
	t.Fatal("the lab's kubeconfig names no cluster")
	return ""
}

// The guard blind while the cluster goes on: its connection is cut while old
// pods drain, exit and disappear. Every old pod ends as its true class (the
// app drains cleanly: clean) or unobserved, never a guessed class; what the
// watch replayed after the gap carries no timing or ordering claim.
func TestGuardCutOffWhilePodsExit(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "blind", replicas: 3, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s", "--shutdown-timeout=2s"}})
	proxy := newCutProxy(t, l.apiServerAddr(t))
	guard := l.startWith(t, proxy.kubeconfig(t, l), "-n", ns, "restart", "deploy/blind", "-o", "json", "--progress=plain", "--timeout=4m")
	guard.waitStderr(t, "deletion requested")
	proxy.Cut()
	time.Sleep(12 * time.Second) // the fault: long enough for old pods to exit and vanish unseen
	proxy.Restore()
	r := <-guard.done
	rep := decodeReport(t, r)
	hidden := 0
	for _, p := range rep.Pods {
		switch {
		case p.Exit == "unobserved":
			hidden++
			if p.ExitCode != nil || p.SIGKILL {
				t.Errorf("pod %s unobserved but claims exit %v, sigkill %v", p.Name, *p.ExitCode, p.SIGKILL)
			}
		case p.Exit != "clean":
			t.Errorf("pod %s ended %q (verdict %s): the app drains cleanly, so only clean or unobserved are true", p.Name, p.Exit, p.Verdict)
		case p.SeenAfterWatchGap:
			hidden++
			if p.Verdict != "ok" || p.SecondsToNotServing != nil || p.TerminationSeconds != nil {
				t.Errorf("pod %s replayed after the gap: verdict %q, figures %v %v; want ok and no timing claimed",
					p.Name, p.Verdict, p.SecondsToNotServing, p.TerminationSeconds)
			}
		case p.Verdict != "ok":
			t.Errorf("pod %s seen live: verdict %q, want ok", p.Name, p.Verdict)
		}
	}
	if hidden == 0 {
		t.Errorf("no pod was unobserved or replayed after the gap: the cut hid nothing (pods %+v)", rep.Pods)
	}
	if len(rep.WatchGaps) == 0 {
		t.Errorf("no watchGaps reported for the cut")
	}
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Errorf("exit %d outcome %q (%s): want 0 and succeeded (nothing bad was seen)\n%s", r.code, rep.Outcome, rep.Message, r.stderr)
	}
	t.Logf("%d of %d old pods behind the gap; gaps %+v", hidden, len(rep.Pods), rep.WatchGaps)
}

// A breach while the API server is unreachable: the pause is retried with
// backoff, each attempt recorded; it lands once the API is back, or, past
// --action-timeout, the action fails with the API's message. Exit 3 either way.
func TestBreachWhileAPIUnreachable(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		name          string
		cut           time.Duration
		actionTimeout string
		wantAction    string
	}{
		{"pause lands after the outage", 6 * time.Second, "30s", "paused"},
		{"pause fails past the action timeout", 9 * time.Second, "4s", "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := l.namespace(t)
			l.deploy(t, ns, app{name: "web", replicas: 3, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s"}})
			// The probe target is on loopback, in this process: it fails on cue.
			var failing atomic.Bool
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if failing.Load() {
					http.Error(w, "staged failure", http.StatusInternalServerError)
				}
			}))
			defer target.Close()
			proxy := newCutProxy(t, l.apiServerAddr(t))
			guard := l.startWith(t, proxy.kubeconfig(t, l), "-n", ns, "restart", "deploy/web", "--probe", target.URL+"/",
				"--action-timeout="+tc.actionTimeout, "-o", "json", "--progress=plain", "--timeout=4m")
			guard.waitStderr(t, "deletion requested")
			proxy.Cut()
			failing.Store(true)
			guard.waitStderr(t, "budget breached")
			time.Sleep(tc.cut) // the outage goes on
			proxy.Restore()
			r := <-guard.done
			rep := decodeBreach(t, r)
			if r.code != 3 || len(rep.Breaches) == 0 {
				t.Fatalf("exit %d breaches %+v: want 3 and the probe-errors breach\n%s", r.code, rep.Breaches, r.stderr)
			}
			b := rep.Breaches[0]
			if !strings.HasPrefix(b.Action, tc.wantAction) || len(b.Attempts) < 2 {
				t.Errorf("breach action %q after %d attempts: want %s after retries\n%s", b.Action, len(b.Attempts), tc.wantAction, r.stderr)
			}
			if testing.Verbose() {
				for _, a := range b.Attempts {
					t.Logf("attempt at %s: %.120s", a.At.Format("15:04:05.000"), a.Error)
				}
			}
			for _, a := range b.Attempts[:len(b.Attempts)-1] {
				if a.Error == "" {
					t.Errorf("attempt at %s before the last has no error", a.At)
				}
			}
			_, paused := l.containerArgs(t, ns, "web")
			if paused != (tc.wantAction == "paused") {
				t.Errorf("deployment paused = %v, but the report says %q", paused, b.Action)
			}
			if tc.wantAction == "failed" && !strings.Contains(b.Action, "failed:") {
				t.Errorf("action %q does not carry the API's message", b.Action)
			}
		})
	}
}

// A probe target that accepts connections and never answers: the guard is not
// held up (the rollout completes and is reported), the app-side failures are
// timeouts, and the prober's own saturation is counted apart (skipped), never
// queued.
func TestHangingProbeTargetNeverBlocks(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "web", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}})
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		hang.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read, never answered
			mu.Unlock()
		}
	}()
	r := l.run(t, "-n", ns, "restart", "deploy/web", "--probe", "http://"+hang.Addr().String()+"/", "--probe-timeout=1s",
		"--probe-concurrency=4", "--probe-rate=50", "--on-breach=none", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeBreach(t, r)
	if r.code != 3 || !strings.HasPrefix(rep.Message, "rollout complete, but") {
		t.Errorf("exit %d outcome %q (%s): want 3 and the rollout complete, the probe errors reported", r.code, rep.Outcome, rep.Message)
	}
	if rep.Probe == nil || rep.Probe.ErrorsByClass["timeout"] == 0 || rep.Probe.Skipped == 0 {
		t.Fatalf("probe %+v: want timeouts (the target's failure) and skipped requests (the prober saturated, counted apart)", rep.Probe)
	}
	t.Logf("hanging target: %d requests, %d timeouts, %d skipped", rep.Probe.Requests, rep.Probe.ErrorsByClass["timeout"], rep.Probe.Skipped)
}
