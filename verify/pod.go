package verify

// Which containers of a pod serve traffic. A pod leaves the endpoints as soon as
// any of its containers fails readiness, so the readiness checks judge the pod by
// the containers that actually serve: the ones a Service targets. A mesh proxy is
// its own draining hop, judged apart from the app; a pod that neither declares a
// port nor is selected by a Service is a worker and serves nothing.

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AnnotationProxyContainers names, on the workload or its pod template, the
// containers that are mesh proxies besides istio-proxy and linkerd-proxy: "a,b".
const AnnotationProxyContainers = "safe-rollout.io/proxy-containers"

// knownProxies are the container names the meshes' injectors give their proxies.
func knownProxies() []string { return []string{"istio-proxy", "linkerd-proxy"} }

// workerMessage is the finding of every readiness check of a worker pod.
const workerMessage = "no ports and no Service: a worker, not serving traffic"

// role is what a container does for the pod's traffic.
type role int

const (
	// roleServing: a Service targets one of its ports, or, with no Service, it declares ports.
	roleServing role = iota
	// roleHelper serves nothing a Service targets: exporters, log shippers, native sidecars.
	roleHelper
	// roleProxy is a mesh proxy, judged as its own draining hop.
	roleProxy
	// roleWorker: the whole pod serves nothing (no ports, no Service).
	roleWorker
)

// member is one long-running container of the pod and its role.
type member struct {
	c *corev1.Container
	// native: an init container with restartPolicy Always, which the kubelet
	// stops only after the main containers have exited.
	native bool
	role   role
	// why says, for a helper, why it is not serving ("declares no ports").
	why string
}

// podView is the pod template read for the readiness checks.
type podView struct {
	members  []member
	services []corev1.Service
	// annotations are the pod template's: mesh settings live there.
	annotations map[string]string
	// fallback explains a guess: the Services target ports no container declares.
	fallback string
}

// analysePod assigns a role to every long-running container of w's pods.
func analysePod(w *Workload, services []corev1.Service) podView {
	v := podView{services: matchingServices(w, services), annotations: w.Template.Annotations}
	proxies := proxyNames(w)
	spec := &w.Template.Spec
	for i := range spec.Containers {
		v.members = append(v.members, member{c: &spec.Containers[i]})
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			v.members = append(v.members, member{c: c, native: true})
		}
	}
	for i := range v.members {
		if slices.Contains(proxies, v.members[i].c.Name) {
			v.members[i].role = roleProxy
		}
	}
	if len(v.services) > 0 {
		v.assignByServices()
	} else {
		v.assignByPorts()
	}
	return v
}

// proxyNames lists the containers taken as mesh proxies.
func proxyNames(w *Workload) []string {
	names := knownProxies()
	for _, annotations := range []map[string]string{w.Annotations, w.Template.Annotations} {
		for _, n := range strings.Split(annotations[AnnotationProxyContainers], ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// assignByServices: a container serves when a selecting Service targets one of
// its ports. When the Services target only ports no container declares (ports
// are informational, the app may listen anyway) or have no ports, the containers
// that declare ports, or else every main container, are taken as serving: a
// Service selects the pods, so they are no workers.
func (v *podView) assignByServices() {
	found := false
	for i := range v.members {
		m := &v.members[i]
		if m.role == roleProxy {
			continue
		}
		if v.targets(m.c) {
			m.role, found = roleServing, true
			continue
		}
		m.role, m.why = roleHelper, "no Service targets its ports"
		if m.native {
			m.why = "native sidecar, no Service targets its ports"
		}
	}
	if found {
		return
	}
	// Services without ports (headless, for discovery) give no clue either; only
	// a port that matches nothing is worth a note.
	if targets := targetList(v.services); targets != "" {
		v.fallback = fmt.Sprintf("%s targets %s, which no container declares", serviceNames(v.services), targets)
	}
	declared := slices.ContainsFunc(v.members, func(m member) bool { return m.role != roleProxy && !m.native && len(m.c.Ports) > 0 })
	for i := range v.members {
		m := &v.members[i]
		if m.role == roleHelper && !m.native && (len(m.c.Ports) > 0 || !declared) {
			m.role, m.why = roleServing, ""
		}
	}
}

// assignByPorts: with no Service, the main containers that declare ports serve.
// A pod where none does is a worker.
func (v *podView) assignByPorts() {
	serving := false
	for i := range v.members {
		m := &v.members[i]
		switch {
		case m.role == roleProxy:
		case m.native:
			m.role, m.why = roleHelper, "native sidecar, no Service targets its ports"
		case len(m.c.Ports) > 0:
			m.role, serving = roleServing, true
		default:
			m.role, m.why = roleHelper, "declares no ports"
		}
	}
	if serving {
		return
	}
	for i := range v.members {
		v.members[i].role = roleWorker
	}
}

// targets tells whether a selecting Service sends traffic to one of c's ports.
// A named targetPort matches a port of that name and protocol (as the endpoints
// controller resolves it); a number matches the containerPort; no targetPort
// means the Service's port.
func (v *podView) targets(c *corev1.Container) bool {
	for _, s := range v.services {
		for _, sp := range s.Spec.Ports {
			for _, cp := range c.Ports {
				if portMatches(sp, cp) {
					return true
				}
			}
		}
	}
	return false
}

func portMatches(sp corev1.ServicePort, cp corev1.ContainerPort) bool {
	tp := serviceTarget(sp)
	if tp.Type == intstr.String {
		return cp.Name == tp.StrVal && protocol(cp.Protocol) == protocol(sp.Protocol)
	}
	return cp.ContainerPort == tp.IntVal
}

// serviceTarget is the port a Service port sends to: targetPort, or port when unset.
func serviceTarget(sp corev1.ServicePort) intstr.IntOrString {
	if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0 {
		return intstr.FromInt32(sp.Port)
	}
	return sp.TargetPort
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func serviceNames(services []corev1.Service) string {
	names := make([]string, 0, len(services))
	for _, s := range services {
		names = append(names, s.Name)
	}
	return "Service " + strings.Join(names, ", ")
}

func targetList(services []corev1.Service) string {
	var ports []string
	for _, s := range services {
		for _, sp := range s.Spec.Ports {
			tp := serviceTarget(sp)
			if p := tp.String(); !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	if len(ports) == 0 {
		return ""
	}
	return "port " + strings.Join(ports, ", ")
}

// serving returns the serving members.
func (v *podView) serving() []member {
	var out []member
	for _, m := range v.members {
		if m.role == roleServing {
			out = append(out, m)
		}
	}
	return out
}

// worker tells whether the pod serves nothing at all.
func (v *podView) worker() bool {
	return len(v.members) > 0 && v.members[0].role == roleWorker
}

// names lists members' container names for messages: "app, admin".
func names(ms []member) string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.c.Name)
	}
	return strings.Join(out, ", ")
}
