package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/actions"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

const restartExample = `  # Check the contract, restart deploy/web and guard the rollout
  kubectl safe-rollout restart deploy/web

  # The same for a release script: JSON report on stdout, plain progress on stderr
  kubectl safe-rollout restart deploy/web -o json --progress=plain --timeout 10m

  # A StatefulSet rolls one ordinal at a time; a breach stops it with its partition
  kubectl safe-rollout restart sts/db

  # Restart although preflight fails (the report says so)
  kubectl safe-rollout restart deployment web --skip-preflight

  # Show what would be sent, change nothing
  kubectl safe-rollout restart deploy/web --dry-run=server`

// guardedRestart is what restart and rehearse share: both resolve workloads,
// preflight them and restart them under a guard.
type guardedRestart struct {
	ConfigFlags   *genericclioptions.ConfigFlags
	Targets       TargetOptions
	Budget        BudgetFlags
	Guard         GuardFlags
	SkipPreflight bool

	Deps
	args []string
	genericiooptions.IOStreams
}

func newGuardedRestart(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) guardedRestart {
	return guardedRestart{ConfigFlags: configFlags, Budget: NewBudgetFlags(), Guard: NewGuardFlags(policy.ActionPause), Deps: deps, IOStreams: streams}
}

// start checks --timeout against every workload's grace period, connects and
// preflights them all (unless --skip-preflight): when it fails nothing has
// changed.
func (o *guardedRestart) start(ctx context.Context, targets *Targets, all []workload.Workload) (*guardRun, error) {
	for _, w := range all {
		if err := o.Guard.checkTimeoutCoversGrace(w); err != nil {
			return nil, err
		}
	}
	client, err := o.Clients(o.ConfigFlags, 0)
	if err != nil {
		return nil, err
	}
	g := &guardRun{flags: o.Guard, budget: o.Budget, client: client, clock: o.Clock, signals: o.Signals, colour: o.Colour, preflightSkipped: o.SkipPreflight}
	if err := g.beforeRestart(ctx, o.IOStreams, targets, all); err != nil {
		return nil, err
	}
	return g, nil
}

// RestartOptions holds the restart command's inputs.
type RestartOptions struct {
	guardedRestart
	DryRun string
}

func NewRestartOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *RestartOptions {
	return &RestartOptions{guardedRestart: newGuardedRestart(configFlags, streams, deps), DryRun: string(actions.DryRunNone)}
}

