package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/attribution"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

// assertRolloutGolden compares got with testdata/rollout/<name>.golden; -update rewrites it.
func assertRolloutGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "rollout", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./cli/ -run TestPrintRollout -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cli/ -run TestPrintRollout -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The reports below are what the engine makes of a rollout: the pod, slice and
// Event updates are folded by the guard's reducer (rollout/state), summarised by
// report.Summarise, the breaches found by policy.BreachLimits.Evaluate from the
// limits the flags give. Only the outcome's wording and the action's record are
// written here, as rollout/act.go words them (TestGuardCommandExitCodes checks
// that wording through the real guard).

// foldedRollout feeds Deployment web's rollout from revision 1 (web-aaa-*) to
// revision 2 (web-bbb-*) to the guard's reducer; times are seconds after T0.
type foldedRollout struct {
	t         *testing.T
	state     *state.Rollout
	pods      map[string]*corev1.Pod
	endpoints []rollouttest.Endpoint
}

func newFoldedRollout(t *testing.T, oldPods ...string) *foldedRollout {
	d := rollouttest.WebDeployment(2, 2, "2", appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2})
	f := &foldedRollout{t: t, state: state.New(workload.Deployment{Deployment: d}, rollouttest.T0), pods: map[string]*corev1.Pod{}}
	f.apply(d, false, 0)
	f.apply(rollouttest.WebReplicaSet("aaa", "1"), false, 0)
	f.apply(rollouttest.WebReplicaSet("bbb", "2"), false, 0)
	for _, name := range oldPods {
		f.pods[name] = rollouttest.WebPod(name, "aaa")
		f.apply(f.pods[name], false, 0)
		f.endpoints = append(f.endpoints, rollouttest.EP(name, true, true, false))
	}
	f.apply(rollouttest.WebSlice(f.endpoints...), false, 0)
	return f
}

func (f *foldedRollout) apply(obj any, deleted bool, at float64) {
	f.state.Apply(obj, deleted, rollouttest.At(at))
}

// podUpdate changes pod and folds its update seen at a given time.
func (f *foldedRollout) podUpdate(pod string, at float64, change func(*corev1.Pod)) {
	p := f.pods[pod].DeepCopy()
	change(p)
	f.pods[pod] = p
	f.apply(p, false, at)
}

// deleted: the deletion was requested at a whole second (the API's precision) with a 30 s grace.
func (f *foldedRollout) deleted(pod string, at float64) {
	f.podUpdate(pod, at, func(p *corev1.Pod) {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(rollouttest.At(at).Truncate(time.Second).Add(30 * time.Second)))
		p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	})
}

// endpoint: the EndpointSlice now lists pod with these conditions.
func (f *foldedRollout) endpoint(pod string, at float64, ready, serving, terminating bool) {
	for i := range f.endpoints {
		if f.endpoints[i].Pod == pod {
			f.endpoints[i] = rollouttest.EP(pod, ready, serving, terminating)
		}
	}
	f.apply(rollouttest.WebSlice(f.endpoints...), false, at)
}

func (f *foldedRollout) endpointRemoved(pod string, at float64) {
	var kept []rollouttest.Endpoint
	for _, e := range f.endpoints {
		if e.Pod != pod {
			kept = append(kept, e)
		}
	}
	f.endpoints = kept
	f.apply(rollouttest.WebSlice(f.endpoints...), false, at)
}

// exited: the app container finished at a whole second; the guard saw it at.
func (f *foldedRollout) exited(pod string, at float64, code int32, reason string) {
	f.podUpdate(pod, at, func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].Ready = false
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(rollouttest.At(at).Truncate(time.Second)),
		}}
	})
}

func (f *foldedRollout) gone(pod string, at float64) { f.apply(f.pods[pod], true, at) }

