// Command kubectl-safe_rollout is the kubectl plugin `kubectl safe-rollout`.
package main

import (
	"os"

	"github.com/safe-rollout/kubectl-safe-rollout/cli"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Set by the linker (-X main.version=...), as GoReleaser does by default.
var version, commit, date string

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := cli.NewRootCmd(streams, cli.BuildInfo{Version: version, Commit: commit, Date: date})
	os.Exit(cli.Execute(root, streams))
}
