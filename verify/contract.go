package verify

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
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
)

// Kubernetes defaults applied to fields a manifest leaves unset.
const (
	defaultGraceSeconds     = 30
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultFailureThreshold = 3
)

// Environment is what is known around a Deployment: the live cluster, or only the
// manifests that came with it (Local).
type Environment struct {
	// Local means no cluster was contacted; the objects below come from the manifests.
	Local bool
	// Live is the Deployment as the cluster has it; nil when local or not deployed yet.
	Live           *appsv1.Deployment
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Pods           []corev1.Pod
	PDBs           []policyv1.PodDisruptionBudget
}

// CheckDeployment runs every contract check on d and returns its report.
func CheckDeployment(d *appsv1.Deployment, budget GraceBudget, env Environment) ObjectReport {
	spec := &d.Spec.Template.Spec
	grace := graceSeconds(spec)
	hookSleep := longestPreStopSleep(spec)
	req := budget.Require(hookSleep)

	var checks []Check
	for i := range spec.Containers {
		c := &spec.Containers[i]
		serving := len(c.Ports) > 0 || len(spec.Containers) == 1
		checks = append(checks,
			checkReadinessProbe(c, serving),
			checkReadinessReaction(c, serving, req.EffectiveDrain, grace),
			checkReadinessLiveness(c),
			checkPreStop(c, serving, grace),
		)
	}
	checks = append(checks,
		checkGraceBudget(grace, req, hookSleep),
		checkRolloutStrategy(d),
		checkService(d, env),
		checkPaused(d, env),
		checkRolloutInProgress(env),
		checkPDB(d, env),
	)
	return ObjectReport{Kind: workload.KindDeployment, Namespace: d.Namespace, Name: d.Name, Checks: checks}
}

func graceSeconds(spec *corev1.PodSpec) int64 {
	if spec.TerminationGracePeriodSeconds != nil {
		return *spec.TerminationGracePeriodSeconds
	}
	return defaultGraceSeconds
}

func checkReadinessProbe(c *corev1.Container, serving bool) Check {
	ch := Check{ID: CheckReadinessProbe, Container: c.Name}
	switch {
	case c.ReadinessProbe != nil:
		ch.Status, ch.Message = StatusPass, "readinessProbe "+describeHandler(&c.ReadinessProbe.ProbeHandler)
	case !serving:
		ch.Status, ch.Message = StatusSkip, "declares no ports: not serving traffic, no readinessProbe needed"
	default:
		ch.Status = StatusFail
		ch.Message = "no readinessProbe: the pod is routed traffic as soon as it starts and while it drains"
		ch.Fix = "add a readinessProbe that fails as soon as the app starts draining (e.g. httpGet /health/ready)"
	}
	return ch
}

// probeReaction is the worst case between the app starting to fail a probe and
// the kubelet acting on it. The total is an int64: int32 products would wrap.
func probeReaction(p *corev1.Probe) (total int64, period, timeout, threshold int32) {
	period, timeout, threshold = p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold
	if period == 0 {
		period = defaultPeriodSeconds
	}
	if timeout == 0 {
		timeout = defaultTimeoutSeconds
	}
	if threshold == 0 {
		threshold = defaultFailureThreshold
	}
	return int64(period)*int64(threshold) + int64(timeout), period, timeout, threshold
}

func checkReadinessReaction(c *corev1.Container, serving bool, drain time.Duration, grace int64) Check {
	ch := Check{ID: CheckReadinessReaction, Container: c.Name}
	if c.ReadinessProbe == nil {
		ch.Status = StatusSkip
		if serving {
			ch.Message = "no readinessProbe (see readiness-probe)"
		} else {
			ch.Message = "declares no ports: not serving traffic"
		}
		return ch
	}
	total, period, timeout, threshold := probeReaction(c.ReadinessProbe)
	formula := fmt.Sprintf("%ds (periodSeconds %d × failureThreshold %d + timeoutSeconds %d)", total, period, threshold, timeout)
	drainSeconds := drain.Seconds()
	fix := fmt.Sprintf("make readiness react within the drain delay (e.g. periodSeconds: 1, failureThreshold: 1), or raise the drain delay to at least %ds", total)
	switch {
	case total >= grace:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("readiness notices draining after up to %s, not before terminationGracePeriodSeconds %ds ends: the pod stays serving until it is killed", formula, grace)
		ch.Fix = fmt.Sprintf("make readiness react faster (e.g. periodSeconds: 1, failureThreshold: 1) so that it notices draining within the %s drain delay", seconds(drain))
	case float64(total) > drainSeconds:
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("readiness notices draining after up to %s, slower than the %s drain delay: traffic keeps arriving after the app stops accepting", formula, seconds(drain))
		ch.Fix = fix
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("readiness notices draining within %s, inside the %s drain delay", formula, seconds(drain))
	}
	return ch
}

