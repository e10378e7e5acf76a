package rollout

import (
	"testing"

	"go.uber.org/goleak"
)

// Every guard test ends with no goroutine of the guard left: informers shut
// down, probe and query stopped. One goroutine of the fake API server is not
// the guard's: the fake clientset serves a field selector (the workload by
// name) through apimachinery's watch.Filter, whose loop blocks forever sending
// an event that arrived after the informer stopped reading (its Stop only
// stops the upstream watch).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("k8s.io/apimachinery/pkg/watch.(*filteredWatch).loop"))
}
