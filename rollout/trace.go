package rollout

import (
	"encoding/json"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
)

// tracedChange is one line of the change trace: which object version the guard
// handled, and when by its clock. make bench joins it with what an independent
// watcher saw, to measure the guard's event lag and throughput at scale.
type tracedChange struct {
	Resource        string    `json:"resource"`
	Namespace       string    `json:"namespace,omitempty"`
	Name            string    `json:"name"`
	UID             string    `json:"uid,omitempty"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
	Deleted         bool      `json:"deleted,omitempty"`
	HandledAt       time.Time `json:"handledAt"`
}

// trace writes c as one JSON line to w once it has been handled. A write error
// does not stop the guard: the trace is a measurement aid, not its output.
func trace(w io.Writer, c watch.Change, handledAt time.Time) {
	m, err := meta.Accessor(c.Object)
	if err != nil {
		return
	}
	line, err := json.Marshal(tracedChange{
		Resource: c.Resource, Namespace: m.GetNamespace(), Name: m.GetName(), UID: string(m.GetUID()),
		ResourceVersion: m.GetResourceVersion(), Deleted: c.Deleted, HandledAt: handledAt,
	})
	if err != nil {
		return
	}
	_, _ = w.Write(append(line, '\n'))
}
