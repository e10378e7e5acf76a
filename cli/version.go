package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdVersion prints the plugin's build information.
func NewCmdVersion(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl safe-rollout version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(streams.Out, "kubectl safe-rollout %s\ncommit: %s\nbuilt: %s\ngo: %s\nclient-go: %s\n",
				orUnknown(build.Version), orUnknown(build.Commit), orUnknown(build.Date), runtime.Version(), clientGoVersion())
			return nil
		},
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func clientGoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/client-go" {
			return dep.Version
		}
	}
	return "unknown"
}
