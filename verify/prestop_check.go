package verify

// The prestop-hook check of one container, by its role in the pod: a serving
// container's hook should trigger draining; a helper's may simply keep it alive
// while the app drains; a mesh proxy must keep forwarding until the app is done.

import (
	"fmt"
	"time"
)

func checkPreStop(m member, v *podView, grace int64, drain time.Duration) Check {
	c := m.c
	ch := Check{ID: CheckPreStopHook, Container: c.Name}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if port, missing := undeclaredPort(c, hookPort(c.Lifecycle.PreStop)); missing {
			h := classifyPreStop(c)
			ch.Status = StatusFail
			ch.Message = fmt.Sprintf("preStop %s names port %s, which the container does not declare: the kubelet fails the hook, which then neither drains nor waits", h.description, port)
			ch.Fix = declarePortFix(port)
			return ch
		}
	}
	hook := classifyPreStop(c)
	// A hook that sleeps through the grace period (or never ends) is killed with
	// the container, whatever the container does: a fact, so it fails.
	if hook.sleep >= secondsDuration(grace) && (hook.kind == preStopDrains || hook.kind == preStopSleeps) {
		return outlastingPreStop(ch, hook, grace)
	}
	switch m.role {
	case roleWorker:
		ch.Status, ch.Message = StatusSkip, workerMessage
		return ch
	case roleProxy:
		return proxyPreStop(ch, m, v, hook, drain)
	case roleHelper:
		return helperPreStop(ch, m, hook)
	}
	return servingPreStop(ch, hook)
}

func outlastingPreStop(ch Check, hook preStopHook, grace int64) Check {
	ch.Status = StatusFail
	if hook.kind == preStopDrains {
		ch.Message = fmt.Sprintf("preStop %s triggers draining but sleeps %s, not shorter than terminationGracePeriodSeconds %ds%s: the container is SIGKILLed before the hook ends", hook.description, seconds(hook.sleep), grace, hook.noted())
		ch.Fix = "keep the preStop sleep well below the grace period"
		return ch
	}
	ch.Message = fmt.Sprintf("preStop %s is not shorter than terminationGracePeriodSeconds %ds%s: the container is SIGKILLed before it ever sees SIGTERM", hook.description, grace, hook.noted())
	ch.Fix = "trigger draining from preStop (httpGet to a drain endpoint) and keep any sleep well below the grace period"
	return ch
}

func servingPreStop(ch Check, hook preStopHook) Check {
	switch hook.kind {
	case preStopDrains:
		ch.Status, ch.Message = StatusPass, "preStop "+hook.description+" triggers draining"+hook.noted()
	case preStopSleeps:
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("preStop %s only sleeps%s: the app keeps accepting new work while the hook sleeps and learns of the shutdown only at SIGTERM", hook.description, hook.noted())
		ch.Fix = "make preStop trigger draining (httpGet to a drain endpoint that flips readiness), or make the app flip readiness on SIGTERM"
	case preStopOther:
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

// helperPreStop: a container that serves nothing has nothing to drain; a hook
// that sleeps keeps it running while the serving containers finish.
func helperPreStop(ch Check, m member, hook preStopHook) Check {
	switch hook.kind {
	case preStopNone:
		ch.Status, ch.Message = StatusSkip, m.why+": not serving traffic"
	case preStopDrains:
		ch.Status, ch.Message = StatusPass, "preStop "+hook.description+" triggers draining"+hook.noted()
	case preStopSleeps:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("preStop %s keeps the container running%s while the serving containers drain (%s: not serving traffic)", hook.description, hook.noted(), m.why)
	default:
		ch.Status = StatusWarn
		ch.Message = "preStop " + hook.description + " does nothing useful" + hook.noted()
		ch.Fix = "remove the hook, or make it an exec or httpGet hook that works"
	}
	if m.native && ch.Status == StatusPass {
		ch.Message += " (native sidecar: its hook runs after the main containers have exited)"
	}
	return ch
}
