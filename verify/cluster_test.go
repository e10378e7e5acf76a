package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestClusterReaderEnvironment(t *testing.T) {
	d := deployment()
	live := steady(d)
	web := service("ns", "web", webLabels)
	other := service("other", "web", webLabels)
	p1, p2 := pod("ns", "web-1", webLabels), pod("ns", "web-2", webLabels)
	sl := slice("ns", "web", "web-1", "web-2")
	budget := pdb("ns", "web-pdb", live.Spec.Selector)
	client := fake.NewClientset(live, &web, &other, &p1, &p2, &sl, &budget)

	r := NewClusterReader(client)
	env, err := r.Environment(context.Background(), d, Environment{})
	if err != nil {
		t.Fatal(err)
	}
	if env.Local {
		t.Error("a cluster environment is not local")
	}
	if env.Live == nil || env.Live.Status.UpdatedReplicas != 3 {
		t.Errorf("Live = %+v, want the cluster's Deployment", env.Live)
	}
	if len(env.Services) != 1 || env.Services[0].Namespace != "ns" {
		t.Errorf("Services = %+v, want only ns/web", env.Services)
	}
	if len(env.Pods) != 2 || len(env.EndpointSlices) != 1 || len(env.PDBs) != 1 {
		t.Errorf("got %d pods, %d slices, %d PDBs; want 2, 1, 1", len(env.Pods), len(env.EndpointSlices), len(env.PDBs))
	}

	report := CheckDeployment(d, DefaultBudget(), env)
	for id, want := range map[string]Status{CheckService: StatusPass, CheckPaused: StatusPass, CheckRolloutInProgress: StatusPass, CheckPDB: StatusPass} {
		if c := findCheck(t, report, id, ""); c.Status != want {
			t.Errorf("%s = %s (%s), want %s", id, c.Status, c.Message, want)
		}
	}
	if c := findCheck(t, report, CheckService, ""); !strings.Contains(c.Message, "EndpointSlices list 2 of 2 pods") {
		t.Errorf("service message = %q", c.Message)
	}
}

func TestClusterReaderListsEachNamespaceOnce(t *testing.T) {
	client := fake.NewClientset()
	r := NewClusterReader(client)
	ctx := context.Background()
	a, b := deployment(), deployment()
	b.Name = "api"
	c := deployment()
	c.Namespace = "other"
	for _, d := range []*appsv1.Deployment{a, b, c} {
		if _, err := r.Environment(ctx, d, Environment{}); err != nil {
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
		for _, res := range []string{"services", "endpointslices", "pods", "poddisruptionbudgets"} {
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
	r := NewClusterReader(fake.NewClientset())
	env, err := r.Environment(context.Background(), deployment(), Environment{})
	if err != nil {
		t.Fatalf("a missing Deployment is not an error: %v", err)
	}
	if env.Live != nil {
		t.Errorf("Live = %+v, want nil", env.Live)
	}
	rep := CheckDeployment(deployment(), DefaultBudget(), env)
	if c := findCheck(t, rep, CheckRolloutInProgress, ""); c.Status != StatusSkip {
		t.Errorf("rollout-in-progress = %s, want skip", c.Status)
	}
	if c := findCheck(t, rep, CheckService, ""); c.Status != StatusWarn {
		t.Errorf("service = %s, want warn (no Service in the cluster)", c.Status)
	}
}

// Services and PDBs from the manifests are added unless the cluster has one of that name.
func TestClusterReaderMergesManifestObjects(t *testing.T) {
	clusterSvc := service("ns", "web", map[string]string{"app": "old"})
	client := fake.NewClientset(&clusterSvc)
	fromFiles := Environment{
		Services: []corev1.Service{service("ns", "web", webLabels), service("ns", "web-canary", webLabels)},
		PDBs:     []policyv1.PodDisruptionBudget{pdb("ns", "web-pdb", deployment().Spec.Selector)},
	}
	env, err := NewClusterReader(client).Environment(context.Background(), deployment(), fromFiles)
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
		{"get", "deployments", "reading deployment ns/web: forbidden"},
	} {
		t.Run(tc.verb+" "+tc.resource, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor(tc.verb, tc.resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("forbidden")
			})
			_, err := NewClusterReader(client).Environment(context.Background(), deployment(), Environment{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
