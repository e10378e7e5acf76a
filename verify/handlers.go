package verify

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// describeHandler renders a probe or hook handler briefly, e.g. "httpGet :8080/health/ready".
func describeHandler(h *corev1.ProbeHandler) string {
	switch {
	case h.HTTPGet != nil:
		return fmt.Sprintf("httpGet :%s%s", h.HTTPGet.Port.String(), h.HTTPGet.Path)
	case h.TCPSocket != nil:
		return "tcpSocket :" + h.TCPSocket.Port.String()
	case h.GRPC != nil:
		return describeGRPC(h.GRPC)
	case h.Exec != nil:
		return "exec " + describeCommand(h.Exec.Command)
	}
	return "with no handler"
}

// describeGRPC names the port and the service a gRPC probe asks about: two
// probes on one port are different probes when they ask about different
// services, and the empty service is the server's overall health.
func describeGRPC(g *corev1.GRPCAction) string {
	if g.Service == nil || *g.Service == "" {
		return fmt.Sprintf("grpc :%d (no service: the server's overall health)", g.Port)
	}
	return fmt.Sprintf("grpc :%d service %q", g.Port, *g.Service)
}

// describeCommand renders a command on one line: a shell script's newlines
// (a preStop "sh -c" block) would split a table row, so they read \n.
func describeCommand(cmd []string) string {
	return commandLine.Replace(strings.Join(cmd, " "))
}

var commandLine = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\v", `\v`, "\f", `\f`)

// pods says n pods, singular or plural.
func pods[N ~int | ~int32](n N) string { return Count(n, "pod", "pods") }

// Count says n things, singular or plural: "1 pod", "3 pods".
func Count[N ~int | ~int32](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(int(n)) + " " + many
}

// handlerKey identifies what a probe actually asks, so two probes that differ only
// in timing compare equal. Named ports are resolved against the container.
func handlerKey(c *corev1.Container, h *corev1.ProbeHandler) string {
	switch {
	case h.HTTPGet != nil:
		scheme := h.HTTPGet.Scheme
		if scheme == "" {
			scheme = corev1.URISchemeHTTP
		}
		p := h.HTTPGet.Path
		if p == "" {
			p = "/"
		}
		return fmt.Sprintf("http|%s|%s|%s|%s", scheme, h.HTTPGet.Host, resolvePort(c, h.HTTPGet.Port), path.Clean(p))
	case h.TCPSocket != nil:
		return fmt.Sprintf("tcp|%s|%s", h.TCPSocket.Host, resolvePort(c, h.TCPSocket.Port))
	case h.GRPC != nil:
		svc := ""
		if h.GRPC.Service != nil {
			svc = *h.GRPC.Service
		}
		return fmt.Sprintf("grpc|%d|%s", h.GRPC.Port, svc)
	case h.Exec != nil:
		return "exec|" + strings.Join(h.Exec.Command, "\x00")
	}
	return "none"
}

// resolvePort names a probe's port by number when the container declares it;
// an unknown name stays a name, so two different unknown names never compare equal.
func resolvePort(c *corev1.Container, port intstr.IntOrString) string {
	if port.Type == intstr.Int {
		return strconv.Itoa(int(port.IntVal))
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return strconv.Itoa(int(p.ContainerPort))
		}
	}
	return "name:" + port.StrVal
}

// resolveFenceposts turns maxSurge/maxUnavailable into pod counts the way the
// Deployment controller does: surge rounds up, unavailable rounds down, and both
// zero means one may be unavailable.
func resolveFenceposts(ru *appsv1.RollingUpdateDeployment, replicas int32) (int32, int32, error) {
	def := intstr.FromString("25%")
	surgeSpec, unavailSpec := &def, &def
	if ru != nil {
		if ru.MaxSurge != nil {
			surgeSpec = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailSpec = ru.MaxUnavailable
		}
	}
	surge, err := intstr.GetScaledValueFromIntOrPercent(surgeSpec, int(replicas), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	unavailable, err := intstr.GetScaledValueFromIntOrPercent(unavailSpec, int(replicas), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return int32(surge), int32(unavailable), nil
}
