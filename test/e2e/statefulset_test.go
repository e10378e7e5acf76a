//go:build e2e

package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// statefulSet is the app as a StatefulSet with its headless Service (the
// pods' stable names) beside the app's ClusterIP Service.
func (a app) statefulSet(ns string) (*appsv1.StatefulSet, []*corev1.Service) {
	d, svc := a.objects(ns)
	headless := svc.DeepCopy()
	headless.Name = a.name + "-headless"
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	s := &appsv1.StatefulSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.StatefulSetSpec{
			Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: headless.Name,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
	return s, []*corev1.Service{headless, svc}
}

// deployStatefulSet creates the app as a StatefulSet and waits until every
// replica is ready at one revision.
func (l *lab) deployStatefulSet(t *testing.T, ns string, a app) *appsv1.StatefulSet {
	t.Helper()
	ctx := context.Background()
	s, services := a.statefulSet(ns)
	for _, svc := range services {
		if _, err := l.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.client.AppsV1().StatefulSets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *appsv1.StatefulSet
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = l.client.AppsV1().StatefulSets(ns).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := got.Status
		return st.ObservedGeneration >= got.Generation && st.ReadyReplicas == *got.Spec.Replicas &&
			st.UpdatedReplicas == *got.Spec.Replicas && st.CurrentRevision == st.UpdateRevision, nil
	})
	if err != nil {
		t.Fatalf("statefulset %s/%s not ready: %v (status %+v)", ns, s.Name, err, got.Status)
	}
	return got
}

// podRevisions maps the StatefulSet's pods to their revision label.
func (l *lab) podRevisions(t *testing.T, ns, app string) map[string]string {
	t.Helper()
	pods, err := l.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Labels[appsv1.ControllerRevisionHashLabelKey]
		}
	}
	return out
}

// stsReport is the part of the JSON report these tests read.
type stsReport struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Message string `json:"message"`
	Pods    []struct {
		Name             string    `json:"name"`
		Exit             string    `json:"exit"`
		DeletionObserved time.Time `json:"deletionObserved"`
	} `json:"pods"`
	Summary struct {
		Clean    int `json:"clean"`
		SIGKILLs int `json:"sigkills"`
	} `json:"summary"`
	Breaches []struct {
		Budget string `json:"budget"`
		Action string `json:"action"`
	} `json:"breaches"`
	Probe *struct {
		Requests int `json:"requests"`
		Errors   int `json:"errors"`
	} `json:"probe"`
}

// The contract app as a StatefulSet: the restart rolls ordinals 2, 1, 0 one
// at a time, every old pod drains cleanly, and probe traffic sees no error.
func TestStatefulSetRestartClean(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deployStatefulSet(t, ns, app{name: "db", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}})
	ip := l.clusterIP(t, ns, "db")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "statefulset/db", "--probe", "http://"+ip+"/", "-o", "json", "--progress=plain", "--timeout=4m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Fatalf("exit %d outcome %q (%s), want 0 succeeded", r.code, rep.Outcome, rep.Message)
	}
	if rep.Kind != "StatefulSet" || rep.Name != "db" {
		t.Errorf("report names %s/%s, want StatefulSet/db", rep.Kind, rep.Name)
	}
	if rep.Probe == nil || rep.Probe.Requests == 0 || rep.Probe.Errors != 0 {
		t.Errorf("probe %+v, want traffic and 0 errors", rep.Probe)
	}
	if len(rep.Pods) != 3 || rep.Summary.Clean != 3 {
		t.Fatalf("pods %+v summary %+v, want 3 old pods, 3 clean", rep.Pods, rep.Summary)
	}
	pods := rep.Pods
	sort.Slice(pods, func(i, j int) bool { return pods[i].DeletionObserved.Before(pods[j].DeletionObserved) })
	var order []string
	for _, p := range pods {
		order = append(order, p.Name)
	}
	if strings.Join(order, ",") != "db-2,db-1,db-0" {
		t.Errorf("ordinals deleted in order %v, want db-2, db-1, db-0", order)
	}
}

