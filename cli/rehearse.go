package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/actions"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rehearsal"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

const rehearseExample = `  # Restart deploy/web 3 times under probe traffic; figures per round and overall
  kubectl safe-rollout rehearse deploy/web --rounds 3 --probe http://web.shop.svc/

  # Measure an app that drops traffic: report every round's breaches, stop none
  kubectl safe-rollout rehearse deploy/web --rounds 3 --probe http://web.shop.svc/ --on-breach=none -o json > before.json

  # After the fix: the same rehearsal beside the previous one (before | after | change)
  kubectl safe-rollout rehearse deploy/web --rounds 3 --probe http://web.shop.svc/ --compare before.json`

// maxRounds bounds --rounds: a rehearsal restarts a live workload each round.
const maxRounds = 100

// RehearseOptions holds the rehearse command's inputs: restart's, plus the
// rounds and the rehearsal to compare with.
type RehearseOptions struct {
	guardedRestart
	Rounds  int
	Compare string

	// before is the --compare rehearsal, read by Complete.
	before *rehearsal.Report
}

func NewRehearseOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *RehearseOptions {
	return &RehearseOptions{guardedRestart: newGuardedRestart(configFlags, streams, deps), Rounds: 3}
}

// NewCmdRehearse restarts one workload several times back to back under probe
// traffic, each round as restart does, and sums up what the rounds measured.
func NewCmdRehearse(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *cobra.Command {
	o := NewRehearseOptions(configFlags, streams, deps)
	cmd := &cobra.Command{
		Use:   "rehearse TYPE/NAME --rounds N [--probe URL...] [--compare before.json]",
		Short: "Restart a workload several times under probe traffic and compare the figures with a previous rehearsal",
		Long: "Runs preflight, then restarts the workload --rounds times back to back, each round exactly as restart does " +
			"(guarded, with the same limits and --on-breach), waiting for each rollout to finish before the next. One probe " +
			"sends traffic through all the rounds. It prints per round and overall: requests, errors by class, error rate, " +
			"latency p50/p95/p99, SIGKILLs, unclean exits and propagation. A breach stops the rehearsal as it stops a restart " +
			"(same exit codes; the report says in which round); with --on-breach=none every round runs. --compare puts a " +
			"previous rehearsal (its -o json) beside this one: before | after | change.",
		Example: rehearseExample,
		RunE:    runE(o),
	}
	o.Targets.AddFlags(cmd, false)
	o.Budget.AddFlags(cmd.Flags())
	o.Guard.AddFlags(cmd.Flags(), "On a breached budget: pause (default; the rehearsal stops), rollback, or none (report it and run every round)")
	// One workload, one round at a time: the release step's flags do not apply.
	_ = cmd.Flags().MarkHidden("concurrency")
	_ = cmd.Flags().MarkHidden("budget-scope")
	addOutputFlag(cmd, &o.Guard.Output)
	cmd.Flags().BoolVar(&o.SkipPreflight, "skip-preflight", false, "Rehearse even if preflight fails (the reports say so)")
	cmd.Flags().IntVar(&o.Rounds, "rounds", o.Rounds, "Restarts, back to back")
	cmd.Flags().StringVar(&o.Compare, "compare", "", "A previous rehearsal's JSON (rehearse -o json) to put beside this one")
	return cmd
}

func (o *RehearseOptions) Complete(args []string) error {
	o.args = args
	if o.Compare != "" {
		data, err := os.ReadFile(o.Compare)
		if err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		if o.before, err = rehearsal.Parse(data); err != nil {
			return fmt.Errorf("--compare %s: %w", o.Compare, err)
		}
	}
	return o.Targets.Complete(o.ConfigFlags)
}

func (o *RehearseOptions) Validate() error {
	if o.Rounds < 1 || o.Rounds > maxRounds {
		return fmt.Errorf("--rounds must be between 1 and %d, got %d", maxRounds, o.Rounds)
	}
	if o.Targets.All || o.Targets.Selector != "" {
		return errors.New("rehearse restarts one workload: name it (TYPE/NAME or TYPE NAME), not -l or --all")
	}
	if err := o.Budget.Validate(); err != nil {
		return err
	}
	if err := o.Guard.Validate(); err != nil {
		return err
	}
	return o.Targets.Validate(o.args)
}

func (o *RehearseOptions) Run(ctx context.Context) error {
	all, targets, err := resolveWorkloads(&o.Targets, o.args)
	if err != nil {
		return err
	}
	if len(all) != 1 {
		return fmt.Errorf("rehearse restarts one workload, got %d (%s): name one", len(all), refs(all))
	}
	w := all[0]
	g, err := o.start(ctx, targets, all)
	if err != nil {
		return err
	}
	if len(o.Guard.Probes) == 0 {
		fmt.Fprintln(o.ErrOut, "Warning: no --probe: the rehearsal measures the pods' drains only, no traffic")
	}
	rep, received, err := g.rehearse(ctx, o.IOStreams, w, o.Rounds)
	if rep == nil {
		return err
	}
	if o.before != nil {
		rep.Compare = rehearsal.Compare(o.before, rep)
	}
	writeHTMLRehearsal(o.ErrOut, o.Guard.HTML, rep)
	if perr := printRehearsal(o.Out, rep, o.Guard.Output, g.colour.on(o.Out)); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	return outcomeError(&report.Rollout{Outcome: rep.Outcome, Message: rep.Message}, received)
}

// rehearse restarts w rounds times, each round a guard of its own as restart
// runs it, under one probe for the whole rehearsal. It returns the report
// (nil when nothing ran), the signal that stopped it if one did, and a
// round's error.
func (g *guardRun) rehearse(ctx context.Context, o genericiooptions.IOStreams, w workload.Workload, rounds int) (*rehearsal.Report, os.Signal, error) {
	if g.flags.DebugTrace != "" {
		return nil, nil, errors.New("--debug-trace follows one rollout: use restart")
	}
	ctx, received, stop := notifyContext(ctx, g.signalSource())
	defer stop()
	prober, stopProber, err := g.startSharedProber(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer stopProber()
	lines := newProgress(g.flags.Progress, o.Out, o.ErrOut, g.flags.Output != "", g.clock)
	recorder := g.newRecorder(lines, o.ErrOut)
	current := w
	var roundStart traffic.Mark // the rounds' windows split the probe's traffic
	runner := rehearsal.Runner{Rounds: rounds, KeepGoing: policy.Action(g.flags.OnBreach) == policy.ActionNone,
		Round: func(ctx context.Context, round int) (*report.Rollout, error) {
			guard, closeGuard, err := g.newGuard(false)
			if err != nil {
				return nil, err
			}
			defer closeGuard()
			var probe *roundProbe
			if prober != nil {
				probe = &roundProbe{stepProbe: &stepProbe{Prober: prober, clock: g.clock}, from: roundStart}
				guard.Probe = probe
			}
			prefix := fmt.Sprintf("round %d/%d: ", round, rounds)
			guard.Progress = func(e progress.Event) {
				recorder.Record(e)
				fmt.Fprintln(lines, prefix+describeEvent(e))
			}
			trigger := rollout.Trigger(func(ctx context.Context) (workload.Workload, error) {
				out, err := actions.RestartWorkload(ctx, g.client, current, g.clock.Now(), actions.DryRunNone)
				if err == nil {
					current = out
				}
				return out, err
			})
			rep, err := guard.Run(ctx, current, trigger)
			if probe != nil {
				roundStart = probe.end()
			}
			if rep != nil {
				rep.PreflightSkipped, rep.PreflightVerdict = g.preflightSkipped, g.preflightVerdict
				fmt.Fprintf(lines, "%s%s after %.1fs\n", prefix, rep.Outcome, rep.DurationSeconds)
			}
			return rep, err
		}}
	reports, stoppedIn, err := runner.Run(ctx)
	recorder.Close()
	lines.Stop()
	var whole *traffic.ProbeReport
	if prober != nil {
		snap := prober.Between(traffic.Mark{}, roundStart)
		whole = &snap
	}
	rep := rehearsal.New(workload.Ref(w), w.GetNamespace(), g.flags.OnBreach, rounds, reports, whole, stoppedIn, err)
	return rep, received(), err
}
