package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

// findCheck returns the check with that ID or fails the test.
func findCheck(t *testing.T, r verify.ObjectReport, id string) verify.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", id, r.Checks)
	return verify.Check{}
}

func TestClusterReaderEnvironment(t *testing.T) {
	d := verifytest.Deployment()
	live := verifytest.Steady(d)
	web := verifytest.Service("ns", "web", verifytest.WebLabels)
	other := verifytest.Service("other", "web", verifytest.WebLabels)
	p1, p2 := verifytest.Pod("ns", "web-1", verifytest.WebLabels), verifytest.Pod("ns", "web-2", verifytest.WebLabels)
	sl := verifytest.Slice("ns", "web", "web-1", "web-2")
	budget := verifytest.PDB("ns", "web-pdb", live.Spec.Selector)
	client := fake.NewClientset(live, &web, &other, &p1, &p2, &sl, &budget)

	r := NewReader(client)
	env, err := r.Environment(context.Background(), d, verify.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	if env.Local {
		t.Error("a cluster environment is not local")
	}
	if env.Live == nil || env.Live.Deployment().Status.UpdatedReplicas != 3 {
		t.Errorf("Live = %+v, want the cluster's Deployment", env.Live)
	}
	if len(env.Services) != 1 || env.Services[0].Namespace != "ns" {
		t.Errorf("Services = %+v, want only ns/web", env.Services)
	}
	if len(env.Pods) != 2 || len(env.EndpointSlices) != 1 || len(env.PDBs) != 1 {
		t.Errorf("got %d pods, %d slices, %d PDBs; want 2, 1, 1", len(env.Pods), len(env.EndpointSlices), len(env.PDBs))
	}

	report := verify.CheckDeployment(d, verify.DefaultGraceBudget(), env)
	for id, want := range map[string]verify.Status{verify.CheckService: verify.StatusPass, verify.CheckPaused: verify.StatusPass, verify.CheckRolloutInProgress: verify.StatusPass, verify.CheckPDB: verify.StatusPass} {
		if c := findCheck(t, report, id); c.Status != want {
			t.Errorf("%s = %s (%s), want %s", id, c.Status, c.Message, want)
		}
	}
	if c := findCheck(t, report, verify.CheckService); !strings.Contains(c.Message, "EndpointSlices list 2 of 2 pods") {
		t.Errorf("service message = %q", c.Message)
	}
}

func TestClusterReaderListsEachNamespaceOnce(t *testing.T) {
	client := fake.NewClientset()
	r := NewReader(client)
	ctx := context.Background()
	a, b := verifytest.Deployment(), verifytest.Deployment()
	b.Name = "api"
	c := verifytest.Deployment()
	c.Namespace = "other"
	for _, d := range []*appsv1.Deployment{a, b, c} {
		if _, err := r.Environment(ctx, d, verify.Environment{}); err != nil {
			t.Fatal(err)
		}
	}
	lists := map[string]int{}
	gets := 0
	for _, act := range client.Actions() {
		switch act.GetVerb() {
		case "list":
			lists[act.GetNamespace()+"/"+act.GetResource().Resource]++
		case "get":
			gets++
		}
	}
	for _, ns := range []string{"ns", "other"} {
		for _, res := range []string{"services", "endpointslices", "pods", "poddisruptionbudgets", "horizontalpodautoscalers"} {
			if n := lists[ns+"/"+res]; n != 1 {
				t.Errorf("%s listed %d times in %s, want 1", res, n, ns)
			}
		}
	}
	if gets != 3 {
		t.Errorf("%d deployment gets, want 3 (one per Deployment)", gets)
	}
}

func TestClusterReaderNotDeployedYet(t *testing.T) {
	r := NewReader(fake.NewClientset())
	env, err := r.Environment(context.Background(), verifytest.Deployment(), verify.Environment{})
	if err != nil {
		t.Fatalf("a missing Deployment is not an error: %v", err)
	}
	if env.Live != nil {
		t.Errorf("Live = %+v, want nil", env.Live)
	}
	serving := verifytest.Deployment()
	serving.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	rep := verify.CheckDeployment(serving, verify.DefaultGraceBudget(), env)
	if c := findCheck(t, rep, verify.CheckRolloutInProgress); c.Status != verify.StatusSkip {
		t.Errorf("rollout-in-progress = %s, want skip", c.Status)
	}
	if c := findCheck(t, rep, verify.CheckService); c.Status != verify.StatusWarn {
		t.Errorf("service = %s, want warn (no Service in the cluster)", c.Status)
	}
	// Without ports either, the pods are workers: no Service is the design.
	worker := verify.CheckDeployment(verifytest.Deployment(), verify.DefaultGraceBudget(), env)
	if c := findCheck(t, worker, verify.CheckService); c.Status != verify.StatusSkip || !strings.Contains(c.Message, "a worker") {
		t.Errorf("service of a worker = %s %q, want skip", c.Status, c.Message)
	}
}

// The cluster's HorizontalPodAutoscaler sets the replicas rollout-strategy judges.
func TestClusterReaderHPA(t *testing.T) {
	d := verifytest.Deployment()
	d.Spec.Replicas = nil
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-hpa"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](3), MaxReplicas: 10,
		},
	}
	env, err := NewReader(fake.NewClientset(hpa)).Environment(context.Background(), d, verify.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	c := findCheck(t, verify.CheckDeployment(d, verify.DefaultGraceBudget(), env), verify.CheckRolloutStrategy)
	if c.Status != verify.StatusPass || !strings.Contains(c.Message, "replicas 3 (minReplicas of HorizontalPodAutoscaler web-hpa)") {
		t.Errorf("rollout-strategy = %s %q, want pass with the HPA's minReplicas", c.Status, c.Message)
	}
}