func checkReadinessLiveness(c *corev1.Container) Check {
	ch := Check{ID: CheckReadinessLiveness, Container: c.Name}
	live, ready := c.LivenessProbe, c.ReadinessProbe
	switch {
	case live == nil:
		ch.Status, ch.Message = StatusPass, "no livenessProbe"
	case ready != nil && handlerKey(c, &live.ProbeHandler) == handlerKey(c, &ready.ProbeHandler):
		ch.Status = StatusWarn
		ch.Message = "livenessProbe uses the same handler as readinessProbe (" + describeHandler(&live.ProbeHandler) + "): a drain that fails readiness also gets the container restarted"
		ch.Fix = "point livenessProbe at a separate endpoint that only fails when the process is wedged (e.g. /health/live)"
	case live.FailureThreshold == 1:
		ch.Status = StatusWarn
		ch.Message = "livenessProbe failureThreshold 1: a single slow answer (a busy drain, a GC pause) restarts the container"
		ch.Fix = "set livenessProbe.failureThreshold to 3 or more"
	default:
		ch.Status = StatusPass
		ch.Message = "livenessProbe " + describeHandler(&live.ProbeHandler) + " is separate from readiness"
	}
	return ch
}

func checkPreStop(c *corev1.Container, serving bool, grace int64) Check {
	ch := Check{ID: CheckPreStopHook, Container: c.Name}
	hook := classifyPreStop(c)
	// A hook that sleeps through the grace period (or never ends) is killed with
	// the container: SIGTERM never comes first.
	outlasts := hook.sleep >= secondsDuration(grace)
	switch {
	case !serving && hook.kind == preStopNone:
		ch.Status, ch.Message = StatusSkip, "declares no ports: not serving traffic"
	case hook.kind == preStopDrains && outlasts:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("preStop %s triggers draining but sleeps %s, not shorter than terminationGracePeriodSeconds %ds%s: the container is SIGKILLed before the hook ends", hook.description, seconds(hook.sleep), grace, hook.noted())
		ch.Fix = "keep the preStop sleep well below the grace period"
	case hook.kind == preStopDrains:
		ch.Status, ch.Message = StatusPass, "preStop "+hook.description+" triggers draining"+hook.noted()
	case hook.kind == preStopSleeps && outlasts:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("preStop %s is not shorter than terminationGracePeriodSeconds %ds%s: the container is SIGKILLed before it ever sees SIGTERM", hook.description, grace, hook.noted())
		ch.Fix = "trigger draining from preStop (httpGet to a drain endpoint) and keep any sleep well below the grace period"
	case hook.kind == preStopSleeps:
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("preStop %s only sleeps%s: the app keeps accepting new work while the hook sleeps and learns of the shutdown only at SIGTERM", hook.description, hook.noted())
		ch.Fix = "make preStop trigger draining (httpGet to a drain endpoint that flips readiness), or make the app flip readiness on SIGTERM"
	case hook.kind == preStopOther:
		ch.Status = StatusWarn
		ch.Message = "preStop " + hook.description + " cannot trigger draining" + hook.noted()
		ch.Fix = "use an httpGet or exec preStop hook that tells the app to start draining"
	default:
		ch.Status = StatusWarn
		ch.Message = "no preStop hook: SIGTERM arrives while endpoints may still route new traffic to the pod"
		ch.Fix = "add a preStop httpGet to a drain endpoint (readiness fails, then the app waits for endpoints to converge)"
	}
	return ch
}

// checkGraceBudget compares the grace period with the budget. hookSleep, the
// longest preStop sleep, fails on its own when it fills the grace period, even
// with budget inputs of zero.
func checkGraceBudget(grace int64, req Requirement, hookSleep time.Duration) Check {
	ch := Check{ID: CheckGraceBudget}
	need := req.Seconds()
	switch {
	case req.Unbounded() || grace < need:
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("terminationGracePeriodSeconds %d < %s = %s", grace, wholeSeconds(need), req.Formula())
		ch.Fix = fmt.Sprintf("set spec.template.spec.terminationGracePeriodSeconds: %d (or measure and lower the inputs)", need)
		if req.Unbounded() {
			ch.Fix = "no grace period is long enough: make every preStop hook end and set the budget inputs to measured durations"
		}
	case hookSleep >= secondsDuration(grace):
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("terminationGracePeriodSeconds %d is not longer than the %s a preStop hook sleeps (%s = %s)", grace, seconds(hookSleep), wholeSeconds(need), req.Formula())
		ch.Fix = "shorten the preStop sleep, or raise terminationGracePeriodSeconds above it"
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("terminationGracePeriodSeconds %d >= %s = %s", grace, wholeSeconds(need), req.Formula())
	}
	return ch
}

func checkRolloutStrategy(d *appsv1.Deployment) Check {
	ch := Check{ID: CheckRolloutStrategy}
	replicas := workload.DesiredReplicas(d)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		ch.Status = StatusFail
		ch.Message = "strategy Recreate stops every pod before starting new ones: the Service has no endpoints during each rollout"
		ch.Fix = "use strategy RollingUpdate with maxUnavailable: 0 and maxSurge: 1"
		return ch
	}
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
	desc := fmt.Sprintf("RollingUpdate with replicas %d, maxSurge %d, maxUnavailable %d", replicas, surge, unavailable)
	switch {
	case minAvailable <= 0:
		ch.Status = StatusFail
		ch.Message = desc + ": available pods can drop to 0 during a rollout"
		ch.Fix = "set maxUnavailable: 0 and maxSurge: 1 (and run at least 2 replicas)"
	case replicas == 1:
		ch.Status = StatusWarn
		ch.Message = desc + ": a single replica, so any failure of the new pod is an outage"
		ch.Fix = "run at least 2 replicas"
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("%s keeps at least %d pods available", desc, minAvailable)
	}
	return ch
}
