package verify

// The readiness checks of one container: is there a probe that can flip when the
// app drains, how fast does the pod react to it, and is liveness kept apart.

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkReadinessProbe(m member, v *podView) Check {
	c, p := m.c, m.c.ReadinessProbe
	ch := Check{ID: CheckReadinessProbe, Container: c.Name}
	if failUndeclaredPort(&ch, c, p, "readinessProbe", "the kubelet fails the probe, so the container never becomes ready") {
		return ch
	}
	switch {
	case m.role == roleWorker:
		ch.Status, ch.Message = StatusSkip, workerMessage
	case m.role == roleProxy && p != nil:
		ch.Status, ch.Message = StatusPass, "mesh proxy: readinessProbe "+describeHandler(&p.ProbeHandler)+" reports the mesh's own state, judged separately from the app"
	case m.role == roleProxy:
		ch.Status, ch.Message = StatusPass, "mesh proxy: no readinessProbe; judged separately from the app"
	case m.role == roleHelper && p != nil:
		ch.Status, ch.Message = StatusPass, "readinessProbe "+describeHandler(&p.ProbeHandler)+" ("+m.why+": not serving traffic)"
	case m.role == roleHelper:
		ch.Status, ch.Message = StatusSkip, m.why+": not serving traffic, no readinessProbe needed"
	case p == nil:
		ch.Status = StatusFail
		ch.Message = "no readinessProbe: the pod is routed traffic as soon as it starts and while it drains" + v.guessed()
		ch.Fix = "add a readinessProbe that fails as soon as the app starts draining (e.g. httpGet /health/ready)"
	case p.TCPSocket != nil:
		ch.Status = StatusWarn
		ch.Message = "readinessProbe " + describeHandler(&p.ProbeHandler) + " cannot reflect draining: it succeeds as long as the listener accepts connections, that is until the app closes it" + v.guessed()
		ch.Fix = "probe an endpoint that fails as soon as the app starts draining (httpGet, grpc or exec) instead of tcpSocket"
	default:
		ch.Status, ch.Message = StatusPass, "readinessProbe "+describeHandler(&p.ProbeHandler)+v.guessed()
	}
	return ch
}