func (f *foldedRollout) event(pod string, at float64, reason, message string) {
	f.apply(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod + "." + reason, Namespace: rollouttest.NS, UID: types.UID("event-" + pod)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: rollouttest.NS, Name: pod},
		Reason:         reason, Message: message, Count: 1, LastTimestamp: metav1.NewTime(rollouttest.At(at).Truncate(time.Second)),
	}, false, at)
}

// drainedByContract: deleted at `at`, then not ready, not serving, removed from the
// slice, exit 0 and gone, step seconds apart.
func (f *foldedRollout) drainedByContract(pod string, at, step float64) {
	f.deleted(pod, at)
	f.endpoint(pod, at+step, false, true, true)
	f.endpoint(pod, at+2*step, false, false, true)
	f.endpointRemoved(pod, at+3*step)
	f.exited(pod, at+4*step, 0, "Completed")
	f.gone(pod, at+5*step)
}

// complete: the controller's last status, seen at `at`; it returns the
// reducer's completion message.
func (f *foldedRollout) complete(at float64) string {
	f.t.Helper()
	d := rollouttest.WebDeployment(2, 2, "2", rollouttest.CompleteStatus())
	f.apply(d, false, at)
	msg, done, err := f.state.Status(d.Generation)
	if !done || err != nil {
		f.t.Fatalf("rollout not complete after every old pod went: %s, %v", msg, err)
	}
	return msg
}

// status is the reducer's word for where the rollout stands.
func (f *foldedRollout) status() string {
	f.t.Helper()
	msg, done, err := f.state.Status(f.state.Workload.GetGeneration())
	if done || err != nil {
		f.t.Fatalf("rollout complete or failed: %s, %v", msg, err)
	}
	return msg
}

// observe is what the guard's limits see of the pods.
func (f *foldedRollout) observe() policy.Observations {
	return policy.ObserveDrains(f.state.OldTimelines())
}

// breach evaluates the limits at `at` and expects exactly one breach.
func (f *foldedRollout) breach(flags *GuardFlags, at float64) policy.Breach {
	f.t.Helper()
	breaches := flags.limits().Evaluate(f.observe(), map[string]bool{}, rollouttest.At(at))
	if len(breaches) != 1 {
		f.t.Fatalf("breaches = %+v, want one", breaches)
	}
	return breaches[0]
}

// acted records the action taken on b, finished at `at` after one API call, as
// rollout/act.go records it.
func acted(b policy.Breach, action string, at float64) policy.Breach {
	latency := rollouttest.At(at).Sub(b.At).Seconds()
	b.Action, b.ActionLatencySeconds = action, &latency
	b.Attempts = []policy.Attempt{{At: rollouttest.At(at)}}
	return b
}

// report is the guard's report at `finished`, as rollout/act.go's finish fills it.
func (f *foldedRollout) report(flags *GuardFlags, triggered bool, outcome report.Outcome, message string, finished float64, breaches ...policy.Breach) *report.Rollout {
	r := &report.Rollout{
		Namespace: rollouttest.NS, Deployment: "web", Outcome: outcome, Message: message, Triggered: triggered,
		StartedAt: rollouttest.T0, FinishedAt: rollouttest.At(finished),
		// A restart starts from revision 1; watch finds the rollout to 2 under way.
		FromRevision: "2", ToRevision: f.state.Workload.Revision(),
		OnBreach: flags.OnBreach, Breaches: append([]policy.Breach{}, breaches...),
	}
	if triggered {
		r.FromRevision = "1"
	}
	r.Summarise(f.state.OldTimelines(), verify.DefaultGraceBudget())
	for i := range r.Pods {
		if u := r.Pods[i].GraceUsage; u != nil && flags.MaxGraceUsage > 0 && *u > flags.MaxGraceUsage {
			r.Pods[i].GraceUsageExceeded = true
		}
	}
	return r
}

