package actions

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

var (
	statefulSetsGVR = appsv1.SchemeGroupVersion.WithResource("statefulsets")
	daemonSetsGVR   = appsv1.SchemeGroupVersion.WithResource("daemonsets")
)

// webStatefulSet is web as a StatefulSet of 3 replicas running template, its
// status caught up, rolling from revision web-old to web-new.
func webStatefulSet(template corev1.PodTemplateSpec) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: guardNS, UID: "sts-uid", ResourceVersion: "42", Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To[int32](3),
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template:            template,
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, CurrentRevision: "web-old", UpdateRevision: "web-new"},
	}
}

// webDaemonSet is web as a DaemonSet running template, its status caught up.
func webDaemonSet(template corev1.PodTemplateSpec) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: guardNS, UID: "ds-uid", ResourceVersion: "42", Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template,
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("10%")), MaxSurge: ptr.To(intstr.FromInt32(0))},
			},
		},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2},
	}
}

// controllerRevision records template as revision of the workload owner
// (kind, uid), with the data the StatefulSet and DaemonSet controllers store.
func controllerRevision(t *testing.T, kind, uid, name string, revision int64, template corev1.PodTemplateSpec) *appsv1.ControllerRevision {
	t.Helper()
	raw, err := json.Marshal(template)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	tmpl["$patch"] = "replace"
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: guardNS, Labels: map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: "web", UID: types.UID(uid), Controller: ptr.To(true)}}},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
}

func stsRevision(t *testing.T, name string, revision int64, template corev1.PodTemplateSpec) *appsv1.ControllerRevision {
	return controllerRevision(t, "StatefulSet", "sts-uid", name, revision, template)
}

func dsRevision(t *testing.T, name string, revision int64, template corev1.PodTemplateSpec) *appsv1.ControllerRevision {
	return controllerRevision(t, "DaemonSet", "ds-uid", name, revision, template)
}

// restartedTemplate is web:1 as revision 2 ran it: restarted once.
func restartedTemplate() corev1.PodTemplateSpec {
	return podTemplate("web:1", map[string]string{"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"})
}

func names(revisions ...*appsv1.ControllerRevision) string {
	var out []string
	for _, r := range revisions {
		if r == nil {
			out = append(out, "<nil>")
		} else {
			out = append(out, r.Name)
		}
	}
	return strings.Join(out, ",")
}

