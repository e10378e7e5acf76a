package verify

// rollout-strategy: does the Deployment keep capacity while old pods drain? The
// replica count is the one the rollout will really run with: a
// HorizontalPodAutoscaler's minReplicas when one scales the Deployment. And the
// rest of what is particular to Deployments: their pause and rollout status.

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// deploymentRules are a Deployment's kindRules.
type deploymentRules struct{ d *appsv1.Deployment }

func (r deploymentRules) replicas() (int32, bool) { return workload.DesiredReplicas(r.d), true }

func (r deploymentRules) paused() (bool, bool) { return r.d.Spec.Paused, true }

func (r deploymentRules) inProgress() (string, bool, string) {
	msg, busy := deploymentInProgress(r.d)
	return msg, busy, ""
}

func (deploymentRules) scaledByHPA() bool { return true }

func (deploymentRules) apiType() reflect.Type { return reflect.TypeFor[appsv1.Deployment]() }

func (r deploymentRules) strategy(w *Workload, env Environment, pod *podView) Check {
	return checkRolloutStrategy(r.d, w, env, pod)
}

func checkRolloutStrategy(d *appsv1.Deployment, w *Workload, env Environment, pod *podView) Check {
	ch := Check{ID: CheckRolloutStrategy}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType && pod.worker() {
		// A worker that must never run twice at once (a singleton consumer, a
		// lock holder) needs Recreate: a pause in the work, not an outage.
		ch.Status = StatusWarn
		ch.Message = "strategy Recreate stops every pod before starting new ones: the worker processes nothing during each rollout"
		ch.Fix = "use strategy RollingUpdate unless two versions of the worker must never run at once"
		return ch
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		ch.Status = StatusFail
		ch.Message = "strategy Recreate stops every pod before starting new ones: the Service has no endpoints during each rollout"
		ch.Fix = "use strategy RollingUpdate with maxUnavailable: 0 and maxSurge: 1"
		return ch
	}
	replicas, source, note := rolloutReplicas(w, env)
	if replicas == 0 {
		ch.Status, ch.Message = StatusSkip, "replicas 0: nothing is serving"
		return ch
	}
	surge, unavailable, err := resolveFenceposts(d.Spec.Strategy.RollingUpdate, replicas)
	if err != nil {
		ch.Status, ch.Message = StatusFail, "invalid rollingUpdate: "+err.Error()
		ch.Fix = "set maxSurge and maxUnavailable to integers or percentages"
		return ch
	}
	minAvailable := replicas - unavailable
	desc := fmt.Sprintf("RollingUpdate with replicas %d%s, maxSurge %d, maxUnavailable %d", replicas, source, surge, unavailable)
	switch {
	case minAvailable <= 0:
		ch.Status = StatusFail
		ch.Message = desc + ": available pods can drop to 0 during a rollout" + note
		ch.Fix = "set maxUnavailable: 0 and maxSurge: 1 (and run at least 2 replicas)"
	case replicas == 1:
		ch.Status = StatusWarn
		ch.Message = desc + ": a single replica, so any failure of the new pod is an outage" + note
		ch.Fix = "run at least 2 replicas"
		if source != "" {
			ch.Fix = "set the HorizontalPodAutoscaler's minReplicas to 2 or more"
		}
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("%s keeps at least %s available%s", desc, pods(minAvailable), note)
	}
	return ch
}

// rolloutReplicas is the replica count a rollout runs with at the least, where it
// comes from (" (minReplicas of HorizontalPodAutoscaler web)" or ""), and a note
// when the HorizontalPodAutoscalers could not be read.
func rolloutReplicas(w *Workload, env Environment) (replicas int32, source, note string) {
	// An HPA leaves a workload scaled to 0 alone: scaling is off.
	desired, _ := w.Replicas()
	if desired == 0 {
		return 0, "", ""
	}
	if hpa := scalerOf(w, env.HPAs); hpa != nil {
		replicas = 1
		if hpa.Spec.MinReplicas != nil {
			replicas = *hpa.Spec.MinReplicas
		}
		return replicas, " (minReplicas of HorizontalPodAutoscaler " + hpa.Name + ")", ""
	}
	if env.HPAsUnread != "" {
		note = " (HorizontalPodAutoscalers not read: " + env.HPAsUnread + "; spec.replicas used)"
	}
	return desired, "", note
}

// scalerOf returns the HorizontalPodAutoscaler that scales w, if any.
func scalerOf(w *Workload, hpas []autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	if !w.kind.scaledByHPA() {
		return nil
	}
	for i := range hpas {
		h := &hpas[i]
		ref := h.Spec.ScaleTargetRef
		if ref.Kind == w.Kind && ref.Name == w.Name && sameNamespace(h.Namespace, w.Namespace) {
			return h
		}
	}
	return nil
}

// sameNamespace: an object without a namespace goes where the other one is.
func sameNamespace(a, b string) bool {
	return a == b || a == "" || b == ""
}
