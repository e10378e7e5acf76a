package verify

import (
	"fmt"
	"math"
	"path"
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

func isShell(name string) bool {
	switch name {
	case "sh", "bash", "ash", "dash", "zsh", "ksh":
		return true
	}
	return false
}

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

// sleepOnly recognises an exec command that does nothing but sleep: `sleep N`,
// `/bin/sleep N`, `sleep infinity`, or a shell running just that
// (`sh -c "sleep N"`, `bash -lc 'exec sleep N;'`).
func sleepOnly(cmd []string) (time.Duration, bool) {
	if len(cmd) == 0 {
		return 0, false
	}
	if len(cmd) == 1 && strings.ContainsAny(cmd[0], " \t") {
		return sleepScript(cmd[0]) // written as one string: read it as the shell would
	}
	base := path.Base(cmd[0])
	args := cmd[1:]
	if base == "busybox" && len(args) > 0 {
		base, args = path.Base(args[0]), args[1:]
	}
	if isShell(base) {
		// Options before the script: -c alone or combined (-ec, -lc, -xc).
		for len(args) > 0 && strings.HasPrefix(args[0], "-") {
			opt := args[0]
			args = args[1:]
			if strings.Contains(opt, "c") && len(args) > 0 {
				// Arguments after the script are $0, $1...: not commands.
				return sleepScript(args[0])
			}
		}
		return 0, false
	}
	if base != "sleep" {
		return 0, false
	}
	return sleepArgs(args)
}

// sleepScript reads a shell script that only sleeps.
func sleepScript(script string) (time.Duration, bool) {
	script = strings.TrimSpace(script)
	script = strings.TrimSpace(strings.TrimSuffix(script, ";"))
	fields := strings.Fields(script)
	if len(fields) > 0 && fields[0] == "exec" {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return 0, false
	}
	return sleepOnly(fields)
}

// sleepArgs reads sleep(1) arguments: numbers with an optional s/m/h/d suffix,
// summed, or "infinity".
func sleepArgs(args []string) (time.Duration, bool) {
	if len(args) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, a := range args {
		if a == "infinity" || a == "inf" {
			return time.Duration(math.MaxInt64), true
		}
		d, ok := parseSleep(a)
		if !ok {
			return 0, false
		}
		total += d
	}
	return total, true
}

// parseSleep reads one sleep(1) argument.
func parseSleep(arg string) (time.Duration, bool) {
	if arg == "" {
		return 0, false
	}
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
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
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