func TestPreviousRevisionStatefulSet(t *testing.T) {
	guarded := podTemplate("web:3", nil)
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return stsRevision(t, name, n, podTemplate("web:"+name, nil))
	}
	caughtUp := func(updateRevision string) *appsv1.StatefulSet {
		s := webStatefulSet(guarded)
		s.Status.UpdateRevision = updateRevision
		return s
	}
	// Right after a restart: generation bumped, status still names the old revision.
	restarted := caughtUp("web-r2")
	restarted.Generation = 3
	stranger := rev("stranger", 2)
	stranger.OwnerReferences[0].UID = "someone-else"
	notController := rev("uncontrolled", 2)
	notController.OwnerReferences[0].Controller = ptr.To(false)
	guardedRev := stsRevision(t, "web-r3", 3, guarded)

	tests := []struct {
		name      string
		s         *appsv1.StatefulSet
		revisions []*appsv1.ControllerRevision
		want      string
	}{
		{"highest below current", caughtUp("web-r3"), []*appsv1.ControllerRevision{rev("web-r1", 1), guardedRev, rev("web-r2", 2)}, "web-r2"},
		{"revisions above current ignored", caughtUp("web-r3"), []*appsv1.ControllerRevision{rev("web-r7", 7), guardedRev, rev("web-r1", 1)}, "web-r1"},
		{"current is the revision the status names, not the highest", caughtUp("web-r5"), []*appsv1.ControllerRevision{rev("web-r5", 5), rev("web-r9", 9), rev("web-r4", 4)}, "web-r4"},
		{"not controlled by the StatefulSet ignored", caughtUp("web-r3"), []*appsv1.ControllerRevision{stranger, notController, guardedRev, rev("web-r1", 1)}, "web-r1"},
		{"only the current revision", caughtUp("web-r3"), []*appsv1.ControllerRevision{guardedRev}, "<nil>"},
		{"no revisions", caughtUp("web-r3"), nil, "<nil>"},
		// Stale: the newest revision whose template is not the guarded one.
		{"stale status right after restart", restarted, []*appsv1.ControllerRevision{rev("web-r1", 1), rev("web-r2", 2)}, "web-r2"},
		{"stale status, guarded already recorded", restarted, []*appsv1.ControllerRevision{rev("web-r1", 1), guardedRev, rev("web-r2", 2)}, "web-r2"},
		{"status names an unknown revision", caughtUp("web-gone"), []*appsv1.ControllerRevision{rev("web-r1", 1), guardedRev}, "web-r1"},
		{"stale and only guarded", restarted, []*appsv1.ControllerRevision{guardedRev}, "<nil>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(PreviousRevision(tc.s, tc.revisions, &guarded)); got != tc.want {
				t.Errorf("PreviousRevision = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPreviousRevisionDaemonSet(t *testing.T) {
	guarded := podTemplate("web:3", nil)
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return dsRevision(t, name, n, podTemplate("web:"+name, nil))
	}
	ds := webDaemonSet(guarded)
	restarted := webDaemonSet(guarded)
	restarted.Generation = 3
	guardedRev := dsRevision(t, "web-r3", 3, guarded)
	stsOwned := stsRevision(t, "web-sts", 2, podTemplate("web:sts", nil))

	tests := []struct {
		name      string
		ds        *appsv1.DaemonSet
		revisions []*appsv1.ControllerRevision
		want      string
	}{
		{"second highest, as kubectl", ds, []*appsv1.ControllerRevision{rev("web-r1", 1), guardedRev, rev("web-r2", 2)}, "web-r2"},
		{"numeric order", ds, []*appsv1.ControllerRevision{rev("web-r9", 9), rev("web-r10", 10), rev("web-r2", 2)}, "web-r9"},
		{"another owner's revisions ignored", ds, []*appsv1.ControllerRevision{stsOwned, guardedRev, rev("web-r1", 1)}, "web-r1"},
		{"only one revision", ds, []*appsv1.ControllerRevision{guardedRev}, "<nil>"},
		// Before the controller records the restart, the highest revision is the one before it.
		{"stale status right after restart", restarted, []*appsv1.ControllerRevision{rev("web-r1", 1), rev("web-r2", 2)}, "web-r2"},
		{"stale status, guarded already recorded", restarted, []*appsv1.ControllerRevision{guardedRev, rev("web-r2", 2), rev("web-r1", 1)}, "web-r2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(PreviousRevision(tc.ds, tc.revisions, &guarded)); got != tc.want {
				t.Errorf("PreviousRevision = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRevisionTemplate(t *testing.T) {
	want := restartedTemplate()
	got, err := workload.RevisionTemplate(stsRevision(t, "web-r2", 2, want))
	if err != nil || !equality.Semantic.DeepEqual(*got, want) {
		t.Errorf("RevisionTemplate = %+v, %v; want %+v", got, err, want)
	}
	for name, raw := range map[string]string{"no template": `{"spec":{}}`, "not JSON": `{`, "empty": ``} {
		r := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Data: runtime.RawExtension{Raw: []byte(raw)}}
		if _, err := workload.RevisionTemplate(r); err == nil {
			t.Errorf("%s: RevisionTemplate succeeded", name)
		}
	}
}

func TestControllerRevisions(t *testing.T) {
	s := webStatefulSet(podTemplate("web:3", nil))
	other := stsRevision(t, "other-r1", 1, podTemplate("other", nil))
	other.Labels = map[string]string{"app": "other"}
	other.OwnerReferences[0].UID = "other-uid"
	stranger := stsRevision(t, "stranger", 1, podTemplate("x", nil)) // matching labels, another owner
	stranger.OwnerReferences[0].UID = "someone-else"
	c := fake.NewClientset(stsRevision(t, "web-r1", 1, podTemplate("web:1", nil)), other, stranger, stsRevision(t, "web-r2", 2, podTemplate("web:2", nil)))
	c.ClearActions()
	got, err := ControllerRevisions(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got...); n != "web-r1,web-r2" {
		t.Errorf("ControllerRevisions = %s, want web-r1,web-r2", n)
	}
	list := c.Actions()[0].(k8stesting.ListAction)
	if len(c.Actions()) != 1 || list.GetListRestrictions().Labels.String() != "app=web" || list.GetNamespace() != guardNS {
		t.Errorf("requests %v, want one list by app=web in shop", c.Actions())
	}

	c.PrependReactor("list", "controllerrevisions", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}, "", errors.New("no list"))
	})
	if _, err := ControllerRevisions(context.Background(), c, webDaemonSet(podTemplate("web:3", nil))); !apierrors.IsForbidden(err) {
		t.Errorf("ControllerRevisions = %v, want a wrapped Forbidden", err)
	}
}

// patchesOf are the client's patches of resource.
func patchesOf(c *fake.Clientset, resource string) []k8stesting.PatchAction {
	var out []k8stesting.PatchAction
	for _, a := range c.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == resource {
			out = append(out, p)
		}
	}
	return out
}

// jsonEqual tells whether two JSON documents are equal, ignoring key order.
func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s is not JSON: %v", want, err)
	}
	return equality.Semantic.DeepEqual(g, w)
}

// conflictFirst makes the first patch of resource fail with a Conflict, after
// running meanwhile (someone else's write) on the stored object.
func conflictFirst(t *testing.T, c *fake.Clientset, gvr schema.GroupVersionResource, meanwhile func(obj runtime.Object)) {
	t.Helper()
	done := false
	c.PrependReactor("patch", gvr.Resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		if done {
			return false, nil, nil
		}
		done = true
		if meanwhile != nil {
			obj, err := c.Tracker().Get(gvr, guardNS, "web")
			if err != nil {
				t.Error(err)
				return true, nil, err
			}
			obj = obj.DeepCopyObject()
			meanwhile(obj)
			if err := c.Tracker().Update(gvr, obj, guardNS); err != nil {
				t.Error(err)
			}
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: gvr.Resource}, "web", errors.New("the object has been modified"))
	})
}
