//go:build e2e

package e2e

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stepReport is the JSON report of a release step.
type stepReport struct {
	Outcome   string `json:"outcome"`
	Message   string `json:"message"`
	Workloads []struct {
		Deployment string `json:"deployment"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Outcome    string `json:"outcome"`
	} `json:"workloads"`
	Skipped []struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

// A release step over the workloads labelled part-of=demo: Deployments by
// name, then the StatefulSet. The second Deployment's pods ignore SIGTERM:
// its SIGKILL pauses it, the step stops, and the StatefulSet is never
// restarted. Exit 3, and the JSON says which were restarted and skipped.
func TestReleaseStepStopsAtTheFirstBreach(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	partOf := func(d *appsv1.Deployment) { d.Labels["app.kubernetes.io/part-of"] = "demo" }
	l.deploy(t, ns, app{name: "a-front", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}, mutate: partOf})
	l.deploy(t, ns, app{name: "b-back", replicas: 2, grace: 3, args: []string{"--mode=ignore-sigterm"}, mutate: partOf})
	db := l.deployStatefulSet(t, ns, app{name: "c-db", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}, mutate: partOf})

	r := l.run(t, "-n", ns, "restart", "-l", "app.kubernetes.io/part-of=demo", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=4m")
	var rep stepReport
	decodeJSON(t, r, &rep)
	if r.code != 3 || rep.Outcome != "paused" {
		t.Fatalf("exit %d outcome %q (%s), want 3 paused", r.code, rep.Outcome, rep.Message)
	}
	if len(rep.Workloads) != 2 || rep.Workloads[0].Deployment != "a-front" || rep.Workloads[0].Outcome != "succeeded" ||
		rep.Workloads[1].Deployment != "b-back" || rep.Workloads[1].Outcome != "paused" {
		t.Errorf("workloads %+v, want a-front succeeded, then b-back paused", rep.Workloads)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Kind != "StatefulSet" || rep.Skipped[0].Name != "c-db" {
		t.Errorf("skipped %+v, want the StatefulSet c-db", rep.Skipped)
	}
	after, err := l.client.AppsV1().StatefulSets(ns).Get(context.Background(), "c-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != db.Generation {
		t.Errorf("c-db generation %d -> %d: restarted although the step stopped", db.Generation, after.Generation)
	}
}

// Probe traffic runs once for the whole step: the step's JSON has it, and
// the contract apps' rollouts, one after the other, cost no request.
func TestReleaseStepProbedOnce(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	partOf := func(d *appsv1.Deployment) { d.Labels["app.kubernetes.io/part-of"] = "demo" }
	l.deploy(t, ns, app{name: "front", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}, mutate: partOf})
	l.deploy(t, ns, app{name: "back", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}, mutate: partOf})
	front, back := l.clusterIP(t, ns, "front"), l.clusterIP(t, ns, "back")
	l.waitAnswering(t, "http://"+front+"/")
	l.waitAnswering(t, "http://"+back+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/front", "deploy/back", "--probe", "http://"+front+"/", "--probe", "http://"+back+"/",
		"-o", "json", "--progress=plain", "--timeout=4m")
	var rep struct {
		stepReport
		Probe *struct {
			Requests int `json:"requests"`
			Errors   int `json:"errors"`
		} `json:"probe"`
	}
	decodeJSON(t, r, &rep)
	if r.code != 0 || rep.Outcome != "succeeded" || len(rep.Workloads) != 2 {
		t.Fatalf("exit %d outcome %q workloads %d (%s), want 0, succeeded, 2", r.code, rep.Outcome, len(rep.Workloads), rep.Message)
	}
	if rep.Probe == nil || rep.Probe.Requests == 0 || rep.Probe.Errors != 0 {
		t.Errorf("step probe %+v, want traffic and 0 errors", rep.Probe)
	}
}
