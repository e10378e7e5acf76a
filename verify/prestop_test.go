package verify

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// sleepOnly asks what the string-matching classifier of handlers.go used to:
// does the command do nothing but sleep, for a length we know? It keeps the
// older tables below as they were.
func sleepOnly(cmd []string) (time.Duration, bool) {
	s := scanExec(cmd)
	if kind, _ := s.verdict(nil); kind != preStopSleeps || s.uncounted > 0 {
		return 0, false
	}
	return s.sleep, true
}

func TestSleepOnly(t *testing.T) {
	tests := []struct {
		cmd  []string
		want time.Duration
		ok   bool
	}{
		{[]string{"sleep", "5"}, 5 * time.Second, true},
		{[]string{"sleep", "5s"}, 5 * time.Second, true},
		{[]string{"sleep", "2m"}, 2 * time.Minute, true},
		{[]string{"sleep", "1h"}, time.Hour, true},
		{[]string{"sleep", "1d"}, 24 * time.Hour, true},
		{[]string{"sleep", "0.5"}, 500 * time.Millisecond, true},
		{[]string{"sleep", "1.5m"}, 90 * time.Second, true},
		{[]string{"/bin/sleep", "5"}, 5 * time.Second, true},
		{[]string{"/usr/bin/sleep", "7"}, 7 * time.Second, true},
		{[]string{"sh", "-c", "sleep 5"}, 5 * time.Second, true},
		{[]string{"/bin/sh", "-c", "sleep 5s"}, 5 * time.Second, true},
		{[]string{"bash", "-c", "sleep 10"}, 10 * time.Second, true},
		{[]string{"/usr/bin/bash", "-c", "exec sleep 10"}, 10 * time.Second, true},
		{[]string{"dash", "-c", "sleep 3;"}, 3 * time.Second, true},
		{[]string{"sh", "-c", "/bin/sleep 4"}, 4 * time.Second, true},
		{[]string{"busybox", "sleep", "6"}, 6 * time.Second, true},
		{[]string{"busybox", "sh", "-c", "sleep 6"}, 6 * time.Second, true},
		{[]string{"sleep 5"}, 5 * time.Second, true}, // a single argv element, as sh -c passes it on
		{nil, 0, false},
		{[]string{}, 0, false},
		{[]string{"sh"}, 0, false},
		{[]string{"sh", "-c"}, 0, false},
		{[]string{"sh", "/drain.sh"}, 0, false},
		{[]string{"sh", "-c", "sleep 5 && kill 1"}, 0, false},
		{[]string{"sh", "-c", "sleep 5; curl localhost/drain"}, 0, false},
		{[]string{"sh", "-c", "curl localhost/drain; sleep 5"}, 0, false},
		{[]string{"sleep", "x"}, 0, false},
		{[]string{"sleep", "."}, 0, false},
		{[]string{"sleepy", "5"}, 0, false},
		{[]string{"/app/drain"}, 0, false},
		{[]string{"nginx", "-s", "quit"}, 0, false},
	}
	for _, tc := range tests {
		got, ok := sleepOnly(tc.cmd)
		if ok != tc.ok || got != tc.want {
			t.Errorf("sleepOnly(%q) = %s, %v; want %s, %v", tc.cmd, got, ok, tc.want, tc.ok)
		}
	}
}

func TestClassifyPreStop(t *testing.T) {
	ctr := func(o ctrOpt) *corev1.Container {
		c := goodContainer("app", o)
		return &c
	}
	tests := []struct {
		name      string
		c         *corev1.Container
		wantKind  preStopKind
		wantSleep time.Duration
		wantDesc  string
	}{
		{"none", ctr(noPreStop()), preStopNone, 0, ""},
		{"lifecycle without preStop", ctr(func(c *corev1.Container) { c.Lifecycle = &corev1.Lifecycle{} }), preStopNone, 0, ""},
		{"httpGet", ctr(func(*corev1.Container) {}), preStopDrains, 0, "httpGet :8080/admin/drain"},
		{"sleep action", ctr(sleepAction(7)), preStopSleeps, 7 * time.Second, "sleep action (7s)"},
		{"exec sleep", ctr(execPreStop("sh", "-c", "sleep 9")), preStopSleeps, 9 * time.Second, "exec sh -c sleep 9"},
		{"exec drain", ctr(execPreStop("/drain")), preStopDrains, 0, "exec /drain"},
		{"tcpSocket", ctr(preStop(&corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}})), preStopOther, 0, "tcpSocket"},
		{"empty", ctr(preStop(&corev1.LifecycleHandler{})), preStopOther, 0, "with no handler"},
	}
	for _, tc := range tests {
		got := classifyPreStop(tc.c)
		if got.kind != tc.wantKind || got.sleep != tc.wantSleep || got.description != tc.wantDesc {
			t.Errorf("%s: classifyPreStop = %+v, want kind %d sleep %s desc %q", tc.name, got, tc.wantKind, tc.wantSleep, tc.wantDesc)
		}
	}
}

