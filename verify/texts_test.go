package verify

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// A count of one is singular.
func TestPodsPlural(t *testing.T) {
	for n, want := range map[int32]string{0: "0 pods", 1: "1 pod", 2: "2 pods", 12: "12 pods"} {
		if got := pods(n); got != want {
			t.Errorf("pods(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Count(1, "node", "nodes"); got != "1 node" {
		t.Errorf("count(1) = %q", got)
	}
}

// Handlers are described on one line, a gRPC probe with the service it asks about.
func TestDescribeHandlerOneLine(t *testing.T) {
	for _, tc := range []struct {
		h    corev1.ProbeHandler
		want string
	}{
		{corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, "grpc :9090 (no service: the server's overall health)"},
		{corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090, Service: ptr.To("")}}, "grpc :9090 (no service: the server's overall health)"},
		{corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090, Service: ptr.To("liveness")}}, `grpc :9090 service "liveness"`},
		{corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "nginx -s quit\nsleep 5\r\n\twait"}}}, `exec /bin/sh -c nginx -s quit\nsleep 5\n\twait`},
	} {
		if got := describeHandler(&tc.h); got != tc.want {
			t.Errorf("describeHandler = %q, want %q", got, tc.want)
		}
	}
}

// The fix for liveness on the readiness handler speaks the probe's language.
func TestSeparateLivenessFix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       corev1.ProbeHandler
		want    string
		mustNot string
	}{
		{"httpGet", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health"}}, "/health/live", ""},
		{"grpc", corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, "grpc.service", "/health/live"},
		{"exec", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, "separate command", "/health/live"},
		{"tcpSocket", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, "readinessProbe a check that fails", "/health/live"},
	} {
		got := separateLivenessFix(&tc.h)
		if !strings.Contains(got, tc.want) || (tc.mustNot != "" && strings.Contains(got, tc.mustNot)) {
			t.Errorf("%s: fix %q, want %q without %q", tc.name, got, tc.want, tc.mustNot)
		}
	}
}