// guessed notes, for a serving container, that the Services gave no clue.
func (v *podView) guessed() string {
	if v.fallback == "" {
		return ""
	}
	return " (" + v.fallback + ": taken as serving)"
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

func reactionFormula(p *corev1.Probe) (int64, string) {
	total, period, timeout, threshold := probeReaction(p)
	return total, fmt.Sprintf("%ds (periodSeconds %d × failureThreshold %d + timeoutSeconds %d)", total, period, threshold, timeout)
}

// fastestReadiness is the serving container whose readiness fails first: the pod
// leaves the endpoints as soon as any container is unready.
func (v *podView) fastestReadiness() (member, bool) {
	var best member
	var bestTotal int64
	found := false
	for _, m := range v.serving() {
		if m.c.ReadinessProbe == nil || !runnable(m.c) {
			continue
		}
		if total, _, _, _ := probeReaction(m.c.ReadinessProbe); !found || total < bestTotal {
			best, bestTotal, found = m, total, true
		}
	}
	return best, found
}

func checkReadinessReaction(m member, v *podView, drain time.Duration, grace int64) Check {
	ch := Check{ID: CheckReadinessReaction, Container: m.c.Name}
	fastest, known := v.fastestReadiness()
	switch {
	case m.role == roleWorker:
		ch.Status, ch.Message = StatusSkip, workerMessage
	case m.role == roleHelper:
		ch.Status, ch.Message = StatusSkip, m.why+": not serving traffic"
	case m.role == roleProxy:
		ch.Status, ch.Message = StatusPass, proxyReaction(m, fastest, known)
	case m.c.ReadinessProbe == nil:
		ch.Status, ch.Message = StatusSkip, "no readinessProbe (see readiness-probe)"
	case !runnable(m.c):
		ch.Status, ch.Message = StatusSkip, "the readinessProbe cannot run (see readiness-probe)"
	case fastest.c.Name != m.c.Name:
		// The pod leaves the endpoints with its fastest serving container.
		_, own := reactionFormula(m.c.ReadinessProbe)
		status, msg, fix := judgeReaction(fastest.c.ReadinessProbe, drain, grace)
		ch.Status, ch.Fix = status, fix
		ch.Message = fmt.Sprintf("this container's readiness notices draining after up to %s, but the pod leaves the endpoints as soon as %s fails readiness: %s", own, fastest.c.Name, msg)
		total, _ := reactionFormula(fastest.c.ReadinessProbe)
		ch.ReactionSeconds = &total
	default:
		ch.Status, ch.Message, ch.Fix = judgeReaction(m.c.ReadinessProbe, drain, grace)
		total, _ := reactionFormula(m.c.ReadinessProbe)
		ch.ReactionSeconds = &total
	}
	return ch
}

// judgeReaction compares a readiness reaction with the drain delay and the grace
// period. Slow readiness only warns: since Kubernetes 1.26 a terminating pod's
// endpoint turns ready=false at deletion, so kube-proxy stops routing new
// connections without waiting for readiness.
func judgeReaction(p *corev1.Probe, drain time.Duration, grace int64) (Status, string, string) {
	total, formula := reactionFormula(p)
	switch {
	case total >= grace:
		return StatusWarn,
			fmt.Sprintf("readiness notices draining after up to %s, not before terminationGracePeriodSeconds %ds ends: kube-proxy stops sending new connections at deletion anyway (the endpoint turns ready=false since Kubernetes 1.26), but serving-aware proxies (ingress controllers, meshes) and the fallback when every endpoint is terminating keep routing to the pod until it is killed", formula, grace),
			fmt.Sprintf("make readiness react faster (e.g. periodSeconds: 1, failureThreshold: 1) so that it notices draining within the %s drain delay", seconds(drain))
	case float64(total) > drain.Seconds():
		return StatusWarn,
			fmt.Sprintf("readiness notices draining after up to %s, slower than the %s drain delay: traffic keeps arriving after the app stops accepting", formula, seconds(drain)),
			fmt.Sprintf("make readiness react within the drain delay (e.g. periodSeconds: 1, failureThreshold: 1), or raise the drain delay to at least %ds", total)
	}
	return StatusPass, fmt.Sprintf("readiness notices draining within %s, inside the %s drain delay", formula, seconds(drain)), ""
}

// proxyReaction describes a mesh proxy's readiness: its timing never decides
// when the app stops receiving traffic, the app's readiness does.
func proxyReaction(m member, fastest member, known bool) string {
	msg := "mesh proxy, judged separately: "
	if p := m.c.ReadinessProbe; p != nil {
		_, formula := reactionFormula(p)
		msg += "its readiness timing, up to " + formula + ", is the mesh's own"
	} else {
		msg += "no readinessProbe"
	}
	if known {
		total, _, _, _ := probeReaction(fastest.c.ReadinessProbe)
		msg += fmt.Sprintf("; the pod leaves the endpoints as soon as %s fails readiness (up to %ds)", fastest.c.Name, total)
	}
	return msg
}

func checkReadinessLiveness(c *corev1.Container) Check {
	ch := Check{ID: CheckReadinessLiveness, Container: c.Name}
	live, ready := c.LivenessProbe, c.ReadinessProbe
	if failUndeclaredPort(&ch, c, live, "livenessProbe", "the kubelet fails the probe and restarts the container again and again") {
		return ch
	}
	switch {
	case live == nil:
		ch.Status, ch.Message = StatusPass, "no livenessProbe"
	case ready != nil && handlerKey(c, &live.ProbeHandler) == handlerKey(c, &ready.ProbeHandler):
		ch.Status = StatusWarn
		ch.Message = "livenessProbe uses the same handler as readinessProbe (" + describeHandler(&live.ProbeHandler) + "): a drain that fails readiness also gets the container restarted"
		ch.Fix = separateLivenessFix(&live.ProbeHandler)
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

// separateLivenessFix says how to give liveness a check of its own, in the
// terms of the probe's handler.
func separateLivenessFix(h *corev1.ProbeHandler) string {
	switch {
	case h.GRPC != nil:
		return `give livenessProbe its own gRPC service name (grpc.service, e.g. "liveness") that the server's health service reports NOT_SERVING only when the process is wedged, and keep the readiness service (or "") for draining`
	case h.Exec != nil:
		return "make livenessProbe run a separate command that only fails when the process is wedged, not the readiness command that fails while draining"
	case h.TCPSocket != nil:
		return "keep tcpSocket for liveness only and give readinessProbe a check that fails as soon as the app starts draining (httpGet, grpc or exec)"
	}
	return "point livenessProbe at a separate path that only fails when the process is wedged (e.g. /health/live)"
}

// failUndeclaredPort fails ch when probe p (nil: none) names a port the container
// does not declare; consequence says what the kubelet then does.
func failUndeclaredPort(ch *Check, c *corev1.Container, p *corev1.Probe, what, consequence string) bool {
	if p == nil {
		return false
	}
	port, missing := undeclaredPort(c, probePort(&p.ProbeHandler))
	if missing {
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("%s %s names port %s, which the container does not declare: %s", what, describeHandler(&p.ProbeHandler), port, consequence)
		ch.Fix = declarePortFix(port)
	}
	return missing
}

// runnable tells whether the kubelet can run the container's readinessProbe at all.
func runnable(c *corev1.Container) bool {
	_, missing := undeclaredPort(c, probePort(&c.ReadinessProbe.ProbeHandler))
	return !missing
}

// probePort is the port an httpGet or tcpSocket handler names; nil for the others.
func probePort(h *corev1.ProbeHandler) *intstr.IntOrString {
	switch {
	case h.HTTPGet != nil:
		return &h.HTTPGet.Port
	case h.TCPSocket != nil:
		return &h.TCPSocket.Port
	}
	return nil
}

// hookPort is the port an httpGet or tcpSocket preStop hook names; nil for the others.
func hookPort(h *corev1.LifecycleHandler) *intstr.IntOrString {
	return probePort(&corev1.ProbeHandler{HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket})
}

// undeclaredPort tells whether a handler names a port the container does not
// declare: the kubelet resolves named ports against the container's own ports
// only, and fails the probe or hook when the name is not there.
func undeclaredPort(c *corev1.Container, port *intstr.IntOrString) (string, bool) {
	if port == nil || port.Type != intstr.String {
		return "", false
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return "", false
		}
	}
	return port.StrVal, true
}

func declarePortFix(name string) string {
	return fmt.Sprintf("declare the port in the container (ports: [{name: %s, containerPort: N}]) or use its number", name)
}