// attributeProbe adds probe traffic whose errors fell in these one-second
// buckets, blamed as rollout/act.go's attribute blames them.
func (f *foldedRollout) attributeProbe(r *report.Rollout, requests int, errorsAt map[float64]int, byClass map[string]int) {
	var windows []attribution.Window
	for _, t := range f.state.OldTimelines() {
		if !t.Deleting() {
			continue
		}
		to := t.Gone
		if to.IsZero() {
			to = r.FinishedAt
		}
		windows = append(windows, attribution.Window{Pod: t.Name, From: t.DeletionObserved, To: to})
	}
	var buckets []attribution.ErrorBucket
	errs := 0
	for at, n := range errorsAt {
		buckets = append(buckets, attribution.ErrorBucket{Start: rollouttest.At(at), Width: time.Second, Errors: n})
		errs += n
	}
	snap := traffic.ProbeReport{
		Targets: []string{"http://web.shop.svc:80/"}, Requests: requests, Errors: errs, ErrorsByClass: byClass,
		LatencyMs: traffic.LatencyMs{P50: 1.25, P95: 8.5, P99: 20},
	}
	r.AttributeProbe(snap, attribution.Attribute(buckets, windows))
}

// cleanRestart: restart drains both old pods by the contract (exit 0).
func cleanRestart(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.drainedByContract("web-aaa-1", 1, 0.8)
	f.drainedByContract("web-aaa-2", 6, 1.25)
	msg := f.complete(13)
	flags := parseGuardFlags(t, policy.ActionPause)
	r := f.report(flags, true, report.OutcomeSucceeded, msg, 13)
	r.PreflightVerdict = "pass"
	return r
}

// sigkillPaused: restart under probe traffic; web-aaa-2 ignores SIGTERM, never
// stops serving and is SIGKILLed at the grace deadline: the guard pauses.
func sigkillPaused(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.drainedByContract("web-aaa-1", 3, 0.8)
	f.deleted("web-aaa-2", 8)
	f.endpoint("web-aaa-2", 8.5, false, true, true)
	f.event("web-aaa-2", 8.6, "Killing", "Stopping container app")
	f.exited("web-aaa-2", 38.2, 137, "Error")
	flags := parseGuardFlags(t, policy.ActionPause, "--max-probe-errors=10")
	b := acted(f.breach(flags, 38.2), "paused", 38.25)
	r := f.report(flags, true, report.OutcomePaused,
		b.Message+"; paused the rollout (resume: kubectl rollout resume deployment/web -n shop)", 38.25, b)
	r.PreflightSkipped = true
	f.attributeProbe(r, 760, map[float64]int{1: 1, 20: 4, 37: 2}, map[string]int{"reset": 5, "5xx": 2})
	return r
}

// identifiedRestart: cleanRestart under probe traffic with
// --probe-identity-header: web-aaa-1 got new connections 1.2 s after its
// endpoint went not ready and served late requests, web-aaa-2 none.
func identifiedRestart(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.drainedByContract("web-aaa-1", 1, 0.8)
	f.drainedByContract("web-aaa-2", 6, 1.25)
	msg := f.complete(13)
	flags := parseGuardFlags(t, policy.ActionPause, "--probe=http://web.shop.svc/", "--probe=grpc://web.shop.svc:9090", "--probe-identity-header=X-Served-By", "--probe-streams=2")
	r := f.report(flags, true, report.OutcomeSucceeded, msg, 13)
	f.attributeProbe(r, 260, map[float64]int{}, map[string]int{})
	r.Probe.IdentityHeader, r.Probe.IdentifiedRequests = flags.ProbeIdentityHeader, 260
	timelines := f.state.OldTimelines()
	served := []traffic.PodServed{
		{Pod: "web-aaa-1", Requests: 90, SamplesAfterNotReady: 4, LastNewAfterNotReady: rollouttest.At(1.8 + 1.2), Late: 6,
			Streams: traffic.StreamStats{Opened: 2, EndedClean: 2}},
		{Pod: "web-aaa-2", Requests: 85, Streams: traffic.StreamStats{Opened: 1, EndedClean: 1}},
	}
	r.Probe.Streams = &traffic.StreamStats{Opened: 5, EndedClean: 3}
	r.AddDataPlane(timelines, served, map[string]int{}, verify.DefaultGraceBudget())
	return r
}

