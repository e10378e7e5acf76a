package verify

import (
	"math"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// checkCase runs CheckDeployment and looks at one check.
type checkCase struct {
	name      string
	dep       *appsv1.Deployment
	budget    *GraceBudget // DefaultBudget when nil
	env       *Environment // localEnv when nil
	container string       // the container the check concerns ("" for pod-level checks)
	want      Status
	contains  []string // substrings of the message
	fixHas    string   // substring of the fix (when non-empty)
}

func runCheckCases(t *testing.T, id string, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := DefaultGraceBudget()
			if tc.budget != nil {
				b = *tc.budget
			}
			env := localEnv
			if tc.env != nil {
				env = *tc.env
			}
			got := findCheck(t, CheckDeployment(tc.dep, b, env), id, tc.container)
			if got.Status != tc.want {
				t.Errorf("%s status = %q, want %q (message %q)", id, got.Status, tc.want, got.Message)
			}
			for _, s := range tc.contains {
				if !strings.Contains(got.Message, s) {
					t.Errorf("%s message %q does not contain %q", id, got.Message, s)
				}
			}
			if tc.fixHas != "" && !strings.Contains(got.Fix, tc.fixHas) {
				t.Errorf("%s fix %q does not contain %q", id, got.Fix, tc.fixHas)
			}
			checkFixPresence(t, got)
		})
	}
}

// checkFixPresence: warnings and failures come with a concrete fix; passes and skips do not.
func checkFixPresence(t *testing.T, c Check) {
	t.Helper()
	if c.Message == "" {
		t.Errorf("%s (%s): empty message", c.ID, c.Container)
	}
	switch c.Status {
	case StatusWarn, StatusFail:
		if c.Fix == "" {
			t.Errorf("%s (%s) is %s without a fix: %q", c.ID, c.Container, c.Status, c.Message)
		}
	case StatusPass, StatusSkip:
		if c.Fix != "" {
			t.Errorf("%s (%s) is %s but has a fix %q", c.ID, c.Container, c.Status, c.Fix)
		}
	default:
		t.Errorf("%s (%s): unknown status %q", c.ID, c.Container, c.Status)
	}
}

func budgetWith(f func(*GraceBudget)) *GraceBudget {
	b := DefaultGraceBudget()
	f(&b)
	return &b
}

func TestCheckDeploymentGoodAppPasses(t *testing.T) {
	r := CheckDeployment(deployment(), DefaultGraceBudget(), localEnv)
	if r.Kind != "Deployment" || r.Namespace != "ns" || r.Name != "web" {
		t.Errorf("object = %s %s/%s, want Deployment ns/web", r.Kind, r.Namespace, r.Name)
	}
	wantIDs := []string{
		CheckReadinessProbe, CheckReadinessReaction, CheckReadinessLiveness, CheckPreStopHook,
		CheckGraceBudget, CheckRolloutStrategy, CheckService, CheckPaused, CheckRolloutInProgress, CheckPDB,
	}
	if len(r.Checks) != len(wantIDs) {
		t.Fatalf("got %d checks, want %d: %+v", len(r.Checks), len(wantIDs), r.Checks)
	}
	for i, c := range r.Checks {
		if c.ID != wantIDs[i] {
			t.Errorf("check %d = %q, want %q", i, c.ID, wantIDs[i])
		}
		wantContainer := ""
		if i < 4 {
			wantContainer = "app"
		}
		if c.Container != wantContainer {
			t.Errorf("check %s container = %q, want %q", c.ID, c.Container, wantContainer)
		}
		want := StatusPass
		switch c.ID {
		case CheckService, CheckRolloutInProgress, CheckPDB: // nothing to look at with --local
			want = StatusSkip
		}
		if c.Status != want {
			t.Errorf("check %s = %s (%s), want %s", c.ID, c.Status, c.Message, want)
		}
		checkFixPresence(t, c)
	}
}

func TestCheckDeploymentPerContainerChecks(t *testing.T) {
	d := deployment(withContainers(goodContainer("app"), sidecar("shipper"), goodContainer("admin")))
	r := CheckDeployment(d, DefaultGraceBudget(), localEnv)
	if len(r.Checks) != 3*4+6 {
		t.Fatalf("got %d checks, want 18", len(r.Checks))
	}
	for i, name := range []string{"app", "shipper", "admin"} {
		for j, id := range []string{CheckReadinessProbe, CheckReadinessReaction, CheckReadinessLiveness, CheckPreStopHook} {
			c := r.Checks[i*4+j]
			if c.ID != id || c.Container != name {
				t.Errorf("check %d = %s (%s), want %s (%s)", i*4+j, c.ID, c.Container, id, name)
			}
		}
	}
}

