package verify

// What is particular to DaemonSets. A DaemonSet runs one pod on each eligible
// node, so a rollout swaps the pod of each node. With the defaults (maxSurge 0,
// maxUnavailable 1) the old pod is stopped before its replacement runs: for a
// moment that node has no pod. That matters to traffic that must stay on the
// node: a hostPort or hostNetwork port, a Service with internalTrafficPolicy
// or externalTrafficPolicy Local. maxSurge 1 with maxUnavailable 0 starts the
// replacement first, which takes two pods on the node for a moment: impossible
// with a hostPort, which only one pod of a node can hold.

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// daemonSetRules are a DaemonSet's kindRules.
type daemonSetRules struct{ ds *appsv1.DaemonSet }

func (daemonSetRules) replicas() (int32, bool) { return 0, false }

func (daemonSetRules) paused() (bool, bool) { return false, false }

func (daemonSetRules) scaledByHPA() bool { return false }

func (daemonSetRules) apiType() reflect.Type { return reflect.TypeFor[appsv1.DaemonSet]() }

func (r daemonSetRules) onDelete() bool {
	return r.ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType
}

// inProgress reads the status as kubectl's DaemonSetStatusViewer does.
func (r daemonSetRules) inProgress() (string, bool, string) {
	return viewerInProgress(workload.DaemonSet{DaemonSet: r.ds})
}

// strategy: OnDelete fails; otherwise what a node's swap does to the traffic
// that must stay on the node.
func (r daemonSetRules) strategy(w *Workload, env Environment, pod *podView) Check {
	ch := Check{ID: CheckRolloutStrategy}
	if r.onDelete() {
		ch.Status = StatusFail
		ch.Message = "updateStrategy OnDelete: a restart changes nothing until each pod is deleted by hand"
		ch.Fix = "use updateStrategy RollingUpdate (the default), or delete the pods one node at a time after each change, waiting for each replacement to be ready"
		return ch
	}
	surge, unavailable := intstr.FromInt32(0), intstr.FromInt32(1)
	if ru := r.ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailable = *ru.MaxUnavailable
		}
	}
	// The node count is the live object's; unknown from a manifest. Every
	// percentage rounds up, so a non-zero one is at least one pod.
	nodes := r.ds.Status.DesiredNumberScheduled
	if env.Live != nil {
		if live, ok := env.Live.Object.(*appsv1.DaemonSet); ok {
			nodes = live.Status.DesiredNumberScheduled
		}
	}
	surging, err := nonZero(surge)
	if err == nil && !surging {
		var ok bool
		if ok, err = nonZero(unavailable); err == nil && !ok {
			unavailable = intstr.FromInt32(1) // both 0: the controller takes 1
		}
	}
	if err != nil {
		ch.Status, ch.Message = StatusFail, "invalid rollingUpdate: "+err.Error()
		ch.Fix = "set maxSurge and maxUnavailable to integers or percentages"
		return ch
	}
	desc := fmt.Sprintf("RollingUpdate with maxSurge %s, maxUnavailable %s", surge.String(), unavailable.String())
	if nodes > 0 {
		desc += " on " + Count(nodes, "node", "nodes")
	}
	hostPorts, hostNetwork := hostBound(w, pod)
	local := localTraffic(pod.services)
	if surging {
		switch {
		case len(hostPorts) > 0:
			ch.Status = StatusFail
			ch.Message = fmt.Sprintf("%s: the replacement needs %s, which its predecessor holds on the node: it stays Pending and the rollout stalls on the first node", desc, strings.Join(hostPorts, ", "))
			ch.Fix = "set maxSurge: 0 and maxUnavailable: 1: only one pod of a node can hold a hostPort"
		case hostNetwork:
			ch.Status = StatusWarn
			ch.Message = desc + ": with hostNetwork the replacement shares the node's network with its predecessor: it cannot listen on the same ports until the old pod exits"
			ch.Fix = "declare the ports the pods listen on (hostNetwork makes them hostPorts) and set maxSurge: 0, maxUnavailable: 1, or make sure the app can share its ports (SO_REUSEPORT)"
		default:
			ch.Status = StatusPass
			ch.Message = desc + ": on each node the replacement runs before the old pod stops"
		}
		return ch
	}
	if pct, isPct := percent(unavailable); (isPct && pct >= 100) || (!isPct && nodes > 1 && unavailable.IntVal >= nodes) {
		ch.Status = StatusFail
		ch.Message = desc + ": every node's pod can be stopped at once: nothing runs anywhere during the swap"
		ch.Fix = "set maxUnavailable: 1 (or a small percentage)"
		return ch
	}
	swap := desc + ": each node's pod is stopped before its replacement runs"
	var reasons []string
	reasons = append(reasons, hostPorts...)
	if hostNetwork && len(hostPorts) == 0 {
		reasons = append(reasons, "hostNetwork")
	}
	reasons = append(reasons, local...)
	if len(reasons) == 0 {
		ch.Status = StatusPass
		ch.Message = swap + "; no node-local traffic (no hostPort, no hostNetwork, no Service with a Local traffic policy)"
		return ch
	}
	ch.Status = StatusWarn
	ch.Message = fmt.Sprintf("%s: during the swap that node has no local endpoint for %s: its node-local clients get errors until the replacement is ready", swap, strings.Join(reasons, ", "))
	if len(hostPorts) > 0 || hostNetwork {
		ch.Fix = "a hostPort allows one pod per node, so maxSurge cannot help: keep the swap short (a fast readiness probe) and make the node's clients retry"
	} else {
		ch.Fix = "set maxSurge: 1 and maxUnavailable: 0: the replacement runs before the old pod stops (two pods on the node for a moment)"
	}
	return ch
}

// nonZero tells whether a maxSurge or maxUnavailable asks for at least one pod
// (percentages round up).
func nonZero(v intstr.IntOrString) (bool, error) {
	if pct, ok := percent(v); ok {
		return pct > 0, nil
	}
	if v.Type == intstr.String {
		return false, fmt.Errorf("invalid value %q: an integer or a percentage", v.StrVal)
	}
	return v.IntVal > 0, nil
}

// percent returns the percentage of a "30%" value.
func percent(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || !strings.HasSuffix(v.StrVal, "%") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, err == nil
}

// hostBound lists the hostPorts of the pod's containers ("hostPort 9100") and
// tells whether it runs in the node's network, where every declared port is a
// hostPort.
func hostBound(w *Workload, pod *podView) ([]string, bool) {
	hostNetwork := w.Template.Spec.HostNetwork
	var ports []string
	for _, m := range pod.members {
		for _, p := range m.c.Ports {
			hp := p.HostPort
			if hp == 0 && hostNetwork {
				hp = p.ContainerPort
			}
			if hp == 0 {
				continue
			}
			s := "hostPort " + strconv.Itoa(int(hp))
			if protocol(p.Protocol) != corev1.ProtocolTCP {
				s += "/" + string(p.Protocol)
			}
			ports = append(ports, s)
		}
	}
	return ports, hostNetwork
}

// localTraffic names the Services that keep traffic on the node of the pod
// that receives it.
func localTraffic(services []corev1.Service) []string {
	var out []string
	for _, s := range services {
		if p := s.Spec.InternalTrafficPolicy; p != nil && *p == corev1.ServiceInternalTrafficPolicyLocal {
			out = append(out, "Service "+s.Name+" (internalTrafficPolicy: Local)")
		}
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			out = append(out, "Service "+s.Name+" (externalTrafficPolicy: Local)")
		}
	}
	return out
}