// uncleanRolledBack: watch of an image change; web-aaa-1 exits 143 on SIGTERM
// before its endpoint stops serving: auto rolls back.
func uncleanRolledBack(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.deleted("web-aaa-1", 2)
	f.endpoint("web-aaa-1", 2.4, false, true, true)
	f.exited("web-aaa-1", 2.9, 143, "Error")
	flags := parseGuardFlags(t, policy.ActionAuto)
	b := acted(f.breach(flags, 2.9), "rolled-back", 3.05)
	return f.report(flags, false, report.OutcomeRolledBack,
		b.Message+"; rolled back to the template of revision 1 (kubectl rollout history deployment/web -n shop)", 3.05, b)
}

// cleanSignalExit: a JVM app exits 143 after its endpoint stopped serving, the
// other pod exits 0: both clean.
func cleanSignalExit(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.deleted("web-aaa-1", 1)
	f.endpoint("web-aaa-1", 1.5, false, true, true)
	f.endpoint("web-aaa-1", 2.5, false, false, true)
	f.exited("web-aaa-1", 9.2, 143, "Error")
	f.endpointRemoved("web-aaa-1", 9.4)
	f.gone("web-aaa-1", 9.8)
	f.drainedByContract("web-aaa-2", 11, 1)
	msg := f.complete(17)
	flags := parseGuardFlags(t, policy.ActionAuto)
	return f.report(flags, false, report.OutcomeSucceeded, msg, 17)
}

// timedOut: watch --timeout 1m --on-breach=none; web-aaa-1 is still draining, web-aaa-2 untouched.
func timedOut(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	f.deleted("web-aaa-1", 4)
	f.endpoint("web-aaa-1", 4.7, false, false, true)
	flags := parseGuardFlags(t, policy.ActionAuto, "--timeout=1m", "--on-breach=none")
	msg := fmt.Sprintf("not complete after %s: %s", flags.Timeout, f.status())
	b := policy.Breach{Budget: policy.BudgetProgress, At: rollouttest.At(60), Message: msg}
	latency := 0.0
	b.Action, b.ActionLatencySeconds = "none", &latency
	return f.report(flags, false, report.OutcomeTimeout, msg, 60, b)
}

// interrupted: watch stopped with Ctrl-C before any old pod went.
func interrupted(t *testing.T) *report.Rollout {
	f := newFoldedRollout(t, "web-aaa-1", "web-aaa-2")
	flags := parseGuardFlags(t, policy.ActionAuto)
	return f.report(flags, false, report.OutcomeInterrupted, "stopped guarding; the rollout continues in the cluster", 2)
}