func TestReadinessProbe(t *testing.T) {
	runCheckCases(t, CheckReadinessProbe, []checkCase{
		{name: "probe present", dep: deployment(), container: "app", want: StatusPass,
			contains: []string{"readinessProbe httpGet :http/health/ready"}},
		{name: "serving container without probe", dep: deployment(withContainers(goodContainer("app", noReadiness()))),
			container: "app", want: StatusFail, contains: []string{"no readinessProbe"}, fixHas: "readinessProbe"},
		{name: "only container without ports and no Service is a worker", dep: deployment(withContainers(goodContainer("app", noPorts(), noReadiness()))),
			container: "app", want: StatusSkip, contains: []string{"no ports and no Service: a worker, not serving traffic"}},
		{name: "sidecar without ports is not failed", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper"))),
			container: "shipper", want: StatusSkip, contains: []string{"declares no ports"}},
		{name: "second serving container without probe", dep: deployment(withContainers(goodContainer("app"), goodContainer("admin", noReadiness()))),
			container: "admin", want: StatusFail},
		{name: "sidecar with a probe passes", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper", readiness(&corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}})))),
			container: "shipper", want: StatusPass, contains: []string{"not serving traffic"}},
		{name: "tcp probe cannot reflect draining", dep: deployment(withContainers(goodContainer("app", readiness(&corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}})))),
			container: "app", want: StatusWarn, contains: []string{"readinessProbe tcpSocket :8080 cannot reflect draining", "until the app closes it"},
			fixHas: "instead of tcpSocket"},
		{name: "tcp probe of a helper is not judged", dep: deployment(withContainers(goodContainer("app"), sidecar("db", readiness(&corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}}})))),
			container: "db", want: StatusPass},
		{name: "named port the container does not declare", dep: deployment(withContainers(goodContainer("app", noPorts()))),
			container: "app", want: StatusFail, contains: []string{"readinessProbe httpGet :http/health/ready names port http, which the container does not declare", "never becomes ready"},
			fixHas: "name: http"},
		{name: "named port of a helper the helper does not declare", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper", readiness(timing(1, 1, 1))))),
			container: "shipper", want: StatusFail, contains: []string{"names port http"}},
		{name: "numbered port need not be declared", dep: deployment(withContainers(goodContainer("app", readiness(&corev1.Probe{
			ProbeHandler: httpGet("/ready", intstr.FromInt32(9000)), PeriodSeconds: 1, FailureThreshold: 1})))),
			container: "app", want: StatusPass},
	})
}

