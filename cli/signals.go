package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// signalSource delivers the signals that stop guarding. The commands use the
// process's own; tests deliver theirs without signalling the test process.
type signalSource interface {
	Notify(c chan<- os.Signal, sig ...os.Signal)
	Stop(c chan<- os.Signal)
}

// processSignals is the process's signals (os/signal).
type processSignals struct{}

func (processSignals) Notify(c chan<- os.Signal, sig ...os.Signal) { signal.Notify(c, sig...) }
func (processSignals) Stop(c chan<- os.Signal)                     { signal.Stop(c) }

// stopSignal is the cause of a context cancelled by a signal.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return "received " + signalName(s.sig) }

// signalName is the name people know a stop signal by.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// notifyContext is signal.NotifyContext on src for SIGINT and SIGTERM; received
// tells which of them cancelled ctx (nil when none did). stop must be called.
func notifyContext(parent context.Context, src signalSource) (ctx context.Context, received func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	src.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-sigs:
			cancel(stopSignal{sig})
		case <-ctx.Done():
		}
	}()
	received = func() os.Signal {
		var s stopSignal
		if errors.As(context.Cause(ctx), &s) {
			return s.sig
		}
		return nil
	}
	stop = func() {
		src.Stop(sigs)
		cancel(context.Canceled)
		<-done
	}
	return ctx, received, stop
}

// signalExitCode is the exit code of a run a signal stopped: 128+n as shells
// report it, so a CI runner's SIGTERM (143) is told apart from Ctrl-C (130).
func signalExitCode(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return ExitTerminated
	}
	return ExitInterrupted
}
