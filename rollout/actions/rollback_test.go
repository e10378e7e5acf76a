package actions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

var deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")

var (
	podTemplate         = rollouttest.PodTemplate
	templatedDeployment = rollouttest.TemplatedDeployment
	templatedReplicaSet = rollouttest.TemplatedReplicaSet
	webReplicaSet       = rollouttest.WebReplicaSet
)

const guardNS = rollouttest.NS

var (
	deploymentActions = rollouttest.DeploymentActions
	storedDeployment  = rollouttest.StoredDeployment
)

func TestPause(t *testing.T) {
	d := templatedDeployment("2", podTemplate("web:2", nil))
	d.ResourceVersion = "42"
	c := fake.NewClientset(d)
	if err := Pause(context.Background(), c, d, &d.Spec.Template, nil); err != nil {
		t.Fatal(err)
	}
	patches := deploymentActions(c, "patch")
	if len(patches) != 1 || len(c.Actions()) != 1 {
		t.Fatalf("actions = %v, want exactly one patch", c.Actions())
	}
	p := patches[0].(k8stesting.PatchAction)
	want := `{"metadata":{"resourceVersion":"42"},"spec":{"paused":true}}` // conditional on the checked template
	if p.GetPatchType() != types.MergePatchType || string(p.GetPatch()) != want || p.GetName() != "web" || p.GetNamespace() != guardNS {
		t.Errorf("patch %s %s/%s %s, want the merge patch %s of shop/web", p.GetPatchType(), p.GetNamespace(), p.GetName(), p.GetPatch(), want)
	}
	if !storedDeployment(t, c).Spec.Paused {
		t.Error("the Deployment is not paused")
	}
	if got := storedDeployment(t, c).Spec.Template.Spec.Containers[0].Image; got != "web:2" {
		t.Errorf("pausing changed the template: image %s", got)
	}
}

// Someone else's newer rollout is not paused.
func TestPauseRefusedWhenTemplateChanged(t *testing.T) {
	d := templatedDeployment("2", podTemplate("web:2", nil))
	c := fake.NewClientset(d)
	guarded := podTemplate("web:1", nil)
	if err := Pause(context.Background(), c, d, &guarded, nil); !errors.Is(err, ErrPauseRefused) {
		t.Fatalf("Pause = %v, want ErrPauseRefused", err)
	}
	if len(c.Actions()) != 0 || storedDeployment(t, c).Spec.Paused {
		t.Errorf("actions %v: want nothing written", c.Actions())
	}
}

// A brief API outage at the breach: the pause is retried until it lands.
func TestPauseRetriesTransientErrors(t *testing.T) {
	d := templatedDeployment("2", podTemplate("web:2", nil))
	c := fake.NewClientset(d)
	failures := 2
	c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
		}
		return false, nil, nil
	})
	var attempts []error
	if err := Pause(context.Background(), c, d, &d.Spec.Template, func(err error) { attempts = append(attempts, err) }); err != nil {
		t.Fatalf("Pause = %v, want success after the outage", err)
	}
	if len(attempts) != 3 || attempts[0] == nil || attempts[2] != nil || !storedDeployment(t, c).Spec.Paused {
		t.Errorf("attempts %v, paused %v; want two failures then the pause", attempts, storedDeployment(t, c).Spec.Paused)
	}
}

func TestPauseError(t *testing.T) {
	c := fake.NewClientset()
	d := templatedDeployment("2", podTemplate("web:2", nil))
	err := Pause(context.Background(), c, d, &d.Spec.Template, nil)
	if err == nil || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "pausing deployment shop/web") {
		t.Errorf("Pause of a missing Deployment = %v, want a wrapped NotFound", err)
	}
}

