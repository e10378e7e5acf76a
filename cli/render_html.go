package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rehearsal"
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
	writeHTMLPage(errOut, path, "kubectl safe-rollout: "+strings.Join(names, ", "), rollouts)
}

// writeHTMLRehearsal writes a rehearsal's rounds to path (--html), one section
// per round, in order.
func writeHTMLRehearsal(errOut io.Writer, path string, r *rehearsal.Report) {
	if path == "" || len(r.Rounds) == 0 {
		return
	}
	rollouts := make([]*report.Rollout, 0, len(r.Rounds))
	for _, round := range r.Rounds {
		if round.Report != nil {
			rollouts = append(rollouts, round.Report)
		}
	}
	writeHTMLPage(errOut, path, fmt.Sprintf("kubectl safe-rollout rehearse %s: %d of %d rounds", r.Workload, len(r.Rounds), r.RoundsRequested), rollouts)
}

func writeHTMLPage(errOut io.Writer, path, title string, rollouts []*report.Rollout) {
	if err := writeHTMLFile(path, title, rollouts); err != nil {
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
