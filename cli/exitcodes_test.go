package cli

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

func TestOutcomeExitCodes(t *testing.T) {
	tests := []struct {
		outcome   report.Outcome
		stoppedBy os.Signal
		want      int
	}{
		{report.OutcomeSucceeded, nil, ExitOK},
		{report.OutcomeNoRollout, nil, ExitOK},
		{report.OutcomeFailed, nil, ExitBudgetBreached},
		{report.OutcomePaused, nil, ExitBudgetBreached},
		{report.OutcomeSuperseded, nil, ExitBudgetBreached}, // someone else's revision replaced the guarded one
		{report.OutcomeDeleted, nil, ExitError},
		{report.OutcomeRolledBack, nil, ExitRolledBack},
		{report.OutcomeTimeout, nil, ExitTimedOut},
		{report.OutcomeInterrupted, nil, ExitInterrupted}, // the context ended without a signal
		{report.OutcomeInterrupted, os.Interrupt, ExitInterrupted},
		{report.OutcomeInterrupted, syscall.SIGTERM, ExitTerminated},
		{"exploded", nil, ExitError},
	}
	for _, tc := range tests {
		t.Run(string(tc.outcome), func(t *testing.T) {
			r := &report.Rollout{Outcome: tc.outcome, Message: "what happened"}
			var errOut strings.Builder
			if got := exitCode(outcomeError(r, tc.stoppedBy), &errOut); got != tc.want {
				t.Errorf("exit code of %q = %d, want %d", tc.outcome, got, tc.want)
			}
			if tc.want == ExitOK {
				if errOut.Len() != 0 {
					t.Errorf("stderr = %q, want nothing", errOut.String())
				}
				return
			}
			if line := errOut.String(); !strings.HasPrefix(line, "error: ") || strings.Count(line, "\n") != 1 {
				t.Errorf("stderr = %q, want one error line", line)
			}
		})
	}
}

// errorLine is the last line of stderr: the one the user reads after the progress.
func errorLine(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	return lines[len(lines)-1]
}