func TestPreviousReplicaSet(t *testing.T) {
	d := templatedDeployment("5", podTemplate("web:5", nil))
	rs := func(hash, revision string) *appsv1.ReplicaSet {
		return templatedReplicaSet(hash, revision, podTemplate("web:"+revision, nil))
	}
	notControlled := rs("other", "4")
	notControlled.OwnerReferences[0].Controller = ptr.To(false)
	otherOwner := rs("stranger", "4")
	otherOwner.OwnerReferences[0].UID = "someone-else"
	noOwner := rs("orphan", "4")
	noOwner.OwnerReferences = nil
	badRevision := rs("bad", "four")
	noRevision := rs("none", "")
	delete(noRevision.Annotations, workload.RevisionAnnotation)

	tests := []struct {
		name    string
		d       *appsv1.Deployment
		rss     []*appsv1.ReplicaSet
		want    string
		wantErr bool
	}{
		{"highest below current", d, []*appsv1.ReplicaSet{rs("r2", "2"), rs("r5", "5"), rs("r3", "3"), rs("r1", "1")}, "web-r3", false},
		{"revisions above current ignored", d, []*appsv1.ReplicaSet{rs("r7", "7"), rs("r2", "2"), rs("r5", "5")}, "web-r2", false},
		{"not controlled by the Deployment ignored", d, []*appsv1.ReplicaSet{notControlled, otherOwner, noOwner, rs("r3", "3"), rs("r5", "5")}, "web-r3", false},
		{"numeric, not lexical, order", templatedDeployment("12", podTemplate("web:12", nil)), []*appsv1.ReplicaSet{rs("r9", "9"), rs("r10", "10"), rs("r12", "12")}, "web-r10", false},
		{"unparsable revisions ignored", d, []*appsv1.ReplicaSet{badRevision, noRevision, rs("r1", "1")}, "web-r1", false},
		{"only the current revision", d, []*appsv1.ReplicaSet{rs("r5", "5")}, "", true},
		{"only strangers", d, []*appsv1.ReplicaSet{notControlled, otherOwner, noOwner}, "", true},
		{"no ReplicaSets", d, nil, "", true},
		{"Deployment without a revision", templatedDeployment("", podTemplate("web:1", nil)), []*appsv1.ReplicaSet{rs("r1", "1")}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PreviousReplicaSet(tc.d, tc.rss)
			if tc.wantErr {
				if err == nil || got != nil || !strings.Contains(err.Error(), "no previous revision") {
					t.Errorf("PreviousReplicaSet = %v, %v; want the no-previous-revision error", got, err)
				}
				return
			}
			if err != nil || got == nil || got.Name != tc.want {
				t.Errorf("PreviousReplicaSet = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// rollbackFixture: revision 2 (web:1, restarted once) precedes the guarded revision 3 (web:2).
type rollbackFixture struct {
	client   *fake.Clientset
	d        *appsv1.Deployment
	previous *appsv1.ReplicaSet
	guarded  *corev1.PodTemplateSpec
}

func newRollbackFixture() *rollbackFixture {
	guarded := podTemplate("web:2", nil)
	d := templatedDeployment("3", guarded)
	previous := templatedReplicaSet("bbb", "2", podTemplate("web:1", map[string]string{workload.RestartedAtAnnotation: "2025-01-01T00:00:00Z"}))
	c := fake.NewClientset(d, previous, templatedReplicaSet("ccc", "3", guarded))
	stored, _ := c.AppsV1().Deployments(guardNS).Get(context.Background(), "web", metav1.GetOptions{})
	c.ClearActions()
	return &rollbackFixture{client: c, d: stored, previous: previous, guarded: &guarded}
}

// wantPrevious is the template a rollback to revision 2 must write.
func wantPrevious() corev1.PodTemplateSpec {
	return podTemplate("web:1", map[string]string{workload.RestartedAtAnnotation: "2025-01-01T00:00:00Z"})
}

func (f *rollbackFixture) checkRolledBack(t *testing.T, update k8stesting.Action, wantReplicas int32) {
	t.Helper()
	sent := update.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
	if !equality.Semantic.DeepEqual(sent.Spec.Template, wantPrevious()) {
		t.Errorf("update carries template\n%+v\nwant revision 2's\n%+v", sent.Spec.Template, wantPrevious())
	}
	if _, ok := sent.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("the rolled-back template carries the ReplicaSet's pod-template-hash")
	}
	if *sent.Spec.Replicas != wantReplicas || sent.Name != "web" || sent.Spec.Selector.MatchLabels["app"] != "web" {
		t.Errorf("update changed more than the template: %+v", sent.Spec)
	}
	if img := storedDeployment(t, f.client).Spec.Template.Spec.Containers[0].Image; img != "web:1" {
		t.Errorf("stored Deployment runs %s, want web:1", img)
	}
	if _, ok := f.previous.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; !ok {
		t.Error("Rollback removed pod-template-hash from the ReplicaSet it was given")
	}
}

func TestRollback(t *testing.T) {
	f := newRollbackFixture()
	if err := Rollback(context.Background(), f.client, f.d, f.previous, f.guarded, nil); err != nil {
		t.Fatal(err)
	}
	updates := deploymentActions(f.client, "update")
	if len(updates) != 1 || len(f.client.Actions()) != 1 {
		t.Fatalf("actions = %v, want one update", f.client.Actions())
	}
	f.checkRolledBack(t, updates[0], 2)
	if img := f.d.Spec.Template.Spec.Containers[0].Image; img != "web:2" {
		t.Errorf("Rollback modified the Deployment it was given: image %s", img)
	}
}

func TestRollbackRefusedWhenTemplateChanged(t *testing.T) {
	f := newRollbackFixture()
	changed := f.d.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "web:3" // someone else's change
	err := Rollback(context.Background(), f.client, changed, f.previous, f.guarded, nil)
	if !errors.Is(err, ErrRollbackRefused) {
		t.Fatalf("Rollback = %v, want ErrRollbackRefused", err)
	}
	if len(f.client.Actions()) != 0 {
		t.Errorf("a refused rollback sent %v", f.client.Actions())
	}

	// Only the template counts: a change elsewhere in the Deployment is fine.
	scaled := f.d.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](5)
	if err := Rollback(context.Background(), f.client, scaled, f.previous, f.guarded, nil); err != nil {
		t.Errorf("Rollback of a scaled Deployment = %v", err)
	}
}

// conflictOnce makes the first Deployment update fail with a Conflict, after
// running meanwhile (someone else's write) if it is set.
func conflictOnce(t *testing.T, c *fake.Clientset, meanwhile func(d *appsv1.Deployment)) {
	t.Helper()
	done := false
	c.PrependReactor("update", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if done {
			return false, nil, nil
		}
		done = true
		if meanwhile != nil {
			obj, err := c.Tracker().Get(deploymentsGVR, guardNS, "web")
			if err != nil {
				t.Error(err)
				return true, nil, err
			}
			d := obj.(*appsv1.Deployment).DeepCopy()
			meanwhile(d)
			if err := c.Tracker().Update(deploymentsGVR, d, guardNS); err != nil {
				t.Error(err)
			}
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web",
			errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	})
}

func verbs(actions []k8stesting.Action) string {
	var out []string
	for _, a := range actions {
		out = append(out, a.GetVerb())
	}
	return strings.Join(out, ",")
}

func TestRollbackConflictThenSuccess(t *testing.T) {
	f := newRollbackFixture()
	conflictOnce(t, f.client, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](4) }) // a scale: not the template
	if err := Rollback(context.Background(), f.client, f.d, f.previous, f.guarded, nil); err != nil {
		t.Fatal(err)
	}
	if got := verbs(f.client.Actions()); got != "update,get,update" {
		t.Fatalf("actions = %s, want update,get,update", got)
	}
	updates := deploymentActions(f.client, "update")
	f.checkRolledBack(t, updates[1], 4)
	// The retry is based on the re-read Deployment, so the concurrent scale survives.
	if r := *storedDeployment(t, f.client).Spec.Replicas; r != 4 {
		t.Errorf("replicas = %d after the retry, want the concurrent 4 kept", r)
	}
}

func TestRollbackConflictThenSomeoneElsesTemplate(t *testing.T) {
	f := newRollbackFixture()
	conflictOnce(t, f.client, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "web:3" })
	err := Rollback(context.Background(), f.client, f.d, f.previous, f.guarded, nil)
	if !errors.Is(err, ErrRollbackRefused) {
		t.Fatalf("Rollback = %v, want ErrRollbackRefused", err)
	}
	if got := verbs(f.client.Actions()); got != "update,get" {
		t.Errorf("actions = %s, want update,get and nothing more", got)
	}
	if img := storedDeployment(t, f.client).Spec.Template.Spec.Containers[0].Image; img != "web:3" {
		t.Errorf("stored image = %s, want someone else's web:3 kept", img)
	}
}

