package rollout

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
)

func TestTraceWritesOneLinePerChange(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u1", ResourceVersion: "42"}}
	var out bytes.Buffer
	trace(&out, watch.Change{Object: pod, Resource: "pods"}, at)
	trace(&out, watch.Change{Object: pod, Resource: "pods", Deleted: true}, at.Add(time.Millisecond))
	trace(&out, watch.Change{Object: "not an object", Resource: "pods"}, at) // skipped, no error
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	var first, second tracedChange
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	want := tracedChange{Resource: "pods", Namespace: "shop", Name: "web-1", UID: "u1", ResourceVersion: "42", HandledAt: at}
	if first != want {
		t.Errorf("first line = %+v, want %+v", first, want)
	}
	if !second.Deleted || !second.HandledAt.Equal(at.Add(time.Millisecond)) {
		t.Errorf("second line = %+v, want the deletion a millisecond later", second)
	}
}
