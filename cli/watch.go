package cli

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
)

const watchExample = `  # Guard the rollout started by kubectl apply, helm upgrade or kubectl set image
  kubectl set image deploy/web app=web:v2 && kubectl safe-rollout watch deploy/web

  # In a release script: JSON report, give up after 10 minutes
  kubectl safe-rollout watch deploy/web -o json --timeout 10m

  # A DaemonSet's new release, rolled back on a breach
  kubectl apply -f agent.yaml && kubectl safe-rollout watch ds/agent --on-breach=rollback`

// WatchOptions holds the watch command's inputs.
type WatchOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Targets     TargetOptions
	Budget      BudgetFlags
	Guard       GuardFlags

	Deps
	args []string
	genericiooptions.IOStreams
}

func NewWatchOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *WatchOptions {
	return &WatchOptions{ConfigFlags: configFlags, Budget: NewBudgetFlags(), Guard: NewGuardFlags(policy.ActionAuto), Deps: deps, IOStreams: streams}
}

// NewCmdWatch guards a rollout that is already in progress.
func NewCmdWatch(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *cobra.Command {
	o := NewWatchOptions(configFlags, streams, deps)
	cmd := &cobra.Command{
		Use:     "watch (TYPE/NAME | TYPE NAME | -l SELECTOR)",
		Short:   "Guard a rollout already in progress, without starting one",
		Example: watchExample,
		RunE:    runE(o),
	}
	o.Targets.AddFlags(cmd, true)
	o.Budget.AddFlags(cmd.Flags())
	o.Guard.AddFlags(cmd.Flags(), onBreachHelp())
	addOutputFlag(cmd, &o.Guard.Output)
	return cmd
}

func (o *WatchOptions) Complete(args []string) error {
	o.args = args
	return o.Targets.Complete(o.ConfigFlags)
}

func (o *WatchOptions) Validate() error {
	if err := o.Budget.Validate(); err != nil {
		return err
	}
	if err := o.Guard.Validate(); err != nil {
		return err
	}
	return o.Targets.Validate(o.args)
}

func (o *WatchOptions) Run(ctx context.Context) error {
	all, _, err := resolveWorkloads(&o.Targets, o.args)
	if err != nil {
		return err
	}
	for _, w := range all {
		if err := o.Guard.checkTimeoutCoversGrace(w); err != nil {
			return err
		}
	}
	client, err := o.Clients(o.ConfigFlags, 0)
	if err != nil {
		return err
	}
	g := &guardRun{flags: o.Guard, budget: o.Budget, client: client, clock: o.Clock, signals: o.Signals, colour: o.Colour, preflightSkipped: true}
	if len(all) == 1 {
		return g.run(ctx, o.IOStreams, all[0], nil)
	}
	return g.runStep(ctx, o.IOStreams, all, nil)
}
