package verify

// The checks of what surrounds the workload: its Services and their
// EndpointSlices, its status, and PodDisruptionBudgets.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// matchingServices returns the Services that select the workload's pods.
func matchingServices(w *Workload, services []corev1.Service) []corev1.Service {
	view, err := workload.For(w.Object)
	if err != nil {
		return nil
	}
	return workload.SelectingServices(view, services)
}

func checkService(w *Workload, env Environment, pod *podView) Check {
	ch := Check{ID: CheckService}
	services := pod.services
	names := make([]string, 0, len(services))
	for _, s := range services {
		names = append(names, s.Name)
	}
	if len(services) == 0 {
		switch {
		case env.Local:
			ch.Status, ch.Message = StatusSkip, "no Service among the manifests selects the pods (cluster not checked: --local)"
			return ch
		case pod.worker():
			// Nothing to route: the missing Service is the design, not a gap.
			ch.Status, ch.Message = StatusSkip, workerMessage
			return ch
		}
		ch.Status = StatusWarn
		ch.Message = "no Service selects the pods: no EndpointSlices to watch, so draining cannot be observed"
		ch.Fix = "create a Service whose selector matches the pod template labels (ignore if the " + w.Kind + " serves no traffic)"
		return ch
	}
	list := strings.Join(names, ", ")
	if env.Local || env.Live == nil {
		ch.Status = StatusPass
		ch.Message = "Service " + list + " selects the pods"
		if env.Local {
			ch.Message += " (EndpointSlices not checked: --local)"
		} else {
			ch.Message += " (" + w.Kind + " not deployed yet)"
		}
		return ch
	}
	owned := podNames(env.Pods, env.Live)
	listed := map[string]bool{}
	for _, slice := range env.EndpointSlices {
		svcName := slice.Labels[discoveryv1.LabelServiceName]
		if !slices.Contains(names, svcName) {
			continue
		}
		for _, ep := range slice.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && owned[ep.TargetRef.Name] {
				listed[ep.TargetRef.Name] = true
			}
		}
	}
	if len(owned) > 0 && len(listed) == 0 {
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("Service %s selects the pods but its EndpointSlices list none of the %s", list, pods(len(owned)))
		ch.Fix = "check that the pods are ready and that the Service's ports match the containers"
		return ch
	}
	ch.Status = StatusPass
	ch.Message = fmt.Sprintf("Service %s: EndpointSlices list %d of %s", list, len(listed), pods(len(owned)))
	return ch
}

func podNames(pods []corev1.Pod, w *Workload) map[string]bool {
	out := map[string]bool{}
	sel, err := metav1.LabelSelectorAsSelector(w.Selector)
	if err != nil {
		return out
	}
	for _, p := range pods {
		if p.Namespace == w.Namespace && sel.Matches(labels.Set(p.Labels)) {
			out[p.Name] = true
		}
	}
	return out
}

func checkPaused(w *Workload, env Environment) Check {
	ch := Check{ID: CheckPaused}
	obj := w
	if env.Live != nil {
		obj = env.Live
	}
	paused, can := obj.kind.paused()
	switch {
	case !can:
		ch.Status = StatusSkip
		ch.Message = fmt.Sprintf("%ss cannot be paused (kubectl rollout pause supports Deployments only)", w.Kind)
		return ch
	case paused:
		ch.Status = StatusFail
		ch.Message = "the " + w.Kind + " is paused: a rollout would not start"
		ch.Fix = fmt.Sprintf("kubectl rollout resume %s -n %s", w, w.Namespace)
		return ch
	}
	ch.Status, ch.Message = StatusPass, "not paused"
	return ch
}

func checkRolloutInProgress(env Environment) Check {
	ch := Check{ID: CheckRolloutInProgress}
	switch {
	case env.Local:
		ch.Status, ch.Message = StatusSkip, "cluster not checked: --local"
		return ch
	case env.Live == nil:
		ch.Status, ch.Message = StatusSkip, "not deployed yet"
		return ch
	}
	msg, busy, skip := env.Live.kind.inProgress()
	if skip != "" {
		ch.Status, ch.Message = StatusSkip, skip
		return ch
	}
	if busy {
		ch.Status = StatusWarn
		ch.Message = msg
		ch.Fix = "wait for it (kubectl safe-rollout watch) before starting another rollout"
		return ch
	}
	ch.Status, ch.Message = StatusPass, "no rollout in progress"
	return ch
}

// RolloutInProgress tells whether the Deployment's status shows an unfinished rollout.
func RolloutInProgress(d *appsv1.Deployment) (string, bool) {
	return DeploymentWorkload(d).RolloutInProgress()
}

// viewerInProgress reads a StatefulSet's or DaemonSet's status as kubectl
// rollout status does (the guard's own view of the kind): skip says why it
// cannot tell (OnDelete: nothing rolls by itself).
func viewerInProgress(w workload.Workload) (msg string, busy bool, skip string) {
	status, done, err := w.RolloutStatus(w.GetGeneration())
	var notRolling *workload.NotRollingError
	switch {
	case errors.As(err, &notRolling):
		return "", false, "updateStrategy OnDelete: kubectl rollout status follows RollingUpdate only"
	case done:
		return "", false, ""
	case w.ObservedGeneration() < w.GetGeneration() || w.ObservedGeneration() == 0:
		return fmt.Sprintf("spec generation %d not yet observed by the controller (observed %d)", w.GetGeneration(), w.ObservedGeneration()), true, ""
	}
	return "rollout in progress: " + status, true, ""
}

// deploymentInProgress reads a Deployment's status as kubectl rollout status does.
func deploymentInProgress(d *appsv1.Deployment) (string, bool) {
	_, done, err := workload.Status(d, d.Generation)
	var deadline *workload.ProgressDeadlineError
	switch {
	case errors.As(err, &deadline):
		return "the last rollout exceeded its progress deadline: " + deadline.Message, true
	case done:
		return "", false
	case d.Status.ObservedGeneration < d.Generation:
		return fmt.Sprintf("spec generation %d not yet observed by the controller (observed %d)", d.Generation, d.Status.ObservedGeneration), true
	}
	s := d.Status
	return fmt.Sprintf("rollout in progress: %d of %s updated, %d available, %d in total", s.UpdatedReplicas, pods(workload.DesiredReplicas(d)), s.AvailableReplicas, s.Replicas), true
}

func checkPDB(w *Workload, env Environment) Check {
	ch := Check{ID: CheckPDB}
	for _, pdb := range env.PDBs {
		if pdb.Spec.Selector == nil || !sameNamespace(pdb.Namespace, w.Namespace) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(w.Template.Labels)) {
			ch.Status, ch.Message = StatusPass, "PodDisruptionBudget "+pdb.Name+" covers the pods"
			return ch
		}
	}
	if env.Local {
		ch.Status, ch.Message = StatusSkip, "no PodDisruptionBudget among the manifests (cluster not checked: --local)"
		return ch
	}
	ch.Status = StatusWarn
	ch.Message = "no PodDisruptionBudget: a node drain may evict every pod at once (does not affect rollouts)"
	ch.Fix = "create a PodDisruptionBudget with maxUnavailable: 1 selecting the pods"
	return ch
}
