package verify

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Check IDs are stable: scripts and dashboards key on them.
const (
	CheckReadinessProbe    = "readiness-probe"
	CheckReadinessReaction = "readiness-reaction"
	CheckReadinessLiveness = "readiness-liveness"
	CheckPreStopHook       = "prestop-hook"
	CheckGraceBudget       = "grace-budget"
	CheckRolloutStrategy   = "rollout-strategy"
	CheckService           = "service"
	CheckPaused            = "paused"
	CheckRolloutInProgress = "rollout-in-progress"
	CheckPDB               = "pdb"
	CheckUnknownFields     = "unknown-fields"
)

// Kubernetes defaults applied to fields a manifest leaves unset.
const (
	defaultGraceSeconds     = 30
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultFailureThreshold = 3
)

// Environment is what is known around a workload: the live cluster, or only the
// manifests that came with it (Local).
type Environment struct {
	// Local means no cluster was contacted; the objects below come from the manifests.
	Local bool
	// Live is the workload as the cluster has it, of the same kind; nil when
	// local or not deployed yet.
	Live           *Workload
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Pods           []corev1.Pod
	PDBs           []policyv1.PodDisruptionBudget
	// HPAs are the HorizontalPodAutoscalers known (autoscaling/v1 ones converted).
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// HPAsUnread says why the cluster's HorizontalPodAutoscalers could not be read
	// ("" when they were, or when only manifests were read).
	HPAsUnread string
	// Ingresses reveal an AWS ALB in front of the Services (the endpoint
	// propagation assumed for it).
	Ingresses []networkingv1.Ingress
	// IngressesUnread says why the cluster's Ingresses could not be read.
	IngressesUnread string
	// UnknownFields are the fields of the workload's manifest that its API
	// version does not have: the API server would drop them. Nil for live objects.
	UnknownFields []string
}

// CheckDeployment runs every contract check on d and returns its report.
func CheckDeployment(d *appsv1.Deployment, budget GraceBudget, env Environment) ObjectReport {
	return CheckWorkload(DeploymentWorkload(d), budget, env)
}

// CheckWorkload runs every contract check on w's pod template and around it,
// whatever its kind, and returns its report.
func CheckWorkload(w *Workload, budget GraceBudget, env Environment) ObjectReport {
	grace := graceSeconds(&w.Template.Spec)
	pod := analysePod(w, env.Services)
	hookSleep := pod.drainSleep()
	req := budget.FrontedBy(frontingLoadBalancer(w, env.Services, env.Ingresses)).Require(hookSleep)

	var checks []Check
	if len(env.UnknownFields) > 0 {
		checks = append(checks, checkUnknownFields(w, env.UnknownFields))
	}
	for _, m := range pod.members {
		checks = append(checks,
			checkReadinessProbe(m, &pod),
			checkReadinessReaction(m, &pod, req.EffectiveDrain, grace),
			checkReadinessLiveness(m.c),
			checkPreStop(m, &pod, grace, req.EffectiveDrain),
		)
	}
	checks = append(checks,
		checkGraceBudget(grace, req, hookSleep, env.IngressesUnread),
		w.kind.strategy(w, env, &pod),
		checkService(w, env, &pod),
		checkPaused(w, env),
		checkRolloutInProgress(env),
		checkPDB(w, env),
	)
	return ObjectReport{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Checks: checks}
}

func graceSeconds(spec *corev1.PodSpec) int64 {
	if spec.TerminationGracePeriodSeconds != nil {
		return *spec.TerminationGracePeriodSeconds
	}
	return defaultGraceSeconds
}