func TestRollbackKeepsConflicting(t *testing.T) {
	f := newRollbackFixture()
	f.client.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("modified"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond) // the action timeout
	defer cancel()
	var attempts []error
	err := Rollback(ctx, f.client, f.d, f.previous, f.guarded, func(err error) { attempts = append(attempts, err) })
	if err == nil || errors.Is(err, ErrRollbackRefused) || !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "rolling back deployment shop/web") {
		t.Fatalf("Rollback = %v, want the last conflict once the action timeout ended the retries", err)
	}
	if n := len(deploymentActions(f.client, "update")); n < 2 || n != len(attempts) {
		t.Errorf("%d updates, %d attempts recorded; want retries, each recorded", n, len(attempts))
	}
}

func TestRollbackOtherErrors(t *testing.T) {
	f := newRollbackFixture()
	f.client.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no update"))
	})
	err := Rollback(context.Background(), f.client, f.d, f.previous, f.guarded, nil)
	if !apierrors.IsForbidden(err) || errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "rolling back deployment shop/web") {
		t.Fatalf("Rollback = %v, want a wrapped Forbidden", err)
	}
	if got := verbs(f.client.Actions()); got != "update" {
		t.Errorf("actions = %s, want a single update (no retry on Forbidden)", got)
	}

	g := newRollbackFixture()
	conflictOnce(t, g.client, nil)
	g.client.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web")
	})
	err = Rollback(context.Background(), g.client, g.d, g.previous, g.guarded, nil)
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "re-reading deployment shop/web") {
		t.Errorf("Rollback with a failing re-read = %v, want a wrapped NotFound", err)
	}
}
