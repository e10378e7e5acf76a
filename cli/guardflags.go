package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout"
)

// GuardFlags are shared by restart and watch.
type GuardFlags struct {
	Timeout         time.Duration
	Progress        string
	Output          string
	MaxSIGKILLs     int
	MaxUncleanExits int
}

func NewGuardFlags() GuardFlags {
	return GuardFlags{Progress: progressAuto, MaxUncleanExits: -1}
}

func (f *GuardFlags) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&f.Timeout, "timeout", 0, "Give up guarding after this long (outcome timeout, exit 5); 0 waits for the rollout's progress deadline")
	fs.StringVar(&f.Progress, "progress", f.Progress, "Progress on stderr: auto (spinner on a terminal), plain (timestamped lines) or none")
	fs.IntVar(&f.MaxSIGKILLs, "max-sigkills", 0, "SIGKILLed containers allowed before the rollout counts as failed")
	fs.IntVar(&f.MaxUncleanExits, "max-unclean-exits", -1, "Containers allowed to die on SIGTERM without draining (-1: unlimited, reported)")
}

func (f *GuardFlags) Validate() error {
	if err := validateOutput(f.Output); err != nil {
		return err
	}
	if f.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, got %s", f.Timeout)
	}
	if f.MaxSIGKILLs < 0 {
		return fmt.Errorf("--max-sigkills must not be negative, got %d", f.MaxSIGKILLs)
	}
	return validateProgress(f.Progress)
}

// guardRun holds what restart and watch need to run a guard and report it.
type guardRun struct {
	flags  GuardFlags
	budget BudgetFlags
	client kubernetes.Interface
	clock  clock.Clock
	// preflight notes for the report
	preflightSkipped bool
	preflightVerdict string
}

// run guards d until the rollout ends, prints the report and returns the exit code as an error.
func (g *guardRun) run(ctx context.Context, o genericiooptions.IOStreams, d *appsv1.Deployment, trigger rollout.Trigger) error {
	// Ctrl-C stops guarding, not the rollout: the report so far is still printed.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := newProgress(g.flags.Progress, o.Out, o.ErrOut, g.flags.Output != "", g.clock)
	guard := &rollout.Guard{
		Client:   g.client,
		Clock:    g.clock,
		Progress: progress,
		Budget:   g.budget.Budget,
		Budgets:  rollout.Budgets{MaxSIGKILLs: g.flags.MaxSIGKILLs, MaxUncleanExits: g.flags.MaxUncleanExits},
		Timeout:  g.flags.Timeout,
	}
	report, err := guard.Run(ctx, d, trigger)
	progress.Stop()
	if err != nil {
		return err
	}
	report.PreflightSkipped, report.PreflightVerdict = g.preflightSkipped, g.preflightVerdict
	if err := printRollout(o.Out, report, g.flags.Output, isTerminal(o.Out)); err != nil {
		return err
	}
	return outcomeError(report)
}

// outcomeError maps an outcome to the documented exit codes.
func outcomeError(r *rollout.Report) error {
	switch r.Outcome {
	case rollout.OutcomeSucceeded, rollout.OutcomeNoRollout:
		return nil
	case rollout.OutcomeFailed, rollout.OutcomePaused:
		return withCode(ExitBudgetBreached, errors.New(r.Message))
	case rollout.OutcomeRolledBack:
		return withCode(ExitRolledBack, errors.New(r.Message))
	case rollout.OutcomeTimeout:
		return withCode(ExitTimedOut, errors.New(r.Message))
	case rollout.OutcomeInterrupted:
		return withCode(ExitInterrupted, errors.New(r.Message))
	}
	return fmt.Errorf("unexpected outcome %q", r.Outcome)
}