// The fixtures stand for the exit codes the user gets.
func TestRolloutFixturesExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report *report.Rollout
		want   int
	}{
		{"clean restart", cleanRestart(t), ExitOK},
		{"SIGKILL, paused", sigkillPaused(t), ExitBudgetBreached},
		{"unclean exit, rolled back", uncleanRolledBack(t), ExitRolledBack},
		{"clean signal exit", cleanSignalExit(t), ExitOK},
		{"timed out", timedOut(t), ExitTimedOut},
		{"interrupted", interrupted(t), ExitInterrupted},
	} {
		if got := exitCode(outcomeError(tc.report, nil), &bytes.Buffer{}); got != tc.want {
			t.Errorf("%s: exit code %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestPrintRolloutGolden(t *testing.T) {
	t.Setenv("LC_ALL", "C.UTF-8") // the timeline's bars (render_timeline_test.go: ASCII)
	tests := []struct {
		name   string
		report func(*testing.T) *report.Rollout
		format string
		colour bool
	}{
		{"restart.table", cleanRestart, "", false},
		{"restart.json", cleanRestart, "json", false},
		{"breach.table", sigkillPaused, "", false},
		{"breach.colour.table", sigkillPaused, "", true},
		{"breach.json", sigkillPaused, "json", false},
		{"rolled-back.table", uncleanRolledBack, "", false},
		{"data-plane.table", identifiedRestart, "", false},
		{"data-plane.json", identifiedRestart, "json", false},
		{"clean-signal-exit.table", cleanSignalExit, "", false},
		{"timeout.table", timedOut, "", false},
		{"interrupted.table", interrupted, "", false},
		{"no-rollout.table", func(*testing.T) *report.Rollout {
			return &report.Rollout{Namespace: rollouttest.NS, Deployment: "web", Outcome: report.OutcomeNoRollout, Message: "no rollout in progress"}
		}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printRollout(&out, tc.report(t), tc.format, tc.colour); err != nil {
				t.Fatal(err)
			}
			assertRolloutGolden(t, tc.name, out.String())
		})
	}
}

func TestPrintRolloutJSONRoundTrips(t *testing.T) {
	for name, r := range map[string]*report.Rollout{
		"restart": cleanRestart(t), "breach": sigkillPaused(t), "rolled back": uncleanRolledBack(t), "timeout": timedOut(t),
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printRollout(&out, r, "json", true); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Error("JSON output contains colour escapes")
			}
			var back report.Rollout
			if err := json.Unmarshal(out.Bytes(), &back); err != nil {
				t.Fatalf("output is not a report: %v", err)
			}
			if !reflect.DeepEqual(&back, r) {
				t.Errorf("JSON round trip changed the report:\n got %+v\nwant %+v", back, *r)
			}
		})
	}
}

// jsonPods decodes the pods of r's JSON form by name.
func jsonPods(t *testing.T, r *report.Rollout) (doc map[string]json.RawMessage, pods map[string]map[string]json.RawMessage) {
	t.Helper()
	var out bytes.Buffer
	if err := printRollout(&out, r, "json", false); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Pods []map[string]json.RawMessage `json:"pods"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	pods = map[string]map[string]json.RawMessage{}
	for _, p := range raw.Pods {
		var name string
		if err := json.Unmarshal(p["name"], &name); err != nil {
			t.Fatal(err)
		}
		pods[name] = p
	}
	return doc, pods
}

func TestPrintRolloutJSONFieldNames(t *testing.T) {
	doc, pods := jsonPods(t, cleanRestart(t))
	if string(doc["outcome"]) != `"succeeded"` || string(doc["recommendedGraceSeconds"]) != "30" {
		t.Errorf("outcome %s, recommendedGraceSeconds %s", doc["outcome"], doc["recommendedGraceSeconds"])
	}
	var propagation map[string]any
	if err := json.Unmarshal(doc["propagation"], &propagation); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50", "p95", "max"} {
		if _, ok := propagation[k]; !ok {
			t.Errorf("propagation.%s missing", k)
		}
	}
	if len(pods) != 2 {
		t.Fatalf("%d pods", len(pods))
	}
	for name, p := range pods {
		for _, k := range []string{"name", "exitCode", "reason", "sigkill", "secondsToNotServing", "secondsToEndpointRemoval", "terminationSeconds", "graceSeconds"} {
			if _, ok := p[k]; !ok {
				t.Errorf("pods[%s].%s missing", name, k)
			}
		}
	}
	_, pods = jsonPods(t, sigkillPaused(t))
	if got := string(pods["web-aaa-2"]["secondsToNotServing"]); got != "null" {
		t.Errorf("secondsToNotServing of a pod that never stopped serving = %s, want null", got)
	}
	_, pods = jsonPods(t, timedOut(t))
	if got := string(pods["web-aaa-1"]["exitCode"]); got != "null" {
		t.Errorf("exitCode of a pod still terminating = %s, want null", got)
	}
}