// The drain delay a pod's hooks impose is its serving containers' longest sleep:
// a helper sleeping in its hook does not delay the app.
func TestDrainSleep(t *testing.T) {
	d := deployment(withContainers(
		goodContainer("a", execPreStop("sleep", "3")),
		goodContainer("b", execPreStop("sh", "-c", "sleep 8")),
		sidecar("c", sleepAction(11)),
	))
	v := analysePod(DeploymentWorkload(d), nil)
	if got := v.drainSleep(); got != 8*time.Second {
		t.Errorf("drainSleep = %s, want 8s (the helper's 11s does not count)", got)
	}
	if v := analysePod(DeploymentWorkload(deployment()), nil); v.drainSleep() != 0 {
		t.Errorf("drainSleep(no sleep) = %s, want 0", v.drainSleep())
	}
	worker := analysePod(DeploymentWorkload(deployment(withContainers(sidecar("w", sleepAction(4))))), nil)
	if got := worker.drainSleep(); got != 4*time.Second {
		t.Errorf("drainSleep(worker) = %s, want 4s: in a pod that serves nothing every hook counts", got)
	}
}

// Spellings of "just sleep" that the string-matching classifier of handlers.go
// used to miss (they passed as draining hooks): the shell parser reads them.
func TestSleepOnlyKnownGaps(t *testing.T) {
	tests := []struct {
		cmd  []string
		want time.Duration
	}{
		{[]string{"sleep", "infinity"}, time.Duration(1<<63 - 1)},
		{[]string{"sh", "-ec", "sleep 5"}, 5 * time.Second},
		{[]string{"bash", "-lc", "sleep 5"}, 5 * time.Second},
	}
	for _, tc := range tests {
		got, ok := sleepOnly(tc.cmd)
		if !ok || got < tc.want {
			t.Errorf("sleepOnly(%q) = %s, %v; want at least %s, true", tc.cmd, got, ok, tc.want)
		}
	}
}