func TestReadinessReaction(t *testing.T) {
	probe := func(p *corev1.Probe) *appsv1.Deployment {
		return deployment(withContainers(goodContainer("app", readiness(p))))
	}
	runCheckCases(t, CheckReadinessReaction, []checkCase{
		{name: "fast probe", dep: probe(timing(1, 1, 1)), container: "app", want: StatusPass,
			contains: []string{"2s (periodSeconds 1 × failureThreshold 1 + timeoutSeconds 1)", "5s drain delay"}},
		{name: "exactly the drain delay passes", dep: probe(timing(2, 2, 1)), container: "app", want: StatusPass,
			contains: []string{"5s (periodSeconds 2 × failureThreshold 2 + timeoutSeconds 1)"}},
		{name: "one second slower than the drain delay warns", dep: probe(timing(5, 1, 1)), container: "app", want: StatusWarn,
			contains: []string{"6s (periodSeconds 5 × failureThreshold 1 + timeoutSeconds 1)", "slower than the 5s drain delay"},
			fixHas:   "at least 6s"},
		// Since Kubernetes 1.26 deletion takes the endpoint out of kube-proxy's
		// rotation without readiness: slow readiness is a warning that says so.
		{name: "kubernetes defaults 10/3/1 reach the grace period", dep: probe(timing(0, 0, 0)), container: "app", want: StatusWarn,
			contains: []string{"31s (periodSeconds 10 × failureThreshold 3 + timeoutSeconds 1)", "terminationGracePeriodSeconds 30s",
				"ready=false since Kubernetes 1.26", "serving-aware proxies", "every endpoint is terminating"},
			fixHas: "periodSeconds: 1"},
		{name: "defaults filled individually", dep: probe(timing(2, 0, 0)), container: "app", want: StatusWarn,
			contains: []string{"7s (periodSeconds 2 × failureThreshold 3 + timeoutSeconds 1)"}},
		{name: "equal to the grace period warns", dep: probe(timing(29, 1, 1)), container: "app", want: StatusWarn,
			contains: []string{"30s (periodSeconds 29"}},
		{name: "just below the grace period warns", dep: deployment(withGrace(32), withContainers(goodContainer("app", readiness(timing(0, 0, 0))))),
			container: "app", want: StatusWarn, contains: []string{"31s"}},
		{name: "unset grace is 30", dep: deployment(withoutGrace(), withContainers(goodContainer("app", readiness(timing(29, 1, 1))))),
			container: "app", want: StatusWarn, contains: []string{"terminationGracePeriodSeconds 30s"}},
		{name: "longer drain delay flag", dep: probe(timing(3, 3, 1)), container: "app", want: StatusPass,
			budget:   budgetWith(func(b *GraceBudget) { b.DrainDelay = 10 * time.Second }),
			contains: []string{"10s (periodSeconds 3", "inside the 10s drain delay"}},
		{name: "fractional drain delay", dep: probe(timing(5, 1, 1)), container: "app", want: StatusWarn,
			budget:   budgetWith(func(b *GraceBudget) { b.DrainDelay = 5500 * time.Millisecond }),
			contains: []string{"slower than the 5.50s drain delay"}},
		{name: "a longer preStop sleep is the drain delay", dep: deployment(withGrace(60), withContainers(goodContainer("app", readiness(timing(4, 2, 1)), execPreStop("sleep", "10")))),
			container: "app", want: StatusPass, contains: []string{"9s (", "inside the 10s drain delay"}},
		{name: "missing probe on a serving container", dep: deployment(withContainers(goodContainer("app", noReadiness()))),
			container: "app", want: StatusSkip, contains: []string{"see readiness-probe"}},
		{name: "sidecar without ports", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper"))),
			container: "shipper", want: StatusSkip, contains: []string{"declares no ports"}},
	})
}