// A Role that may not list HorizontalPodAutoscalers: the report says so and the
// preflight carries on with spec.replicas.
func TestClusterReaderHPAForbidden(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "horizontalpodautoscalers", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "", errors.New("no RBAC"))
	})
	d := verifytest.Deployment()
	env, err := NewReader(client).Environment(context.Background(), d, verify.Environment{})
	if err != nil {
		t.Fatalf("forbidden HPAs stopped the preflight: %v", err)
	}
	c := findCheck(t, verify.CheckDeployment(d, verify.DefaultGraceBudget(), env), verify.CheckRolloutStrategy)
	if c.Status != verify.StatusPass || !strings.Contains(c.Message, "(HorizontalPodAutoscalers not read: horizontalpodautoscalers.autoscaling is forbidden") ||
		!strings.Contains(c.Message, "spec.replicas used)") {
		t.Errorf("rollout-strategy = %s %q, want pass saying what could not be read", c.Status, c.Message)
	}
}

// Services and PDBs from the manifests are added unless the cluster has one of that name.
func TestClusterReaderMergesManifestObjects(t *testing.T) {
	clusterSvc := verifytest.Service("ns", "web", map[string]string{"app": "old"})
	client := fake.NewClientset(&clusterSvc)
	fromFiles := verify.Environment{
		Services: []corev1.Service{verifytest.Service("ns", "web", verifytest.WebLabels), verifytest.Service("ns", "web-canary", verifytest.WebLabels)},
		PDBs:     []policyv1.PodDisruptionBudget{verifytest.PDB("ns", "web-pdb", verifytest.Deployment().Spec.Selector)},
	}
	env, err := NewReader(client).Environment(context.Background(), verifytest.Deployment(), fromFiles)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range env.Services {
		names = append(names, s.Name+"="+s.Spec.Selector["app"])
	}
	if got := strings.Join(names, ","); got != "web=old,web-canary=web" {
		t.Errorf("Services = %s, want the cluster's web and the manifests' web-canary", got)
	}
	if len(env.PDBs) != 1 || env.PDBs[0].Name != "web-pdb" {
		t.Errorf("PDBs = %+v, want web-pdb from the manifests", env.PDBs)
	}
}

func TestClusterReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		verb, resource, want string
	}{
		{"list", "services", "listing services in ns: forbidden"},
		{"list", "endpointslices", "listing endpointslices in ns"},
		{"list", "pods", "listing pods in ns"},
		{"list", "poddisruptionbudgets", "listing poddisruptionbudgets in ns"},
		{"list", "horizontalpodautoscalers", "listing horizontalpodautoscalers in ns: forbidden"}, // not an API Forbidden: a real failure
		{"get", "deployments", "reading deployment ns/web: forbidden"},
	} {
		t.Run(tc.verb+" "+tc.resource, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor(tc.verb, tc.resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("forbidden")
			})
			_, err := NewReader(client).Environment(context.Background(), verifytest.Deployment(), verify.Environment{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A StatefulSet or DaemonSet is read again by its own kind; a workload the
// cluster does not have is not deployed yet.
func TestClusterReaderWorkloadKinds(t *testing.T) {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db", Generation: 2}}
	sts.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	sts.Spec.Template.Labels = map[string]string{"app": "db"}
	live := sts.DeepCopy()
	live.Status = appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1, CurrentRevision: "db-1", UpdateRevision: "db-1"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "agent", Generation: 1}}
	liveDS := ds.DeepCopy()
	liveDS.Status = appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 1, NumberAvailable: 3}
	client := fake.NewClientset(live, liveDS)
	r := NewReader(client)

	env, err := r.WorkloadEnvironment(context.Background(), verify.StatefulSetWorkload(sts), verify.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := env.Live.Object.(*appsv1.StatefulSet); !ok || got.Status.CurrentRevision != "db-1" {
		t.Fatalf("Live = %+v, want the cluster's StatefulSet", env.Live)
	}
	if c := findCheck(t, verify.CheckWorkload(verify.StatefulSetWorkload(sts), verify.DefaultGraceBudget(), env), verify.CheckRolloutInProgress); c.Status != verify.StatusPass {
		t.Errorf("rollout-in-progress = %s %q, want pass", c.Status, c.Message)
	}

	env, err = r.WorkloadEnvironment(context.Background(), verify.DaemonSetWorkload(ds), verify.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	c := findCheck(t, verify.CheckWorkload(verify.DaemonSetWorkload(ds), verify.DefaultGraceBudget(), env), verify.CheckRolloutInProgress)
	if c.Status != verify.StatusWarn || c.Message != "rollout in progress: 1 of 3 new pods updated" {
		t.Errorf("rollout-in-progress = %s %q, want the DaemonSet's", c.Status, c.Message)
	}

	missing := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}} // a StatefulSet's name
	if env, err := r.WorkloadEnvironment(context.Background(), verify.DaemonSetWorkload(missing), verify.Environment{}); err != nil || env.Live != nil {
		t.Errorf("WorkloadEnvironment(missing) = %+v, %v; want not deployed", env.Live, err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "deployments" {
			t.Errorf("a Deployment was read for a StatefulSet or DaemonSet: %v", a)
		}
	}
}