func TestClassifyExecHooks(t *testing.T) {
	sh := func(script string, args ...string) []string { return append([]string{"sh", "-c", script}, args...) }
	tests := []struct {
		name      string
		cmd       []string
		readiness *corev1.Probe
		kind      preStopKind
		sleep     time.Duration
		notes     []string // each appears in the notes
	}{
		// The hooks of issue 10 that used to pass as draining, with their sleep left out of the budget.
		{name: "touch, then sleep", cmd: sh("touch /tmp/drain && sleep 20"), kind: preStopSleeps, sleep: 20 * time.Second,
			notes: []string{"apart from touching /tmp/drain, which the readinessProbe does not read"}},
		{name: "sleep or true", cmd: sh("sleep 20 || true"), kind: preStopSleeps, sleep: 20 * time.Second},
		{name: "two sleeps", cmd: sh("sleep 10; sleep 10"), kind: preStopSleeps, sleep: 20 * time.Second, notes: []string{"sleeps 20s in total"}},
		{name: "env sleep in a script", cmd: sh("/usr/bin/env sleep 20"), kind: preStopSleeps, sleep: 20 * time.Second},
		{name: "env sleep as argv", cmd: []string{"/usr/bin/env", "sleep", "20"}, kind: preStopSleeps, sleep: 20 * time.Second},
		{name: "default of a variable", cmd: sh("sleep ${DRAIN:-20}"), kind: preStopSleeps, sleep: 20 * time.Second,
			notes: []string{"sleep ${DRAIN:-20} counted as 20s, the default"}},
		{name: "comment", cmd: sh("sleep 15 # wait for LB"), kind: preStopSleeps, sleep: 15 * time.Second},

		// Plain spellings.
		{name: "argv", cmd: []string{"sleep", "20"}, kind: preStopSleeps, sleep: 20 * time.Second},
		{name: "one string", cmd: []string{"sleep 20"}, kind: preStopSleeps, sleep: 20 * time.Second},
		{name: "/bin/sh -c", cmd: []string{"/bin/sh", "-c", "sleep 5"}, kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "bash -lc exec", cmd: []string{"bash", "-lc", "exec sleep 5;"}, kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "arguments after the script are $0, $1", cmd: sh("sleep 5", "arg0", "curl"), kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "-o pipefail before -c", cmd: []string{"bash", "-o", "pipefail", "-c", "sleep 2"}, kind: preStopSleeps, sleep: 2 * time.Second},
		{name: "zsh", cmd: []string{"zsh", "-c", "sleep 2"}, kind: preStopSleeps, sleep: 2 * time.Second},
		{name: "busybox sh, busybox sleep", cmd: []string{"busybox", "sh", "-c", "busybox sleep 4"}, kind: preStopSleeps, sleep: 4 * time.Second},
		{name: "exec /bin/sleep", cmd: sh("exec /bin/sleep 7"), kind: preStopSleeps, sleep: 7 * time.Second},
		{name: "several arguments", cmd: []string{"sleep", "1m", "30"}, kind: preStopSleeps, sleep: 90 * time.Second},
		{name: "quoted", cmd: sh(`sleep "5" '5'`), kind: preStopSleeps, sleep: 10 * time.Second},
		{name: "assignment before the command", cmd: sh("X=1 sleep 2"), kind: preStopSleeps, sleep: 2 * time.Second},
		{name: "env with an assignment", cmd: []string{"env", "-i", "X=1", "sleep", "2"}, kind: preStopSleeps, sleep: 2 * time.Second},
		{name: "a shell in a shell", cmd: sh(`sh -c 'sleep 2'; sleep 1`), kind: preStopSleeps, sleep: 3 * time.Second},

		// Every sleep on the hook's path counts, wherever it is.
		{name: "if", cmd: sh("if true; then sleep 5; fi"), kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "both branches", cmd: sh("if test -e /tmp/x; then sleep 5; else sleep 10; fi"), kind: preStopSleeps, sleep: 15 * time.Second},
		{name: "block and subshell", cmd: sh("{ sleep 2; } && (sleep 3)"), kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "pipeline", cmd: sh("sleep 2 | sleep 3"), kind: preStopSleeps, sleep: 5 * time.Second},
		{name: "function", cmd: sh("pause() { sleep 3; }; pause"), kind: preStopSleeps, sleep: 3 * time.Second},
		{name: "no-ops around the sleep", cmd: sh("echo bye; sleep 10; exit 0"), kind: preStopSleeps, sleep: 10 * time.Second},
		{name: "printf, colon, [", cmd: sh(`printf 'bye\n'; :; [ -n "$X" ] && sleep 1`), kind: preStopSleeps, sleep: time.Second},
		{name: "nothing but no-ops", cmd: []string{"true"}, kind: preStopSleeps},
		{name: "command -v only looks up", cmd: sh("command -v curl || sleep 1"), kind: preStopSleeps, sleep: time.Second},

		// Sleeps that never end saturate.
		{name: "sleep infinity", cmd: sh("sleep infinity"), kind: preStopSleeps, sleep: maxDuration},
		{name: "inf after a sleep", cmd: sh("sleep 5; sleep inf"), kind: preStopSleeps, sleep: maxDuration, notes: []string{"sleeps ∞ in total"}},
		{name: "beyond a Duration", cmd: []string{"sleep", "200000000000d"}, kind: preStopSleeps, sleep: maxDuration},
		{name: "beyond a float", cmd: []string{"sleep", "1e400"}, kind: preStopSleeps, sleep: maxDuration},
		{name: "sum beyond a Duration", cmd: []string{"sleep", "106751d", "106751d"}, kind: preStopSleeps, sleep: maxDuration},

		// Sleeps of unknown length are reported, not counted.
		{name: "variable without a default", cmd: sh("sleep $DRAIN"), kind: preStopSleeps, notes: []string{"sleep $DRAIN: length unknown, not counted"}},
		{name: "command substitution", cmd: sh("sleep $(cat /etc/drain) && sleep 2"), kind: preStopDrains, sleep: 2 * time.Second,
			notes: []string{"sleep $(cat /etc/drain): length unknown"}},
		{name: "loop", cmd: sh("while true; do sleep 1; done"), kind: preStopSleeps, notes: []string{"sleep 1 in a loop: length unknown, not counted"}},
		{name: "not a number", cmd: []string{"sleep", "soon"}, kind: preStopSleeps, notes: []string{"sleep soon: length unknown"}},

		// Signals and calls to the app drain; their sleeps still count.
		{name: "nginx -s quit", cmd: []string{"sh", "-ec", "nginx -s quit; sleep 3"}, kind: preStopDrains, sleep: 3 * time.Second},
		{name: "kill", cmd: sh("kill -TERM 1"), kind: preStopDrains},
		{name: "curl", cmd: sh("curl -s localhost:8080/drain"), kind: preStopDrains},
		{name: "curl, then sleep", cmd: sh("curl -XPOST localhost:8080/drain && sleep 15"), kind: preStopDrains, sleep: 15 * time.Second},
		{name: "wget in a command substitution", cmd: sh("echo $(wget -qO- localhost/drain)"), kind: preStopDrains},
		{name: "app binary", cmd: []string{"/app/drain", "--wait=5s"}, kind: preStopDrains},
		{name: "script file", cmd: []string{"sh", "/drain.sh"}, kind: preStopDrains},
		{name: "command from a variable", cmd: sh(`"$DRAIN_CMD"; sleep 1`), kind: preStopDrains, sleep: time.Second},
		{name: "touch of a file the readinessProbe reads", cmd: sh("touch /tmp/drain && sleep 20"), kind: preStopDrains, sleep: 20 * time.Second,
			readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "[ ! -e /tmp/drain ]"}}}},
			notes:     []string{"touches /tmp/drain, which the readinessProbe reads"}},
		{name: "touch of another file", cmd: sh("touch /tmp/drain && sleep 20"), kind: preStopSleeps, sleep: 20 * time.Second,
			readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "!", "-e", "/tmp/drain2"}}}}},

		// Hooks the kubelet cannot run.
		{name: "unparsable", cmd: sh("sleep 5 &&"), kind: preStopOther, notes: []string{"the shell cannot parse the script: 1:9: `&&` must be followed by a statement"}},
		{name: "unparsable inside a shell", cmd: sh(`sleep 1; bash -c 'if'`), kind: preStopOther, sleep: time.Second, notes: []string{"cannot parse"}},
		{name: "-c without a script", cmd: []string{"sh", "-c"}, kind: preStopOther, notes: []string{"sh -c without a script"}},
		{name: "empty", cmd: nil, kind: preStopOther, notes: []string{"empty command"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyExec(tc.cmd, tc.readiness)
			if got.kind != tc.kind || got.sleep != tc.sleep {
				t.Errorf("classifyExec(%q) = kind %d, sleep %s; want kind %d, sleep %s (notes %q)", tc.cmd, got.kind, got.sleep, tc.kind, tc.sleep, got.notes)
			}
			notes := strings.Join(got.notes, "; ")
			for _, want := range tc.notes {
				if !strings.Contains(notes, want) {
					t.Errorf("notes %q, want one containing %q", notes, want)
				}
			}
			if want := "exec " + strings.Join(tc.cmd, " "); got.description != want {
				t.Errorf("description %q, want %q", got.description, want)
			}
		})
	}
}