func TestReadinessLiveness(t *testing.T) {
	same := func(live *corev1.Probe, ready *corev1.Probe) *appsv1.Deployment {
		return deployment(withContainers(goodContainer("app", readiness(ready), liveness(live))))
	}
	named := httpGet("/health/ready", intstr.FromString("http"))
	numbered := httpGet("/health/ready", intstr.FromInt32(8080))
	tcpNamed := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}
	tcpNumbered := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}
	exec := func(cmd ...string) corev1.ProbeHandler {
		return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}
	}
	grpc := func(port int32, svc *string) corev1.ProbeHandler {
		return corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: svc}}
	}
	p := func(h corev1.ProbeHandler, period, threshold int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: h, PeriodSeconds: period, FailureThreshold: threshold}
	}
	withScheme := func(h corev1.ProbeHandler, s corev1.URIScheme) corev1.ProbeHandler {
		h.HTTPGet = h.HTTPGet.DeepCopy()
		h.HTTPGet.Scheme = s
		return h
	}

	runCheckCases(t, CheckReadinessLiveness, []checkCase{
		{name: "no liveness", dep: deployment(withContainers(goodContainer("app", noLiveness()))), container: "app", want: StatusPass,
			contains: []string{"no livenessProbe"}},
		{name: "separate endpoint", dep: deployment(), container: "app", want: StatusPass,
			contains: []string{"livenessProbe httpGet :http/health/live is separate"}},
		{name: "same handler", dep: same(p(named, 1, 1), p(named, 1, 1)), container: "app", want: StatusWarn,
			contains: []string{"same handler as readinessProbe (httpGet :http/health/ready)"}, fixHas: "separate path"},
		{name: "same handler, different timing", dep: same(p(named, 10, 3), p(named, 1, 1)), container: "app", want: StatusWarn,
			contains: []string{"same handler"}},
		{name: "named port resolved against the number", dep: same(p(numbered, 10, 3), p(named, 1, 1)), container: "app", want: StatusWarn,
			contains: []string{"same handler"}},
		{name: "trailing slash does not make it different", dep: same(p(httpGet("/health/ready/", intstr.FromString("http")), 10, 3), p(named, 1, 1)),
			container: "app", want: StatusWarn},
		{name: "empty scheme is HTTP", dep: same(p(withScheme(named, corev1.URISchemeHTTP), 10, 3), p(named, 1, 1)), container: "app", want: StatusWarn},
		{name: "HTTPS is a different handler", dep: same(p(withScheme(named, corev1.URISchemeHTTPS), 10, 3), p(named, 1, 1)), container: "app", want: StatusPass},
		{name: "other port", dep: same(p(httpGet("/health/ready", intstr.FromInt32(9090)), 10, 3), p(named, 1, 1)), container: "app", want: StatusPass},
		{name: "tcp, named vs numbered", dep: same(p(tcpNumbered, 10, 3), p(tcpNamed, 1, 1)), container: "app", want: StatusWarn},
		{name: "tcp liveness, http readiness", dep: same(p(tcpNamed, 10, 3), p(named, 1, 1)), container: "app", want: StatusPass},
		{name: "same exec", dep: same(p(exec("cat", "/tmp/ready"), 10, 3), p(exec("cat", "/tmp/ready"), 1, 1)), container: "app", want: StatusWarn},
		{name: "other exec", dep: same(p(exec("cat", "/tmp/alive"), 10, 3), p(exec("cat", "/tmp/ready"), 1, 1)), container: "app", want: StatusPass},
		{name: "same grpc", dep: same(p(grpc(9090, nil), 10, 3), p(grpc(9090, nil), 1, 1)), container: "app", want: StatusWarn},
		{name: "grpc, other service", dep: same(p(grpc(9090, ptr.To("live")), 10, 3), p(grpc(9090, ptr.To("ready")), 1, 1)), container: "app", want: StatusPass},
		{name: "liveness failureThreshold 1", dep: same(p(httpGet("/health/live", intstr.FromString("http")), 10, 1), p(named, 1, 1)),
			container: "app", want: StatusWarn, contains: []string{"failureThreshold 1"}, fixHas: "failureThreshold to 3"},
		{name: "liveness failureThreshold unset is 3", dep: same(p(httpGet("/health/live", intstr.FromString("http")), 10, 0), p(named, 1, 1)),
			container: "app", want: StatusPass},
		{name: "liveness without readiness", dep: deployment(withContainers(goodContainer("app", noReadiness()))), container: "app", want: StatusPass},
		{name: "liveness failureThreshold 1 without readiness", dep: deployment(withContainers(goodContainer("app", noReadiness(),
			liveness(p(httpGet("/health/live", intstr.FromInt32(8080)), 10, 1))))), container: "app", want: StatusWarn},
	})
}

