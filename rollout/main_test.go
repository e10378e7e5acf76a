package rollout

import (
	"testing"

	"go.uber.org/goleak"
)

// Every guard test ends with no goroutine of the guard left: informers shut
// down, probe and query stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
