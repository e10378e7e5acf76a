package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// The Deployment deleted mid-guard ends the run with outcome deleted, whatever
// its pods still do.
func TestGuardWorkloadDeleted(t *testing.T) {
	c, d := inProgress(t)
	done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0), context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	if err := c.client.AppsV1().Deployments(rollouttest.NS).Delete(c.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := c.result(done)
	if r.Outcome != report.OutcomeDeleted || r.Message != "deployment shop/web was deleted while guarded" {
		t.Errorf("outcome %q (%s), want %q", r.Outcome, r.Message, report.OutcomeDeleted)
	}
	if _, ok := c.log.find(isType[progress.WorkloadDeleted]); !ok {
		t.Errorf("no WorkloadDeleted event:\n%s", c.log)
	}
}

// shipNewTemplate is someone else's `kubectl set image`: a new template and
// generation, observed by the controller at revision 3.
func (c *cluster) shipNewTemplate(image string, observed bool) {
	c.t.Helper()
	deployments := c.client.AppsV1().Deployments(rollouttest.NS)
	d, err := deployments.Get(c.ctx, "web", metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = image
	d.Generation++
	if observed {
		d.Status.ObservedGeneration = d.Generation
		d.Annotations[workload.RevisionAnnotation] = "3"
	}
	if _, err := deployments.Update(c.ctx, d, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func TestGuardNewRevision(t *testing.T) {
	t.Run("without follow: superseded, named, nothing acted", func(t *testing.T) {
		c, d := inProgress(t)
		done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0), context.Background(), d, nil)
		c.log.waitFor(t, status("1 of 2 new pods updated"))
		// Until the controller observed the new generation, its revision is unknown.
		c.shipNewTemplate("web:3", false)
		c.shipNewTemplate("web:3", true)
		r := c.result(done)
		if r.Outcome != report.OutcomeSuperseded || !strings.Contains(r.Message, "revision 3 (generation 4)") {
			t.Errorf("outcome %q (%s), want %q naming revision 3", r.Outcome, r.Message, report.OutcomeSuperseded)
		}
		if len(r.Revisions) != 1 || r.Revisions[0].Revision != "3" || r.Revisions[0].Followed {
			t.Errorf("revisions %+v, want revision 3 not followed", r.Revisions)
		}
		if len(r.Breaches) != 0 || len(rollouttest.DeploymentActions(c.client, "patch")) != 0 {
			t.Errorf("breaches %+v, patches %v: want nothing acted on someone else's release", r.Breaches, rollouttest.DeploymentActions(c.client, "patch"))
		}
	})
	t.Run("with follow: guarded until complete", func(t *testing.T) {
		c, d := inProgress(t)
		g := c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0)
		g.Follow = true
		done := c.run(g, context.Background(), d, nil)
		c.log.waitFor(t, status("1 of 2 new pods updated"))
		c.shipNewTemplate("web:3", true)
		c.log.waitUntil(t, "the new revision followed", func(e progress.Event) bool {
			v, ok := e.(progress.NewRevision)
			return ok && v.Followed && v.Revision == "3"
		})
		// The controller rolls revision 3: a new ReplicaSet, the old pods go.
		if _, err := c.client.AppsV1().ReplicaSets(rollouttest.NS).Create(c.ctx, rollouttest.WebReplicaSet("ccc", "3"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"web-aaa-1", "web-aaa-2", "web-bbb-1"} {
			c.RemovePod(p)
		}
		c.completeRollout()
		r := c.result(done)
		if r.Outcome != report.OutcomeSucceeded || r.ToRevision != "3" {
			t.Errorf("outcome %q (%s) to revision %q, want succeeded at 3", r.Outcome, r.Message, r.ToRevision)
		}
		if len(r.Revisions) != 1 || !r.Revisions[0].Followed {
			t.Errorf("revisions %+v, want revision 3 followed", r.Revisions)
		}
	})
	t.Run("scaling is not a new revision", func(t *testing.T) {
		c, d := inProgress(t)
		done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, time.Minute), context.Background(), d, nil)
		c.log.waitFor(t, status("1 of 2 new pods updated"))
		live, err := c.client.AppsV1().Deployments(rollouttest.NS).Get(c.ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		live.Spec.Replicas = new(int32)
		*live.Spec.Replicas = 5
		live.Generation++
		live.Status.ObservedGeneration = live.Generation
		if _, err := c.client.AppsV1().Deployments(rollouttest.NS).Update(c.ctx, live, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the guard's timeout timer", c.clock.HasWaiters)
		c.step(time.Minute)
		if r := c.result(done); r.Outcome != report.OutcomeTimeout || len(r.Revisions) != 0 {
			t.Errorf("outcome %q, revisions %+v; want the guard still on its rollout (timeout), no revision", r.Outcome, r.Revisions)
		}
	})
}

// A Service created during the rollout that selects the pods gets its
// EndpointSlices watched; one selecting other pods does not.
func TestGuardWatchesServicesCreatedMidRollout(t *testing.T) {
	c, d := inProgress(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := c.run(c.guard(policy.BreachLimits{MaxUncleanExits: -1}, 0), ctx, d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))
	other := rollouttest.WebService()
	other.Name, other.Spec.Selector = "api", map[string]string{"app": "api"}
	canary := rollouttest.WebService()
	canary.Name = "web-canary"
	for _, svc := range []*corev1.Service{other, canary} {
		if _, err := c.client.CoreV1().Services(rollouttest.NS).Create(c.ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c.log.waitFor(t, progress.ServiceWatched{Service: "web-canary"})
	cancel()
	c.result(done)
	if _, ok := c.log.find(func(e progress.Event) bool {
		s, ok := e.(progress.ServiceWatched)
		return ok && s.Service != "web-canary"
	}); ok {
		t.Errorf("a Service that does not select the pods was watched:\n%s", c.log)
	}
}
