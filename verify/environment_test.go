package verify

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

// Tests of the checks that look around the Deployment: service, paused,
// rollout-in-progress and pdb, with Environments built in Go.

// The Environment fixtures are shared with verify/cluster's tests.
var (
	service = verifytest.Service
	pod     = verifytest.Pod
	slice   = verifytest.Slice
	pdb     = verifytest.PDB
	steady  = verifytest.Steady
)

func TestServiceCheck(t *testing.T) {
	d := deployment()
	live := steady(d)
	web := service("ns", "web", map[string]string{"app": "web"})
	pods := []corev1.Pod{
		pod("ns", "web-1", webLabels), pod("ns", "web-2", webLabels),
		pod("ns", "other-1", map[string]string{"app": "other"}), pod("other-ns", "web-9", webLabels),
	}
	env := func(e Environment) *Environment { return &e }
	runCheckCases(t, CheckService, []checkCase{
		{name: "local, no Service", dep: d, want: StatusSkip, contains: []string{"no Service among the manifests", "--local"}},
		{name: "local, Service from the manifests", dep: d, env: env(Environment{Local: true, Services: []corev1.Service{web}}),
			want: StatusPass, contains: []string{"Service web selects the pods (EndpointSlices not checked: --local)"}},
		{name: "local, Service selecting a subset of the pod labels", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("ns", "web", map[string]string{"tier": "front"})}}),
			want: StatusPass},
		{name: "local, Service selecting other pods", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("ns", "other", map[string]string{"app": "other"})}}),
			want: StatusSkip},
		{name: "local, Service needing a label the pods lack", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("ns", "web", map[string]string{"app": "web", "track": "canary"})}}),
			want: StatusSkip},
		{name: "local, Service without a selector", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("ns", "external", nil)}}),
			want: StatusSkip},
		{name: "local, Service in another namespace", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("elsewhere", "web", webLabels)}}),
			want: StatusSkip},
		{name: "local, Service without a namespace", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{service("", "web", webLabels)}}),
			want: StatusPass},
		{name: "local, two Services", dep: d,
			env:  env(Environment{Local: true, Services: []corev1.Service{web, service("ns", "web-headless", webLabels)}}),
			want: StatusPass, contains: []string{"Service web, web-headless selects the pods"}},
		{name: "cluster, no Service", dep: d, env: env(Environment{Live: DeploymentWorkload(live), Pods: pods}),
			want: StatusWarn, contains: []string{"no Service selects the pods"}, fixHas: "create a Service"},
		{name: "cluster, not deployed yet", dep: d, env: env(Environment{Services: []corev1.Service{web}}),
			want: StatusPass, contains: []string{"Service web selects the pods (Deployment not deployed yet)"}},
		{name: "cluster, EndpointSlices list the pods", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}, Pods: pods, EndpointSlices: []discoveryv1.EndpointSlice{slice("ns", "web", "web-1", "web-2")}}),
			want: StatusPass, contains: []string{"Service web: EndpointSlices list 2 of 2 pods"}},
		{name: "cluster, EndpointSlices list some of the pods", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}, Pods: pods, EndpointSlices: []discoveryv1.EndpointSlice{slice("ns", "web", "web-2", "other-1")}}),
			want: StatusPass, contains: []string{"EndpointSlices list 1 of 2 pods"}},
		{name: "cluster, EndpointSlices list none of the pods", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}, Pods: pods, EndpointSlices: []discoveryv1.EndpointSlice{slice("ns", "web")}}),
			want: StatusWarn, contains: []string{"Service web selects the pods but its EndpointSlices list none of the 2 pods"}, fixHas: "ready"},
		{name: "cluster, only another Service's slices list the pods", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}, Pods: pods, EndpointSlices: []discoveryv1.EndpointSlice{slice("ns", "unrelated", "web-1", "web-2")}}),
			want: StatusWarn},
		{name: "cluster, no EndpointSlices at all", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}, Pods: pods}),
			want: StatusWarn},
		{name: "cluster, no pods yet", dep: d,
			env:  env(Environment{Live: DeploymentWorkload(live), Services: []corev1.Service{web}}),
			want: StatusPass, contains: []string{"EndpointSlices list 0 of 0 pods"}},
	})
}

func TestPausedCheck(t *testing.T) {
	paused := deployment(func(d *appsv1.Deployment) { d.Spec.Paused = true })
	live := steady(deployment())
	livePaused := steady(paused)
	runCheckCases(t, CheckPaused, []checkCase{
		{name: "not paused", dep: deployment(), want: StatusPass, contains: []string{"not paused"}},
		{name: "manifest paused", dep: paused, want: StatusFail, contains: []string{"paused"},
			fixHas: "kubectl rollout resume deployment/web -n ns"},
		{name: "live object paused", dep: deployment(), env: &Environment{Live: DeploymentWorkload(livePaused)}, want: StatusFail},
		{name: "the live object wins", dep: paused, env: &Environment{Live: DeploymentWorkload(live)}, want: StatusPass},
	})
}

