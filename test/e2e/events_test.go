//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// TestRecordEvents: a SIGKILL rollout guarded with --record-events, as the
// ServiceAccount bound to the documented Role, leaves Warning Events on the
// Deployment (what kubectl describe shows): the SIGKILL the kubelet never
// records, the breach and the pause. Without create on events the guard warns
// once and the rollout and its report are the same.
func TestRecordEvents(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	ctx := context.Background()
	for _, name := range []string{"told", "untold"} {
		l.deploy(t, ns, app{name: name, replicas: 2, grace: 3, args: []string{"--mode=ignore-sigterm"}})
	}
	role, user, kubeconfig := l.documentedRoleUser(t, ns)
	restart := func(name string) (result, rolloutReport) {
		r := l.runWith(t, kubeconfig, "-n", ns, "restart", "deploy/"+name, "--skip-preflight", "--record-events",
			"-o", "json", "--progress=plain", "--timeout=2m")
		return r, decodeReport(t, r)
	}

	r, told := restart("told")
	if r.code != 3 || told.Outcome != "paused" {
		t.Fatalf("restart: exit %d, outcome %q (%s), want 3 and paused", r.code, told.Outcome, told.Message)
	}
	if strings.Contains(r.stderr, "--record-events") {
		t.Errorf("warnings with the documented Role (deploy/rbac.yaml lacks create on events?):\n%s", r.stderr)
	}
	var killed []string
	for _, p := range told.Pods {
		if p.SIGKILL {
			killed = append(killed, p.Name)
		}
	}
	if len(killed) == 0 {
		t.Fatalf("no pod SIGKILLed in the report: %+v", told.Pods)
	}
	events := l.describedEvents(t, ns, "told")
	var reasons []string
	for _, e := range events {
		reasons = append(reasons, e.Reason)
		if e.Type != corev1.EventTypeWarning || e.Source.Component != "kubectl-safe-rollout" || e.ReportingController != "kubectl-safe-rollout" || e.ReportingInstance == "" {
			t.Errorf("event %s %s: type %q, source %+v, reporting %q/%q; want Warning from kubectl-safe-rollout", e.Reason, e.Name,
				e.Type, e.Source, e.ReportingController, e.ReportingInstance)
		}
		t.Logf("%s %s: %s", e.Type, e.Reason, e.Message)
	}
	slices.Sort(reasons)
	want := []string{"SafeRolloutBreach", "SafeRolloutPaused"}
	for range killed {
		want = append(want, "SafeRolloutSIGKILL")
	}
	slices.Sort(want)
	if !slices.Equal(reasons, want) {
		t.Errorf("Events on deployment/told: %q, want %q (one per SIGKILLed pod %v, the breach, the pause)", reasons, want, killed)
	}
	for _, e := range events {
		if e.Reason == "SafeRolloutSIGKILL" && (!strings.Contains(e.Message, "exit code 137") || !strings.Contains(e.Message, "terminationGracePeriodSeconds 3") || !containsAny(e.Message, killed)) {
			t.Errorf("SIGKILL Event %q: want the pod, exit code 137 and terminationGracePeriodSeconds 3", e.Message)
		}
		if e.Reason == "SafeRolloutPaused" && !strings.Contains(e.Message, "(budget 0)") {
			t.Errorf("pause Event %q: want the breach with its budget", e.Message)
		}
	}

	// Without create on events: one warning, the same rollout and report.
	stored, err := l.client.RbacV1().Roles(ns).Get(ctx, role.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	for i, rule := range stored.Rules {
		if slices.Contains(rule.Resources, "events") && slices.Contains(rule.Verbs, "create") {
			stored.Rules[i].Verbs = slices.DeleteFunc(rule.Verbs, func(v string) bool { return v == "create" })
			removed = true
		}
	}
	if !removed {
		t.Fatal("deploy/rbac.yaml grants no create on events")
	}
	if _, err := l.client.RbacV1().Roles(ns).Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitAllowedOn(t, user, ns, "create", "", "events", false)
	r, untold := restart("untold")
	if r.code != 3 || untold.Outcome != "paused" {
		t.Errorf("restart without create on events: exit %d, outcome %q (%s), want 3 and paused as with it", r.code, untold.Outcome, untold.Message)
	}
	if got, want := breachesOf(untold), breachesOf(told); !slices.Equal(got, want) {
		t.Errorf("breaches without create on events %q, with it %q: want the same", got, want)
	}
	if len(untold.Pods) != len(told.Pods) {
		t.Errorf("report has %d pods without create on events, %d with it", len(untold.Pods), len(told.Pods))
	}
	var warnings []string
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, "--record-events") {
			warnings = append(warnings, line)
		}
	}
	// Warnings go with the progress lines: after their timestamp with --progress=plain.
	if len(warnings) != 1 || !strings.Contains(warnings[0], " --record-events: cannot create Events: ") ||
		!strings.Contains(warnings[0], `cannot create resource "events"`) || !strings.HasSuffix(warnings[0], "(needs create on events); going on") {
		t.Errorf("warnings %q: want one, naming the missing create on events", warnings)
	}
	if events := l.describedEvents(t, ns, "untold"); len(events) != 0 {
		t.Errorf("%d Events on deployment/untold without create on events", len(events))
	}
}

// describedEvents are the plugin's Events kubectl describe shows for
// deployment/name: core/v1 Events selected by the involved object's name,
// namespace, kind and UID.
func (l *lab) describedEvents(t *testing.T, ns, name string) []corev1.Event {
	t.Helper()
	ctx := context.Background()
	d, err := l.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	selector := fields.Set{
		"involvedObject.name": name, "involvedObject.namespace": ns, "involvedObject.kind": "Deployment", "involvedObject.uid": string(d.UID),
	}.AsSelector().String()
	list, err := l.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if strings.HasPrefix(e.Reason, "SafeRollout") {
			out = append(out, e)
		}
	}
	return out
}

// breachesOf lists a report's breaches as "budget -> action".
func breachesOf(rep rolloutReport) []string {
	var out []string
	for _, b := range rep.Breaches {
		out = append(out, b.Budget+" -> "+b.Action)
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
