package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
)

// writeHTMLReport writes the rollouts' picture to path (--html), one section
// per rollout. A failure is a warning: the report on stdout and the exit code
// still tell what happened.
func writeHTMLReport(errOut io.Writer, path string, rollouts ...*report.Rollout) {
	if path == "" || len(rollouts) == 0 {
		return
	}
	names := make([]string, 0, len(rollouts))
	for _, r := range rollouts {
		names = append(names, r.Workload())
	}
	if err := writeHTMLFile(path, "kubectl safe-rollout: "+strings.Join(names, ", "), rollouts); err != nil {
		fmt.Fprintf(errOut, "warning: --html %s: %v\n", path, err)
	}
}

func writeHTMLFile(path, title string, rollouts []*report.Rollout) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WriteHTML(f, title, rollouts...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
