// Package cli wires the commands of kubectl safe-rollout: flags, target resolution
// and rendering. The engines live in rollout/ and verify/ and never see cobra.
package cli

import (
	"context"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // exec and OIDC kubeconfigs
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// BuildInfo is injected into main by the linker at release time.
type BuildInfo struct {
	Version, Commit, Date string
}

// NewRootCmd builds the command tree.
func NewRootCmd(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	build = build.resolved(debug.ReadBuildInfo())
	return newRootCmd(streams, build, Deps{Clients: newClient, Clock: clock.RealClock{}, Signals: processSignals{}})
}

// Deps are what every command's Run gets from outside: the client factory, the
// clock and the signals that stop a guard. Tests pass fakes.
type Deps struct {
	Clients clientFactory
	Clock   clock.WithTicker
	// Signals nil means the process's own.
	Signals signalSource
	// Colour is the global --color; nil is auto.
	Colour *colourMode
}

// newRootCmd is NewRootCmd with the given dependencies.
func newRootCmd(streams genericiooptions.IOStreams, build BuildInfo, deps Deps) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	userAgent := build.userAgent()
	configFlags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.UserAgent = userAgent
		return c
	}
	root := &cobra.Command{
		Use:   "safe-rollout",
		Short: "Restart and roll out Deployments, StatefulSets and DaemonSets without dropping traffic",
		Long: `kubectl safe-rollout checks a workload's termination contract (preflight),
then restarts it the way kubectl does while guarding the rollout: it watches
the workload's revisions, pods and EndpointSlices, records every old pod's drain
timeline and catches SIGKILLed pods and unclean exits.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl safe-rollout",
		},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetIn(streams.In)
	// Flag errors are bad input: exit 1 with one line, like every other error.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	configFlags.AddFlags(root.PersistentFlags())
	addDebugFlag(root)
	deps.Colour = addColourFlag(root)

	root.AddCommand(
		NewCmdPreflight(configFlags, streams, deps),
		NewCmdRestart(configFlags, streams, deps),
		NewCmdWatch(configFlags, streams, deps),
		NewCmdRehearse(configFlags, streams, deps),
		NewCmdVersion(streams, build),
	)
	registerCompletions(root, configFlags, deps.Clients)
	// No `completion` command: cobra's would register a command named
	// safe-rollout, which no shell has. kubectl (>= 1.26) completes plugins through
	// the kubectl_complete-safe_rollout script, which asks __complete.
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// options is the kubectl command pattern: Complete fills in from flags, args and
// kubeconfig; Validate rejects bad input before anything is read or changed; Run works.
type options interface {
	Complete(args []string) error
	Validate() error
	Run(ctx context.Context) error
}

func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// Execute runs the command tree and returns the process exit code.
func Execute(root *cobra.Command, streams genericiooptions.IOStreams) int {
	return exitCode(root.Execute(), streams.ErrOut)
}