func TestClassifyPreStopHandlers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     *corev1.LifecycleHandler
		kind  preStopKind
		sleep time.Duration
		desc  string
	}{
		{"httpGet", &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromInt32(8080)}}, preStopDrains, 0, "httpGet :8080/drain"},
		{"sleep action", &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 12}}, preStopSleeps, 12 * time.Second, "sleep action (12s)"},
		{"sleep action beyond a Duration", &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 1 << 62}}, preStopSleeps, maxDuration, "sleep action (4611686018427387904s)"},
	} {
		c := goodContainer("app", preStop(tc.h))
		got := classifyPreStop(&c)
		if got.kind != tc.kind || got.sleep != tc.sleep || got.description != tc.desc {
			t.Errorf("%s: classifyPreStop = %+v, want kind %d, sleep %s, description %q", tc.name, got, tc.kind, tc.sleep, tc.desc)
		}
	}
}

// The hooks of issue 10 through the checks: each only sleeps (prestop-hook warns)
// and its sleep is the drain delay of the grace budget, which warns: the 30s
// grace period covers the 20s sleep, only the assumed inputs exceed it.
func TestIssue10HooksCountInTheBudget(t *testing.T) {
	for _, script := range []string{
		"touch /tmp/drain && sleep 20",
		"sleep 20 || true",
		"sleep 10; sleep 10",
		"/usr/bin/env sleep 20",
		"sleep ${DRAIN:-20}",
		"sleep 20 # wait for LB",
	} {
		t.Run(script, func(t *testing.T) {
			r := CheckDeployment(deployment(withContainers(goodContainer("app", execPreStop("sh", "-c", script)))), DefaultGraceBudget(), localEnv)
			ps := findCheck(t, r, CheckPreStopHook, "app")
			if ps.Status != StatusWarn || !strings.Contains(ps.Message, "only sleeps") {
				t.Errorf("prestop-hook = %s %q, want warn, only sleeps", ps.Status, ps.Message)
			}
			gb := findCheck(t, r, CheckGraceBudget, "")
			if gb.Status != StatusWarn || !strings.Contains(gb.Message, "30 < 45s = 5s endpoint propagation + 20s drain delay +") {
				t.Errorf("grace-budget = %s %q, want warn with a 20s drain delay", gb.Status, gb.Message)
			}
		})
	}
}

