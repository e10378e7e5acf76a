// Command drain-app is the reference workload of kubectl safe-rollout.
//
// It is a small HTTP + gRPC server that shows the graceful-shutdown contract
// between Kubernetes and an app (--mode=contract), and that reproduces the
// classic ways of breaking it (--mode=naive, ignore-sigterm, slow-drain).
// The contract, in order:
//
//  1. Stop new traffic first: readiness fails as soon as draining starts, and
//     the app keeps serving for --drain-delay while EndpointSlices, kube-proxy
//     and load balancers catch up.
//  2. Stop accepting new work: close the listeners.
//  3. Finish (or cut off) in-flight work within --shutdown-timeout.
//  4. Exit before the kubelet sends SIGKILL at the end of
//     terminationGracePeriodSeconds.
//
// Build: CGO_ENABLED=0 go build -o drain-app .
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, so that tests can run the real program.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, exitCode, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "drain-app:", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stdout, nil))
	cfg.Hostname, _ = os.Hostname()
	// The pod's name from the downward API (env POD_NAME: fieldRef
	// metadata.name), for X-Served-By; the hostname is the fallback, which
	// is the pod's name too unless the pod sets hostname or is truncated.
	cfg.PodName = os.Getenv("POD_NAME")

	// Subscribe to signals before the listeners open: a SIGTERM that arrives
	// right after start must not hit the Go runtime's default action.
	var signals chan os.Signal
	switch cfg.Mode {
	case ModeNaive:
		// Deliberately nothing. The Go runtime's own handler then ends the
		// process at once on SIGTERM, with no draining at all. Outside a
		// container the process dies of the signal (a shell shows 143 =
		// 128+15). As PID 1 of a container the kernel drops the signal the
		// runtime re-raises at itself, so the runtime falls back to exit(2):
		// Kubernetes reports exit code 2.
	case ModeIgnoreSIGTERM:
		// Catching SIGTERM and doing nothing is equivalent to
		// signal.Ignore(syscall.SIGTERM), but lets us log that it happened.
		// Only the kubelet's SIGKILL stops the process (exit code 137).
		signals = make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM)
	default:
		// SIGINT too, for Ctrl-C when running by hand.
		signals = make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	}

	app, err := New(cfg)
	if err != nil {
		cfg.Logger.Error("start failed", "err", err)
		return 1
	}
	if err := app.Run(signals); err != nil {
		cfg.Logger.Error("exit", "code", 1, "err", err)
		return 1
	}
	cfg.Logger.Info("exit", "code", exitCode)
	return exitCode
}

// parseFlags returns the app's configuration and the code to exit with after a
// graceful shutdown (--exit-code: 143 is what a JVM with Spring Boot's graceful
// shutdown, or a Node app with a SIGTERM handler, reports).
func parseFlags(args []string, stderr io.Writer) (Config, int, error) {
	var cfg Config
	var exitCode int
	fs := flag.NewFlagSet("drain-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", ":9090", "gRPC listen address")
	fs.StringVar(&cfg.Mode, "mode", ModeContract, "shutdown behaviour: contract, naive, ignore-sigterm or slow-drain")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", defaultDrainDelay, "how long to keep serving after readiness fails, before closing the listeners")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long in-flight work may take after the listeners close (contract mode)")
	fs.DurationVar(&cfg.ReadyDelay, "ready-delay", 0, "time after start before the app reports ready and does work (503 on / until then)")
	fs.DurationVar(&cfg.SlowDrainWork, "slow-drain-work", defaultSlowDrainWork, "extra work that ignores the grace period (slow-drain mode)")
	fs.Float64Var(&cfg.ErrorRate, "error-rate", 0, "fraction of / requests answered with 500, from 0 to 1")
	fs.IntVar(&exitCode, "exit-code", 0, "exit code after a graceful shutdown, e.g. 143 like a JVM (0 to 255)")
	if err := fs.Parse(args); err != nil {
		return cfg, 0, err
	}
	if fs.NArg() > 0 {
		return cfg, 0, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if exitCode < 0 || exitCode > 255 {
		return cfg, 0, fmt.Errorf("exit-code %d is not between 0 and 255", exitCode)
	}
	return cfg, exitCode, cfg.validate()
}