func TestPreStopHook(t *testing.T) {
	with := func(o ctrOpt, dopts ...depOpt) *appsv1.Deployment {
		return deployment(append([]depOpt{withContainers(goodContainer("app", o))}, dopts...)...)
	}
	tcp := preStop(&corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}})
	cases := []checkCase{
		{name: "httpGet drains", dep: deployment(), container: "app", want: StatusPass,
			contains: []string{"preStop httpGet :8080/admin/drain triggers draining"}},
		{name: "exec that does more than sleep", dep: with(execPreStop("/bin/sh", "-c", "curl -s localhost:8080/admin/drain && sleep 5")),
			container: "app", want: StatusPass, contains: []string{"triggers draining"}},
		{name: "exec of a drain binary", dep: with(execPreStop("/app/drain", "--wait=5s")), container: "app", want: StatusPass},
		{name: "missing", dep: with(noPreStop()), container: "app", want: StatusWarn,
			contains: []string{"no preStop hook"}, fixHas: "preStop httpGet"},
		{name: "lifecycle sleep action", dep: with(sleepAction(5)), container: "app", want: StatusWarn,
			contains: []string{"preStop sleep action (5s) only sleeps"}, fixHas: "trigger draining"},
		{name: "tcpSocket cannot drain", dep: with(tcp), container: "app", want: StatusWarn,
			contains: []string{"preStop tcpSocket cannot trigger draining"}},
		{name: "empty handler", dep: with(preStop(&corev1.LifecycleHandler{})), container: "app", want: StatusWarn,
			contains: []string{"with no handler"}},
		{name: "sleep as long as the grace period fails", dep: with(execPreStop("sleep", "30")), container: "app", want: StatusFail,
			contains: []string{"preStop exec sleep 30 is not shorter than terminationGracePeriodSeconds 30s"}, fixHas: "well below the grace period"},
		{name: "sleep just shorter than the grace period warns", dep: with(execPreStop("sleep", "29")), container: "app", want: StatusWarn},
		{name: "sleep longer than the grace period fails", dep: with(execPreStop("sh", "-c", "sleep 45")), container: "app", want: StatusFail},
		{name: "sleep in minutes", dep: with(execPreStop("sleep", "1m")), container: "app", want: StatusFail},
		{name: "sleep action as long as the grace period", dep: with(sleepAction(20), withGrace(20)), container: "app", want: StatusFail,
			contains: []string{"sleep action (20s)", "terminationGracePeriodSeconds 20s"}},
		{name: "sleep against the default grace period", dep: with(sleepAction(30), withoutGrace()), container: "app", want: StatusFail},
		{name: "sidecar without ports and hook", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper"))),
			container: "shipper", want: StatusSkip, contains: []string{"declares no ports"}},
		{name: "sidecar that sleeps outlives the app", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper", execPreStop("sleep", "5")))),
			container: "shipper", want: StatusPass, contains: []string{"keeps the container running while the serving containers drain"}},
		{name: "sidecar sleeping through the grace period fails", dep: deployment(withContainers(goodContainer("app"), sidecar("shipper", execPreStop("sleep", "30")))),
			container: "shipper", want: StatusFail, contains: []string{"SIGKILLed"}},
		{name: "worker without hook", dep: deployment(withContainers(sidecar("worker"))),
			container: "worker", want: StatusSkip, contains: []string{"a worker"}},
		{name: "httpGet on a named port the container does not declare", dep: with(preStop(&corev1.LifecycleHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("admin")}})),
			container: "app", want: StatusFail, contains: []string{"preStop httpGet :admin/drain names port admin, which the container does not declare"}, fixHas: "name: admin"},
	}
	// Every spelling of "just sleep" warns.
	for _, cmd := range [][]string{
		{"sleep", "5"},
		{"sleep", "5s"},
		{"sleep", "0.5"},
		{"/bin/sleep", "5"},
		{"/usr/bin/sleep", "5"},
		{"sh", "-c", "sleep 5"},
		{"/bin/sh", "-c", "sleep 5"},
		{"bash", "-c", "sleep 5"},
		{"/bin/bash", "-c", "sleep 5s"},
		{"ash", "-c", "sleep 5"},
		{"sh", "-c", "exec sleep 5"},
		{"sh", "-c", "sleep 5;"},
		{"sh", "-c", "  sleep 5  "},
		{"sh", "-c", "/bin/sleep 5"},
		{"busybox", "sleep", "5"},
		{"busybox", "sh", "-c", "sleep 5"},
	} {
		cases = append(cases, checkCase{
			name: "sleep only: " + strings.Join(cmd, " "), dep: with(execPreStop(cmd...)), container: "app", want: StatusWarn,
			contains: []string{"preStop exec " + strings.Join(cmd, " ") + " only sleeps"},
		})
	}
	// Commands that merely contain a sleep do something else too.
	for _, cmd := range [][]string{
		{"sh", "-c", "sleep 5 && kill -TERM 1"},
		{"sh", "-c", "wget -qO- localhost:8080/drain; sleep 5"},
		{"sh", "-c", "nginx -s quit"},
		{"sh", "/drain.sh"},
		{"sleeper", "5"},
	} {
		cases = append(cases, checkCase{
			name: "not only a sleep: " + strings.Join(cmd, " "), dep: with(execPreStop(cmd...)), container: "app", want: StatusPass,
		})
	}
	runCheckCases(t, CheckPreStopHook, cases)
}