// Every exit code of restart and watch, through the real command tree, the
// preflight and the guard, with the cluster and the clock faked.
func TestGuardCommandExitCodes(t *testing.T) {
	imageChange := [2]string{"web:2", "web:1"}
	sameImage := [2]string{"web:1", "web:1"}
	rollingOutTemplates := func(t *testing.T, images [2]string, restartedAt bool) *guardedCluster {
		next := servingTemplate(images[0])
		if restartedAt {
			next.Annotations = map[string]string{workload.RestartedAtAnnotation: "2025-03-04T09:59:00Z"}
		}
		return rollingOut(t, next, servingTemplate(images[1]))
	}
	const (
		paused       = "error: 1 container SIGKILLed at the grace deadline (budget 0); paused the rollout (resume: kubectl rollout resume deployment/web -n shop)"
		rolledBack   = "error: 1 container SIGKILLed at the grace deadline (budget 0); rolled back to the template of revision 1 (kubectl rollout history deployment/web -n shop)"
		interrupted  = "error: stopped guarding; the rollout continues in the cluster"
		continues    = "The rollout continues in the cluster: kubectl rollout status deployment/web -n shop"
		restartedGen = "restart requested (generation 2)"
	)
	tests := []struct {
		name    string
		cluster func(t *testing.T) *guardedCluster
		args    []string
		// drive plays the controller and the kubelet while the command runs.
		drive      func(c *guardedCluster)
		wantCode   int
		wantStdout []string // in this order
		wantStderr string   // the last line; "" for none starting with "error:"
		check      func(t *testing.T, c *guardedCluster)
	}{
		{
			name:    "restart: every old pod drains by the contract",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.rollOutRevision2()
				c.waitProgress("1 of 2 new pods updated")
				c.drainByContract("web-aaa-1")
				c.drainByContract("web-aaa-2")
				c.completeRollout()
			},
			wantCode: ExitOK,
			wantStdout: []string{
				"web-aaa-1   1.0s        2.0s          3.0s               4.0s     0      Completed   30s     ok",
				"web-aaa-2   1.0s        2.0s          3.0s               4.0s     0      Completed   30s     ok",
				"Outcome: succeeded after 12.0s (2 new pods available, every old pod gone)", "Revision: 1 -> 2",
				"Old pods: 2, gone 2: 2 clean, 0 SIGKILLed",
			},
		},
		{
			name:     "restart: preflight fails, nothing changes",
			cluster:  func(t *testing.T) *guardedCluster { return restartable(t, rollouttest.PodTemplate("web:1", nil)) },
			args:     []string{"restart", "deploy/web"},
			wantCode: ExitPreflightFailed, wantStdout: []string{"readiness-probe", "fail", "Verdict: fail"},
			wantStderr: "error: preflight failed for deployment/web: nothing was changed (fix the findings, or use --skip-preflight)",
			check: func(t *testing.T, c *guardedCluster) {
				if p := rollouttest.DeploymentActions(c.client, "patch"); len(p) != 0 {
					t.Errorf("a failed preflight changed the Deployment: %v", p)
				}
			},
		},
		{
			name:    "restart: SIGKILL at the deadline, paused",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.rollOutRevision2()
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode: ExitBudgetBreached,
			wantStdout: []string{
				"web-aaa-1   -           -             -                  30.0s    137    Error    30s     sigkilled",
				"web-aaa-2   -           -             -                  -        -      -        0s      not-terminated",
				"Outcome: paused after 31.0s", "Breach: sigkills: 1 container SIGKILLed at the grace deadline (budget 0) -> paused 0.000s after detection",
			},
			wantStderr: paused,
			check: func(t *testing.T, c *guardedCluster) {
				if !c.stored().Spec.Paused {
					t.Error("the Deployment is not paused")
				}
			},
		},
		{
			name:    "restart --record-events: SIGKILL at the deadline, paused, the cluster told",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web", "--record-events"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.rollOutRevision2()
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode: ExitBudgetBreached,
			wantStdout: []string{
				"web-aaa-1   -           -             -                  30.0s    137    Error    30s     sigkilled",
				"Outcome: paused after 31.0s",
			},
			wantStderr: paused,
			check: func(t *testing.T, c *guardedCluster) {
				events, err := c.client.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range events.Items {
					if e.Source.Component == "kubectl-safe-rollout" && e.Type == corev1.EventTypeWarning {
						got = append(got, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+" "+e.Reason)
					}
				}
				slices.Sort(got)
				want := []string{"Deployment/web SafeRolloutBreach", "Deployment/web SafeRolloutPaused", "Deployment/web SafeRolloutSIGKILL",
					"Pod/web-aaa-1 SafeRolloutBreach", "Pod/web-aaa-1 SafeRolloutSIGKILL"}
				if !slices.Equal(got, want) {
					t.Errorf("Events recorded: %q, want %q", got, want)
				}
			},
		},
		{
			name: "restart --record-events without create on events: one warning, the same outcome",
			cluster: func(t *testing.T) *guardedCluster {
				c := restartable(t, servingTemplate("web:1"))
				c.client.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New(`User "jane" cannot create resource "events" in API group "" in the namespace "shop"`))
				})
				return c
			},
			args: []string{"restart", "deploy/web", "--record-events"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.rollOutRevision2()
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode:   ExitBudgetBreached,
			wantStdout: []string{"Outcome: paused after 31.0s", "Breach: sigkills: 1 container SIGKILLed at the grace deadline (budget 0) -> paused 0.000s after detection"},
			wantStderr: paused,
			check: func(t *testing.T, c *guardedCluster) {
				const warning = `--record-events: cannot create Events: events is forbidden: User "jane" cannot create resource "events" in API group "" in the namespace "shop" (needs create on events); going on`
				if n := strings.Count(c.stderr.String(), "--record-events"); n != 1 || !strings.Contains(c.stderr.String(), warning) {
					t.Errorf("stderr has %d --record-events lines, want one: %s\n%s", n, warning, c.stderr)
				}
			},
		},
		{
			name:    "restart: SIGKILL at the deadline, rolled back",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web", "--on-breach=rollback"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.rollOutRevision2()
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode:   ExitRolledBack,
			wantStdout: []string{"Outcome: rolled-back after 31.0s", "-> rolled-back 0.000s after detection"},
			wantStderr: rolledBack,
			check: func(t *testing.T, c *guardedCluster) {
				if a := c.stored().Spec.Template.Annotations[workload.RestartedAtAnnotation]; a != "" {
					t.Errorf("template still restarted at %s after the rollback", a)
				}
			},
		},
		{
			name:    "restart: not complete within --timeout, no action",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web", "--timeout=30s", "--on-breach=none"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.waitUntil("the guard's timeout timer", c.clock.HasWaiters)
				c.step(30 * time.Second)
			},
			wantCode:   ExitTimedOut,
			wantStdout: []string{"not-terminated", "Outcome: timeout after 30.0s (not complete after 30s: waiting for the deployment controller to observe the change)"},
			wantStderr: "error: not complete after 30s: waiting for the deployment controller to observe the change",
		},
		{
			name:    "restart: Ctrl-C",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.signal(os.Interrupt)
			},
			wantCode: ExitInterrupted, wantStdout: []string{"Outcome: interrupted after 0.0s", continues},
			wantStderr: interrupted + " (SIGINT)",
		},
		{
			name:    "restart: SIGTERM",
			cluster: func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:    []string{"restart", "deploy/web", "-o", "json"},
			drive: func(c *guardedCluster) {
				c.waitProgress(restartedGen)
				c.signal(syscall.SIGTERM)
			},
			wantCode: ExitTerminated, wantStdout: []string{`"outcome": "interrupted"`, `"message": "stopped guarding; the rollout continues in the cluster"`},
			wantStderr: interrupted + " (SIGTERM)",
		},
		{
			name:     "restart: no such Deployment",
			cluster:  func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:     []string{"restart", "deploy/nope"},
			wantCode: ExitError, wantStderr: `error: deployments.apps "nope" not found`,
		},
		{
			name:     "restart: --timeout shorter than the grace period",
			cluster:  func(t *testing.T) *guardedCluster { return restartable(t, servingTemplate("web:1")) },
			args:     []string{"restart", "deploy/web", "--timeout=10s"},
			wantCode: ExitError,
			wantStderr: "error: --timeout 10s is shorter than deployment/web's terminationGracePeriodSeconds (30s): " +
				"the guard would give up before an old pod may finish draining",
		},
		{
			name: "restart: the API refuses the restart",
			cluster: func(t *testing.T) *guardedCluster {
				c := restartable(t, servingTemplate("web:1"))
				c.client.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("User \"ci\" cannot patch resource"))
				})
				return c
			},
			args:       []string{"restart", "deploy/web"},
			wantCode:   ExitError,
			wantStderr: `error: restarting deployment shop/web: deployments.apps "web" is forbidden: User "ci" cannot patch resource`,
		},

		{
			name:     "watch: no rollout in progress",
			cluster:  atRest,
			args:     []string{"watch", "deploy/web"},
			wantCode: ExitOK, wantStdout: []string{"deployment.apps/web: no rollout in progress"},
		},
		{
			name:    "watch: the rollout completes",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.drainByContract("web-aaa-1")
				c.drainByContract("web-aaa-2")
				c.completeRollout()
			},
			wantCode:   ExitOK,
			wantStdout: []string{"Outcome: succeeded after 12.0s (2 new pods available, every old pod gone)", "Old pods: 2, gone 2: 2 clean"},
		},
		{
			name:    "watch: SIGKILL of a restart, auto pauses",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, sameImage, true) },
			args:    []string{"watch", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode: ExitBudgetBreached, wantStdout: []string{"Outcome: paused after 31.0s", "-> paused"},
			wantStderr: paused,
		},
		{
			name:    "watch: SIGKILL with --on-breach=none, the rollout completes",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web", "--on-breach=none"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
				c.waitProgress("budget breached")
				c.RemovePod("web-aaa-1")
				c.waitProgress("pod web-aaa-1: gone") // seen before the next clock step
				c.drainByContract("web-aaa-2")
				c.completeRollout()
			},
			wantCode:   ExitBudgetBreached,
			wantStdout: []string{"Outcome: failed after 37.0s (rollout complete, but 1 container SIGKILLed at the grace deadline (budget 0))", "-> none"},
			wantStderr: "error: rollout complete, but 1 container SIGKILLed at the grace deadline (budget 0)",
		},
		{
			name:    "watch: SIGKILL of an image change, auto rolls back",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.sigkill("web-aaa-1")
			},
			wantCode: ExitRolledBack, wantStdout: []string{"Outcome: rolled-back after 31.0s"},
			wantStderr: rolledBack,
			check: func(t *testing.T, c *guardedCluster) {
				if image := c.stored().Spec.Template.Spec.Containers[0].Image; image != "web:1" {
					t.Errorf("image after the rollback = %s, want web:1", image)
				}
			},
		},
		{
			name:    "watch: not complete within --timeout, no action",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web", "--timeout=1m", "--on-breach=none"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.waitUntil("the guard's timeout timer", c.clock.HasWaiters)
				c.step(time.Minute)
			},
			wantCode:   ExitTimedOut,
			wantStdout: []string{"Outcome: timeout after 60.0s (not complete after 1m0s: 1 of 2 new pods updated)"},
			wantStderr: "error: not complete after 1m0s: 1 of 2 new pods updated",
		},
		{
			name:    "watch: Ctrl-C",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.signal(os.Interrupt)
			},
			wantCode: ExitInterrupted, wantStdout: []string{"Outcome: interrupted", continues},
			wantStderr: interrupted + " (SIGINT)",
		},
		{
			name:    "watch: SIGTERM",
			cluster: func(t *testing.T) *guardedCluster { return rollingOutTemplates(t, imageChange, false) },
			args:    []string{"watch", "deploy/web"},
			drive: func(c *guardedCluster) {
				c.waitProgress("1 of 2 new pods updated")
				c.signal(syscall.SIGTERM)
			},
			wantCode: ExitTerminated, wantStdout: []string{"Outcome: interrupted", continues},
			wantStderr: interrupted + " (SIGTERM)",
		},
		{
			name:     "watch: no such Deployment",
			cluster:  atRest,
			args:     []string{"watch", "deployment", "nope"},
			wantCode: ExitError, wantStderr: `error: deployments.apps "nope" not found`,
		},
		{
			name:     "watch: bad flag",
			cluster:  atRest,
			args:     []string{"watch", "deploy/web", "--max-probe-error-rate=2"},
			wantCode: ExitError, wantStderr: "error: --max-probe-error-rate is a fraction between 0 and 1, got 2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cluster(t)
			done := c.start(tc.args...)
			if tc.drive != nil {
				tc.drive(c)
			}
			r := c.result(done)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			rest := r.stdout
			for _, want := range tc.wantStdout {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("stdout lacks %q (or has it out of order):\n%s", want, r.stdout)
					break
				}
				rest = rest[i+len(want):]
			}
			if tc.wantStdout == nil && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			last := errorLine(r.stderr)
			switch {
			case tc.wantStderr == "" && strings.Contains(r.stderr, "error:"):
				t.Errorf("stderr has an error: %s", r.stderr)
			case tc.wantStderr != "" && last != tc.wantStderr:
				t.Errorf("last line of stderr = %q, want %q\nstderr:\n%s", last, tc.wantStderr, r.stderr)
			}
			if n := strings.Count(r.stderr, "error:"); n > 1 {
				t.Errorf("%d error lines on stderr, want at most one:\n%s", n, r.stderr)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// A signal before the guard has anything to report (its watches not yet
// started) still exits with the signal's code, with one error line and no report.
func TestGuardCommandSignalBeforeWatching(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(signalName(sig), func(t *testing.T) {
			c := rollingOut(t, servingTemplate("web:2"), servingTemplate("web:1"))
			listing, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			// The guard's first read (the Services that select the pods) hangs until released.
			c.client.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
				once.Do(func() { close(listing) })
				<-release
				return false, nil, nil
			})
			done := c.start("watch", "deploy/web")
			select {
			case <-listing:
			case <-time.After(20 * time.Second):
				t.Fatalf("the guard never listed the Services\nstderr:\n%s", c.stderr)
			}
			c.signal(sig)
			close(release)
			r := c.result(done)
			if r.code != signalExitCode(sig) {
				t.Errorf("exit code = %d, want %d\nstderr:\n%s", r.code, signalExitCode(sig), r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want no report", r.stdout)
			}
			if last := errorLine(r.stderr); !strings.HasPrefix(last, "error: ") || !strings.Contains(last, "received "+signalName(sig)) {
				t.Errorf("last line of stderr = %q, want an error naming %s", last, signalName(sig))
			}
		})
	}
}
