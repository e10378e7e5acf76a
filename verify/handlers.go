package verify

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

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
		return fmt.Sprintf("grpc :%d", h.GRPC.Port)
	case h.Exec != nil:
		return "exec " + strings.Join(h.Exec.Command, " ")
	}
	return "with no handler"
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
		return fmt.Sprintf("http|%s|%s|%d|%s", scheme, h.HTTPGet.Host, resolvePort(c, h.HTTPGet.Port), path.Clean(p))
	case h.TCPSocket != nil:
		return fmt.Sprintf("tcp|%s|%d", h.TCPSocket.Host, resolvePort(c, h.TCPSocket.Port))
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

func resolvePort(c *corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return -1
}

type preStopKind int

const (
	preStopNone preStopKind = iota
	preStopDrains
	preStopSleeps
	preStopOther
)

type preStopHook struct {
	kind        preStopKind
	sleep       time.Duration
	description string
}

var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "busybox": true}

// classifyPreStop tells whether a container's preStop hook triggers draining or only sleeps.
func classifyPreStop(c *corev1.Container) preStopHook {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return preStopHook{kind: preStopNone}
	}
	h := c.Lifecycle.PreStop
	switch {
	case h.HTTPGet != nil:
		return preStopHook{kind: preStopDrains, description: fmt.Sprintf("httpGet :%s%s", h.HTTPGet.Port.String(), h.HTTPGet.Path)}
	case h.Sleep != nil:
		d := time.Duration(h.Sleep.Seconds) * time.Second
		return preStopHook{kind: preStopSleeps, sleep: d, description: fmt.Sprintf("sleep action (%ds)", h.Sleep.Seconds)}
	case h.Exec != nil:
		desc := "exec " + strings.Join(h.Exec.Command, " ")
		if d, ok := sleepOnly(h.Exec.Command); ok {
			return preStopHook{kind: preStopSleeps, sleep: d, description: desc}
		}
		return preStopHook{kind: preStopDrains, description: desc}
	case h.TCPSocket != nil:
		return preStopHook{kind: preStopOther, description: "tcpSocket"}
	}
	return preStopHook{kind: preStopOther, description: "with no handler"}
}

// longestPreStopSleep is the drain delay a sleeping preStop imposes on the pod.
func longestPreStopSleep(spec *corev1.PodSpec) time.Duration {
	var longest time.Duration
	for i := range spec.Containers {
		if h := classifyPreStop(&spec.Containers[i]); h.kind == preStopSleeps {
			longest = max(longest, h.sleep)
		}
	}
	return longest
}

var sleepScript = regexp.MustCompile(`^\s*(?:exec\s+)?(?:/usr)?(?:/bin/)?sleep\s+([0-9.]+[smhd]?)\s*;?\s*$`)

// sleepOnly recognises an exec command that does nothing but sleep: `sleep N`,
// `/bin/sleep N`, or a shell running just that (`sh -c "sleep N"`).
func sleepOnly(cmd []string) (time.Duration, bool) {
	if len(cmd) == 0 {
		return 0, false
	}
	base := path.Base(cmd[0])
	if shells[base] {
		args := cmd[1:]
		if base == "busybox" && len(args) > 0 && shells[args[0]] {
			args = args[1:]
		}
		if len(args) >= 2 && args[0] == "-c" {
			return sleepOnly([]string{strings.Join(args[1:], " ")})
		}
		if len(args) >= 1 && args[0] == "sleep" {
			return sleepOnly(args)
		}
		return 0, false
	}
	script := strings.Join(cmd, " ")
	m := sleepScript.FindStringSubmatch(script)
	if m == nil {
		return 0, false
	}
	return parseSleep(m[1])
}

// parseSleep reads a sleep(1) argument: a number with an optional s/m/h/d suffix.
func parseSleep(arg string) (time.Duration, bool) {
	unit := time.Second
	switch arg[len(arg)-1] {
	case 's':
		arg = arg[:len(arg)-1]
	case 'm':
		unit, arg = time.Minute, arg[:len(arg)-1]
	case 'h':
		unit, arg = time.Hour, arg[:len(arg)-1]
	case 'd':
		unit, arg = 24*time.Hour, arg[:len(arg)-1]
	}
	n, err := strconv.ParseFloat(arg, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(n * float64(unit)), true
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