func TestGraceBudget(t *testing.T) {
	runCheckCases(t, CheckGraceBudget, []checkCase{
		{name: "defaults fit exactly", dep: deployment(), want: StatusPass,
			contains: []string{"terminationGracePeriodSeconds 30 >= 30s = 5s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin"}},
		{name: "unset grace is 30", dep: deployment(withoutGrace()), want: StatusPass,
			contains: []string{"terminationGracePeriodSeconds 30 >= 30s"}},
		// Short of a budget of default inputs: assumptions, so a warning.
		{name: "grace too short for the assumptions", dep: deployment(withGrace(20)), want: StatusWarn,
			contains: []string{"terminationGracePeriodSeconds 20 < 30s = 5s endpoint propagation + 5s drain delay + 15s max request + 5s safety margin",
				"short only by the assumed endpoint propagation, drain delay, max request, safety margin"},
			fixHas: "terminationGracePeriodSeconds: 30"},
		{name: "grace too short for measured inputs", dep: deployment(withGrace(20)), budget: budgetWith(func(b *GraceBudget) { b.Stated = AllStated() }),
			want: StatusFail, contains: []string{"terminationGracePeriodSeconds 20 < 30s = 5s endpoint propagation"}, fixHas: "terminationGracePeriodSeconds: 30"},
		{name: "one second short", dep: deployment(withGrace(29)), want: StatusWarn, fixHas: "terminationGracePeriodSeconds: 30"},
		{name: "short of the stated inputs alone fails", dep: deployment(withGrace(29)),
			budget: budgetWith(func(b *GraceBudget) { b.MaxRequest = 30 * time.Second; b.Stated.MaxRequest = true }), want: StatusFail,
			contains: []string{"< 45s", "even without the assumed endpoint propagation, drain delay, safety margin it needs 30s"}},
		{name: "longer preStop sleep replaces the drain delay", dep: deployment(withContainers(goodContainer("app", execPreStop("sh", "-c", "sleep 10")))),
			want: StatusWarn, contains: []string{"terminationGracePeriodSeconds 30 < 35s = 5s endpoint propagation + 10s drain delay + 15s max request + 5s safety margin",
				"short only by the assumed endpoint propagation, max request, safety margin"},
			fixHas: "terminationGracePeriodSeconds: 35"},
		{name: "shorter preStop sleep keeps the drain delay", dep: deployment(withContainers(goodContainer("app", sleepAction(3)))),
			want: StatusPass, contains: []string{"+ 5s drain delay +"}},
		{name: "longest sleep of the serving containers", dep: deployment(withGrace(60), withContainers(
			goodContainer("app", execPreStop("sleep", "8")), goodContainer("admin", execPreStop("sleep", "9")), sidecar("shipper", sleepAction(12)))),
			want: StatusPass, contains: []string{"terminationGracePeriodSeconds 60 >= 34s", "9s drain delay"}},
		{name: "flags change the requirement", dep: deployment(withGrace(45)), want: StatusFail,
			budget: &GraceBudget{EndpointPropagation: 2 * time.Second, DrainDelay: 8 * time.Second, MaxRequest: 30 * time.Second, SafetyMargin: 10 * time.Second,
				Stated: AllStated()},
			contains: []string{"terminationGracePeriodSeconds 45 < 50s = 2s endpoint propagation + 8s drain delay + 30s max request + 10s safety margin"},
			fixHas:   "terminationGracePeriodSeconds: 50"},
		{name: "fractions round up", dep: deployment(), want: StatusFail,
			budget:   budgetWith(func(b *GraceBudget) { b.MaxRequest = 15500 * time.Millisecond; b.Stated = AllStated() }),
			contains: []string{"< 31s", "15.50s max request"}, fixHas: "terminationGracePeriodSeconds: 31"},
		{name: "zero grace", dep: deployment(withGrace(0)), want: StatusFail, contains: []string{"terminationGracePeriodSeconds 0 < 30s", "SIGKILLs every container at once"}},
		{name: "a helper's sleep does not fill the grace period of the app", dep: deployment(withGrace(40), withContainers(
			goodContainer("app"), sidecar("shipper", sleepAction(35)))), want: StatusPass, contains: []string{"40 >= 30s"}},
	})
}

// periodSeconds × failureThreshold beyond an int32 used to wrap around to a
// negative reaction time, which passed; it is slow readiness, a warning.
func TestReadinessReactionDoesNotWrap(t *testing.T) {
	runCheckCases(t, CheckReadinessReaction, []checkCase{
		{name: "product beyond int32", dep: deployment(withContainers(goodContainer("app", readiness(timing(math.MaxInt32, 2, 1))))),
			container: "app", want: StatusWarn, contains: []string{"4294967295s (periodSeconds 2147483647 × failureThreshold 2 + timeoutSeconds 1)"}},
	})
}
