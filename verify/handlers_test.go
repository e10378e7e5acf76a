package verify

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestHandlerKey(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "admin", ContainerPort: 9000}}}
	get := func(p string, port intstr.IntOrString) *corev1.ProbeHandler {
		h := httpGet(p, port)
		return &h
	}
	same := [][2]*corev1.ProbeHandler{
		{get("/ready", intstr.FromString("http")), get("/ready", intstr.FromInt32(8080))},
		{get("", intstr.FromInt32(8080)), get("/", intstr.FromInt32(8080))},
		{get("/a/../ready", intstr.FromInt32(8080)), get("/ready", intstr.FromInt32(8080))},
	}
	for _, p := range same {
		if a, b := handlerKey(c, p[0]), handlerKey(c, p[1]); a != b {
			t.Errorf("handlerKey differs: %q vs %q", a, b)
		}
	}
	different := [][2]*corev1.ProbeHandler{
		{get("/ready", intstr.FromString("http")), get("/ready", intstr.FromString("admin"))},
		{get("/ready", intstr.FromInt32(8080)), get("/live", intstr.FromInt32(8080))},
		{get("/ready", intstr.FromInt32(8080)), {TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
		{{Exec: &corev1.ExecAction{Command: []string{"a b"}}}, {Exec: &corev1.ExecAction{Command: []string{"a", "b"}}}},
	}
	for _, p := range different {
		if a, b := handlerKey(c, p[0]), handlerKey(c, p[1]); a == b {
			t.Errorf("handlerKey equal for different handlers: %q", a)
		}
	}
}

func TestDescribeHandler(t *testing.T) {
	for _, tc := range []struct {
		h    corev1.ProbeHandler
		want string
	}{
		{httpGet("/ready", intstr.FromString("http")), "httpGet :http/ready"},
		{corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}}, "tcpSocket :5432"},
		{corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, "grpc :9090 (no service: the server's overall health)"},
		{corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}}, "exec cat /tmp/ready"},
		{corev1.ProbeHandler{}, "with no handler"},
	} {
		if got := describeHandler(&tc.h); got != tc.want {
			t.Errorf("describeHandler = %q, want %q", got, tc.want)
		}
	}
}