// NewCmdRestart restarts a Deployment as `kubectl rollout restart` does and guards the rollout.
func NewCmdRestart(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *cobra.Command {
	o := NewRestartOptions(configFlags, streams, deps)
	cmd := &cobra.Command{
		Use:     "restart (TYPE/NAME | TYPE NAME | -l SELECTOR)",
		Short:   "Restart a Deployment, StatefulSet or DaemonSet and guard the rollout",
		Long:    "Runs preflight, restarts the workload exactly as `kubectl rollout restart` does, then guards the rollout until the new pods are available and every old pod is gone, recording each old pod's drain. A breach pauses a Deployment, stops a StatefulSet with its partition and a DaemonSet with updateStrategy OnDelete (the report prints the command that undoes it), or rolls back.",
		Example: restartExample,
		RunE:    runE(o),
	}
	o.Targets.AddFlags(cmd, true)
	o.Budget.AddFlags(cmd.Flags())
	o.Guard.AddFlags(cmd.Flags(), onBreachHelp())
	addOutputFlag(cmd, &o.Guard.Output)
	cmd.Flags().BoolVar(&o.SkipPreflight, "skip-preflight", false, "Restart even if preflight fails (the report says so)")
	cmd.Flags().StringVar(&o.DryRun, "dry-run", o.DryRun, `Must be "none", "server", or "client": client and server only show the change`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = string(actions.DryRunClient)
	return cmd
}

func (o *RestartOptions) Complete(args []string) error {
	o.args = args
	return o.Targets.Complete(o.ConfigFlags)
}

func (o *RestartOptions) Validate() error {
	switch actions.DryRun(o.DryRun) {
	case actions.DryRunNone, actions.DryRunClient, actions.DryRunServer:
	default:
		return fmt.Errorf(`invalid --dry-run %q: must be "none", "server", or "client"`, o.DryRun)
	}
	if err := o.Budget.Validate(); err != nil {
		return err
	}
	if err := o.Guard.Validate(); err != nil {
		return err
	}
	if set := o.Guard.guarding(); len(set) > 0 && actions.DryRun(o.DryRun) != actions.DryRunNone {
		verb := "do not apply"
		if len(set) == 1 {
			verb = "does not apply"
		}
		return fmt.Errorf("--dry-run only shows the restart, nothing is guarded: %s %s", strings.Join(set, ", "), verb)
	}
	return o.Targets.Validate(o.args)
}

func (o *RestartOptions) Run(ctx context.Context) error {
	all, targets, err := resolveWorkloads(&o.Targets, o.args)
	if err != nil {
		return err
	}
	g, err := o.start(ctx, targets, all)
	if err != nil {
		return err
	}
	if dry := actions.DryRun(o.DryRun); dry != actions.DryRunNone {
		for _, w := range all {
			if _, err := actions.RestartWorkload(ctx, g.client, w, g.clock.Now(), dry); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "%s.apps/%s restarted (%s dry run)\n", strings.ToLower(w.Kind()), w.GetName(), dry)
		}
		return nil
	}
	trigger := func(w workload.Workload) rollout.Trigger {
		return func(ctx context.Context) (workload.Workload, error) {
			return actions.RestartWorkload(ctx, g.client, w, g.clock.Now(), actions.DryRunNone)
		}
	}
	if len(all) == 1 {
		return g.run(ctx, o.IOStreams, all[0], trigger(all[0]))
	}
	return g.runStep(ctx, o.IOStreams, all, trigger)
}

// beforeRestart preflights every workload before the first restart (unless
// --skip-preflight): a failed preflight, or a paused Deployment, changes
// nothing at all. It notes the verdict for the reports.
func (g *guardRun) beforeRestart(ctx context.Context, o genericiooptions.IOStreams, targets *Targets, all []workload.Workload) error {
	if !g.preflightSkipped {
		report, err := runPreflight(ctx, g.client, targets, StatedBudget(g.budget.GraceBudget, g.flags.flags))
		if err != nil {
			return err
		}
		g.preflightVerdict = string(report.Verdict)
		if report.Failed(g.flags.Strict) {
			if err := printPreflight(o.Out, report, g.flags.Output, g.colour.on(o.Out)); err != nil {
				return err
			}
			return withCode(ExitPreflightFailed, fmt.Errorf("preflight failed for %s: nothing was changed (fix the findings, or use --skip-preflight)", refs(all)))
		}
		warnPreflight(o.ErrOut, report)
	}
	for _, w := range all {
		if d, ok := w.(workload.Deployment); ok && d.Spec.Paused {
			return fmt.Errorf("%s: %w", workload.Ref(w), actions.ErrPaused)
		}
	}
	return nil
}

// resolveWorkloads resolves the live workloads a command guards, in order.
func resolveWorkloads(t *TargetOptions, args []string) ([]workload.Workload, *Targets, error) {
	targets, err := t.Resolve(args)
	if err != nil {
		return nil, nil, err
	}
	out := make([]workload.Workload, 0, len(targets.Workloads))
	for _, vw := range targets.Workloads {
		w, err := workload.For(vw.Object)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, w)
	}
	return out, targets, nil
}

// refs names workloads in a message: "deployment/web, statefulset/db".
func refs(ws []workload.Workload) string {
	names := make([]string, 0, len(ws))
	for _, w := range ws {
		names = append(names, workload.Ref(w))
	}
	return strings.Join(names, ", ")
}

// warnPreflight lists preflight warnings on stderr; they do not stop a restart.
func warnPreflight(w io.Writer, r verify.PreflightReport) {
	for _, obj := range r.Objects {
		for _, c := range obj.Checks {
			if c.Status != verify.StatusWarn {
				continue
			}
			where := c.ID
			if c.Container != "" {
				where += " (" + c.Container + ")"
			}
			if len(r.Objects) > 1 { // a release step: say whose
				where = strings.ToLower(obj.Kind) + "/" + obj.Name + " " + where
			}
			fmt.Fprintf(w, "Warning: preflight %s: %s\n", where, c.Message)
		}
	}
}
