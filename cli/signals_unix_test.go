//go:build unix

package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// The process's own signals reach the guard. Safe to send to the test process:
// while notifyContext listens for a signal, the runtime delivers it to the
// channel instead of acting on it.
func TestProcessSignalsStopGuarding(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(signalName(sig), func(t *testing.T) {
			ctx, received, stop := notifyContext(context.Background(), processSignals{})
			defer stop()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%s did not stop the context", signalName(sig))
			}
			if got := received(); got != sig {
				t.Errorf("received() = %v, want %v", got, sig)
			}
		})
	}
}
