// Package cli wires the commands of kubectl safe-rollout: flags, target resolution
// and rendering. The engines live in rollout/ and verify/ and never see cobra.
package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // exec and OIDC kubeconfigs
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// BuildInfo is injected into main by the linker at release time.
type BuildInfo struct {
	Version, Commit, Date string
}

// NewRootCmd builds the command tree.
func NewRootCmd(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	silenceClientGoLogs()
	build = build.resolved(debug.ReadBuildInfo())
	return newRootCmd(streams, build, Deps{Clients: newClient, Clock: clock.RealClock{}, Signals: processSignals{}})
}

// silenceClientGoLogs drops what client-go logs through klog: the lines
// discovery prints when the API server cannot be reached ("memcache.go:265]
// couldn't get current server API group list") would come before, and repeat,
// the one error line the command prints. klog is process-wide: this is the
// command wiring's choice, made once for the process by NewRootCmd.
func silenceClientGoLogs() {
	klog.SetLogger(logr.Discard())
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
		// The API server's Warning headers (deprecations, PodSecurity) on stderr, as
		// kubectl prints them: client-go's default logs them through klog, which is silenced.
		c.WarningHandler = rest.NewWarningWriter(streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
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
		return withLocalHint(cmd, o.Run(cmd.Context()))
	}
}

// withLocalHint adds to an unreachable cluster's error, for a command given
// manifests (-f) that can check them without one (--local), how to do so.
func withLocalHint(cmd *cobra.Command, err error) error {
	files, local := cmd.Flags().Lookup("filename"), cmd.Flags().Lookup("local")
	if err == nil || files == nil || !files.Changed || local == nil || local.Changed || !unreachable(err) {
		return err
	}
	return fmt.Errorf("%w (to check the manifests without a cluster, add --local)", err)
}

// unreachable tells whether err says the API server could not be reached:
// refused, unresolvable, timed out.
func unreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	// Discovery errors keep only the message of the error they report.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "network is unreachable")
}

// Execute runs the command tree and returns the process exit code.
func Execute(root *cobra.Command, streams genericiooptions.IOStreams) int {
	return exitCode(root.Execute(), streams.ErrOut)
}