// The app ignores SIGTERM: the first ordinal is SIGKILLed at its grace
// deadline, the roll is stopped by the partition (exit 3), and the ordinals
// not yet replaced keep their revision.
func TestStatefulSetSIGKILLStopsTheRollByPartition(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	before := l.deployStatefulSet(t, ns, app{name: "stubborn", grace: 3, args: []string{"--mode=ignore-sigterm"}})
	oldRevision := before.Status.UpdateRevision

	r := l.run(t, "-n", ns, "restart", "sts/stubborn", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=4m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 3 || rep.Outcome != "paused" {
		t.Fatalf("exit %d outcome %q (%s), want 3 paused", r.code, rep.Outcome, rep.Message)
	}
	if len(rep.Breaches) == 0 || rep.Breaches[0].Budget != "sigkills" || rep.Summary.SIGKILLs == 0 {
		t.Fatalf("breaches %+v summary %+v, want a sigkills breach", rep.Breaches, rep.Summary)
	}
	if !strings.Contains(rep.Message, "partition") || !strings.Contains(rep.Message, "kubectl patch statefulset/stubborn") {
		t.Errorf("message %q, want the partition and the command that restores it", rep.Message)
	}
	s, err := l.client.AppsV1().StatefulSets(ns).Get(context.Background(), "stubborn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	partition := ptr.Deref(s.Spec.UpdateStrategy.RollingUpdate.Partition, 0)
	if partition != 2 {
		t.Errorf("partition %d, want 2: only db-2 was being replaced", partition)
	}
	// Give the controller time to do what it would wrongly do, then look.
	time.Sleep(5 * time.Second)
	revisions := l.podRevisions(t, ns, "stubborn")
	for _, name := range []string{"stubborn-0", "stubborn-1"} {
		if revisions[name] != oldRevision {
			t.Errorf("%s at revision %q, want the old %q untouched (all: %v)", name, revisions[name], oldRevision, revisions)
		}
	}
}

// A release whose pods crash-loop: watch rolls the StatefulSet back and
// deletes the broken pod (the controller would wait on it forever: the
// documented forced rollback), as the ServiceAccount of deploy/rbac.yaml,
// with nothing forbidden. A DaemonSet restart as the same user covers its
// verbs.
func TestRBACStatefulSetForcedRollbackAndDaemonSet(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	good := []string{"--mode=contract", "--drain-delay=1s"}
	before := l.deployStatefulSet(t, ns, app{name: "db", grace: 10, preStop: true, args: good})
	l.deployDaemonSet(t, ns, app{name: "agent", grace: 10, preStop: true, args: good})
	_, _, kubeconfig := l.documentedRoleUser(t, ns)

	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","args":["--mode=no-such-mode"]}]}}}}`
	if _, err := l.client.AppsV1().StatefulSets(ns).Patch(context.Background(), "db", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := l.runWith(t, kubeconfig, "-n", ns, "watch", "sts/db", "--on-breach=rollback", "-o", "json", "--progress=plain", "--timeout=3m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 4 || rep.Outcome != "rolled-back" {
		t.Fatalf("exit %d outcome %q (%s), want 4 rolled-back", r.code, rep.Outcome, rep.Message)
	}
	if !strings.Contains(rep.Message, "forced rollback: deleted pods db-2") {
		t.Errorf("message %q, want the forced rollback of db-2 said", rep.Message)
	}
	if strings.Contains(r.stderr, "forbidden") {
		t.Errorf("forbidden requests (deploy/rbac.yaml is missing a verb):\n%s", forbidden(r.stderr))
	}
	// The rollback proceeds: every pod back at the first revision, ready.
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := l.client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		revs := l.podRevisions(t, ns, "db")
		for _, rev := range revs {
			if rev != before.Status.UpdateRevision {
				return false, nil
			}
		}
		return len(revs) == 3 && s.Status.ReadyReplicas == 3, nil
	})
	if err != nil {
		t.Errorf("the StatefulSet did not come back to revision %s: %v (pods %v)", before.Status.UpdateRevision, err, l.podRevisions(t, ns, "db"))
	}

	ds := l.runWith(t, kubeconfig, "-n", ns, "restart", "ds/agent", "-o", "json", "--progress=plain", "--timeout=3m")
	var dsRep stsReport
	decodeJSON(t, ds, &dsRep)
	if ds.code != 0 || dsRep.Outcome != "succeeded" || strings.Contains(ds.stderr, "forbidden") {
		t.Errorf("daemonset restart as the Role's user: exit %d outcome %q (%s)\n%s", ds.code, dsRep.Outcome, dsRep.Message, forbidden(ds.stderr))
	}
}