func TestPreStopHookThatOutlastsTheGracePeriod(t *testing.T) {
	with := func(cmd ...string) *appsv1.Deployment {
		return deployment(withContainers(goodContainer("app", execPreStop(cmd...))))
	}
	runCheckCases(t, CheckPreStopHook, []checkCase{
		{name: "sleep infinity", dep: with("sh", "-c", "sleep infinity"), container: "app", want: StatusFail,
			contains: []string{"preStop exec sh -c sleep infinity is not shorter than terminationGracePeriodSeconds 30s"}},
		{name: "sleeps that add up to the grace period", dep: with("sh", "-c", "sleep 10; sleep 20"), container: "app", want: StatusFail,
			contains: []string{"is not shorter than terminationGracePeriodSeconds 30s (sleeps 30s in total)"}},
		{name: "draining hook that sleeps through the grace period", dep: with("sh", "-c", "curl -s localhost:8080/drain; sleep 30"), container: "app", want: StatusFail,
			contains: []string{"triggers draining but sleeps 30s, not shorter than terminationGracePeriodSeconds 30s"}, fixHas: "well below the grace period"},
		{name: "draining hook that never ends", dep: with("sh", "-c", "kill -TERM 1; sleep infinity"), container: "app", want: StatusFail,
			contains: []string{"triggers draining but sleeps ∞"}},
		{name: "draining hook with a short sleep", dep: with("sh", "-ec", "nginx -s quit; sleep 3"), container: "app", want: StatusPass,
			contains: []string{"preStop exec sh -ec nginx -s quit; sleep 3 triggers draining"}},
		{name: "unparsable script", dep: with("sh", "-c", "sleep 5 &&"), container: "app", want: StatusWarn,
			contains: []string{"cannot trigger draining (the shell cannot parse the script: 1:9:"}},
		{name: "unknown length", dep: with("sh", "-c", "sleep $DRAIN"), container: "app", want: StatusWarn,
			contains: []string{"only sleeps (sleep $DRAIN: length unknown, not counted)"}},
		{name: "touch", dep: with("sh", "-c", "touch /tmp/drain && sleep 20"), container: "app", want: StatusWarn,
			contains: []string{"only sleeps (apart from touching /tmp/drain, which the readinessProbe does not read)"}},
	})
}

// FuzzScanExec: no script makes the reading panic or count a negative sleep.
func FuzzScanExec(f *testing.F) {
	for _, seed := range []string{
		"sleep 5", "sleep 5 &&", "touch /tmp/drain && sleep 20", "sleep ${DRAIN:-20}", "sleep infinity; sleep 1e400",
		"f() { sleep 1; }; f", "while :; do sleep 1; done", `sh -c "bash -c 'sleep 1'"`, "echo $(curl x) `kill 1`",
		"sleep \"${A:-${B:-3}}\"", "case x in x) sleep 2;; esac", "[[ -e /x ]] && sleep 1", "sleep $'1'",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		for _, cmd := range [][]string{{"sh", "-c", script}, {"zsh", "-c", script}, {script}} {
			if s := scanExec(cmd); s.sleep < 0 {
				t.Errorf("scanExec(%q).sleep = %s", cmd, s.sleep)
			}
		}
	})
}