func TestRolloutInProgressCheck(t *testing.T) {
	d := deployment()
	live := func(f func(*appsv1.Deployment)) *Environment {
		l := steady(d)
		f(l)
		return &Environment{Live: DeploymentWorkload(l)}
	}
	runCheckCases(t, CheckRolloutInProgress, []checkCase{
		{name: "local", dep: d, want: StatusSkip, contains: []string{"--local"}},
		{name: "not deployed yet", dep: d, env: &Environment{}, want: StatusSkip, contains: []string{"not deployed yet"}},
		{name: "steady", dep: d, env: live(func(*appsv1.Deployment) {}), want: StatusPass, contains: []string{"no rollout in progress"}},
		{name: "progress deadline exceeded", dep: d, env: live(func(l *appsv1.Deployment) {
			l.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}}
		}), want: StatusWarn, contains: []string{"exceeded its progress deadline", "has timed out progressing"}, fixHas: "wait"},
		{name: "generation not observed", dep: d, env: live(func(l *appsv1.Deployment) { l.Generation = 5 }),
			want: StatusWarn, contains: []string{"spec generation 5 not yet observed by the controller (observed 4)"}},
		{name: "pods not updated yet", dep: d, env: live(func(l *appsv1.Deployment) { l.Status.UpdatedReplicas = 1; l.Status.Replicas = 4 }),
			want: StatusWarn, contains: []string{"1 of 3 pods updated, 3 available, 4 in total"}},
		{name: "old pods still around", dep: d, env: live(func(l *appsv1.Deployment) { l.Status.Replicas = 4 }), want: StatusWarn},
		{name: "updated pods not available", dep: d, env: live(func(l *appsv1.Deployment) { l.Status.AvailableReplicas = 2 }), want: StatusWarn},
		{name: "progressing condition that is fine", dep: d, env: live(func(l *appsv1.Deployment) {
			l.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}
		}), want: StatusPass},
	})
}

func TestRolloutInProgressScaledToZero(t *testing.T) {
	l := steady(deployment(withReplicas(0)))
	l.Status = appsv1.DeploymentStatus{ObservedGeneration: l.Generation}
	if msg, busy := RolloutInProgress(l); busy {
		t.Errorf("RolloutInProgress(scaled to 0) = %q, true; want not busy", msg)
	}
}

func TestPDBCheck(t *testing.T) {
	d := deployment()
	sel := &metav1.LabelSelector{MatchLabels: webLabels}
	env := func(local bool, pdbs ...policyv1.PodDisruptionBudget) *Environment {
		return &Environment{Local: local, PDBs: pdbs}
	}
	runCheckCases(t, CheckPDB, []checkCase{
		{name: "local, none", dep: d, want: StatusSkip, contains: []string{"no PodDisruptionBudget among the manifests", "--local"}},
		{name: "local, from the manifests", dep: d, env: env(true, pdb("ns", "web-pdb", sel)), want: StatusPass,
			contains: []string{"PodDisruptionBudget web-pdb covers the pods"}},
		{name: "cluster, none", dep: d, env: env(false), want: StatusWarn,
			contains: []string{"no PodDisruptionBudget"}, fixHas: "PodDisruptionBudget with maxUnavailable: 1"},
		{name: "cluster, covering", dep: d, env: env(false, pdb("ns", "web-pdb", sel)), want: StatusPass},
		{name: "other pods only", dep: d, env: env(false, pdb("ns", "other", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}})), want: StatusWarn},
		{name: "other namespace", dep: d, env: env(false, pdb("elsewhere", "web-pdb", sel)), want: StatusWarn},
		{name: "no namespace", dep: d, env: env(false, pdb("", "web-pdb", sel)), want: StatusPass},
		{name: "nil selector is ignored", dep: d, env: env(false, pdb("ns", "nothing", nil)), want: StatusWarn},
		{name: "empty selector selects every pod", dep: d, env: env(false, pdb("ns", "all", &metav1.LabelSelector{})), want: StatusPass},
		{name: "matchExpressions", dep: d, env: env(false, pdb("ns", "front", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}}}})), want: StatusPass},
		{name: "second PDB matches", dep: d, env: env(false, pdb("ns", "other", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}), pdb("ns", "web-pdb", sel)),
			want: StatusPass, contains: []string{"web-pdb"}},
		{name: "invalid selector is ignored", dep: d, env: env(false, pdb("ns", "bad", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: "Near"}}})), want: StatusWarn},
	})
}

func TestMatchingServices(t *testing.T) {
	d := deployment()
	got := matchingServices(DeploymentWorkload(d), []corev1.Service{
		service("ns", "a", webLabels),
		service("ns", "b", map[string]string{"app": "other"}),
		service("ns", "c", nil),
		service("x", "d", webLabels),
		service("ns", "e", map[string]string{"tier": "front"}),
	})
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "e" {
		t.Errorf("matchingServices = %v, want [a e]", names)
	}
}
