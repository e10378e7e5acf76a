package verify

import (
	"fmt"
	"strings"
	"time"
)

// checkGraceBudget compares the grace period with the budget. It fails only on
// facts: no grace period at all, one short of the stated inputs plus the preStop
// sleeps, or a preStop sleep (hookSleep, the longest) that fills it. Short of a
// budget that rests on assumed inputs, it warns.
//
// ingressesUnread says why the cluster's Ingresses could not be read: an ALB in
// front of the pods would then go unnoticed, and the finding says so.
func checkGraceBudget(grace int64, req Requirement, hookSleep time.Duration, ingressesUnread string) Check {
	ch := checkGraceBudgetFigures(grace, req, hookSleep)
	if ingressesUnread != "" && !req.Stated.EndpointPropagation {
		ch.Message += " (Ingresses not read: " + ingressesUnread + "; a load balancer they configure is not accounted for)"
	}
	return ch
}

func checkGraceBudgetFigures(grace int64, req Requirement, hookSleep time.Duration) Check {
	ch := checkGraceBudgetText(grace, req, hookSleep)
	need := int64(req.Seconds())
	ch.GraceSeconds, ch.BudgetSeconds = &grace, &need
	if ch.Status != StatusPass && !req.Unbounded() && need > grace {
		ch.RecommendedGraceSeconds = &need
	}
	return ch
}

func checkGraceBudgetText(grace int64, req Requirement, hookSleep time.Duration) Check {
	ch := Check{ID: CheckGraceBudget}
	need, known := req.Seconds(), req.KnownSeconds()
	formula := fmt.Sprintf("terminationGracePeriodSeconds %d < %s = %s", grace, wholeSeconds(need), req.Formula())
	assumed := strings.Join(req.Assumed(), ", ")
	setGrace := fmt.Sprintf("set spec.template.spec.terminationGracePeriodSeconds: %d (or measure and lower the inputs)", need)
	switch {
	case grace <= 0:
		// No grace at all is a fact of the manifest, whatever the inputs.
		ch.Status, ch.Message, ch.Fix = StatusFail, formula+": terminationGracePeriodSeconds 0 SIGKILLs every container at once", setGrace
	case req.Known == maxDuration || grace < known:
		ch.Status, ch.Message, ch.Fix = StatusFail, formula, setGrace
		if assumed != "" {
			ch.Message += fmt.Sprintf("; even without the assumed %s it needs %s", assumed, wholeSeconds(known))
		}
		if req.Unbounded() {
			ch.Fix = "no grace period is long enough: make every preStop hook end and set the budget inputs to measured durations"
		}
	case hookSleep > 0 && hookSleep >= secondsDuration(grace):
		ch.Status = StatusFail
		ch.Message = fmt.Sprintf("terminationGracePeriodSeconds %d is not longer than the %s a preStop hook sleeps (%s = %s)", grace, seconds(hookSleep), wholeSeconds(need), req.Formula())
		ch.Fix = "shorten the preStop sleep, or raise terminationGracePeriodSeconds above it"
	case req.Unbounded() || grace < need:
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("%s, short only by the assumed %s (defaults, not measured)", formula, assumed)
		ch.Fix = fmt.Sprintf("set spec.template.spec.terminationGracePeriodSeconds: %d, or measure the assumed inputs and give them (flags or safe-rollout.io/ annotations)", need)
	default:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("terminationGracePeriodSeconds %d >= %s = %s", grace, wholeSeconds(need), req.Formula())
	}
	return ch
}
