package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/step"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// printStep prints a release step's report: JSON or YAML as a whole; text as
// a section per workload, then the workloads not started and the step's outcome.
func printStep(w io.Writer, r *step.Report, format string, colour bool) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "yaml":
		return writeYAML(w, r)
	}
	for _, wr := range r.Workloads {
		if _, err := fmt.Fprintf(w, "== %s (%s)\n", wr.Workload(), wr.Outcome); err != nil {
			return err
		}
		if err := printRollout(w, wr, format, colour); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "== %s/%s: %s\n", strings.ToLower(s.Kind), s.Name, s.Reason)
	}
	_, err := fmt.Fprintf(w, "Step: %s, %s guarded, %d not started\n", r.Outcome, verify.Count(len(r.Workloads), "workload", "workloads"), len(r.Skipped))
	return err
}

func printRollout(w io.Writer, r *report.Rollout, format string, colour bool) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "yaml":
		return writeYAML(w, r)
	}
	if r.Outcome == report.OutcomeNoRollout {
		_, err := fmt.Fprintf(w, "%s: no rollout in progress\n", strings.Replace(r.Workload(), "/", ".apps/", 1))
		return err
	}
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, "POD\tNOT-READY\tNOT-SERVING\tENDPOINT-REMOVED\tEXITED\tEXIT\tREASON\tGRACE\tVERDICT")
	for _, p := range r.Pods {
		code := "-"
		if p.ExitCode != nil {
			code = fmt.Sprint(*p.ExitCode)
		}
		reason := p.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%gs\t%s\n", p.Name, secs(p.SecondsToNotReady), secs(p.SecondsToNotServing),
			secs(p.SecondsToEndpointRemoval), secs(p.TerminationSeconds), code, reason, p.GraceSeconds, paintVerdict(p.Verdict, colour))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printTimeline(w, r)
	status := verify.StatusPass
	if r.Outcome != report.OutcomeSucceeded {
		status = verify.StatusFail
	}
	fmt.Fprintf(w, "\nOutcome: %s after %.1fs (%s)\n", paint(string(r.Outcome), status, colour), r.DurationSeconds, r.Message)
	if r.FromRevision != "" || r.ToRevision != "" {
		fmt.Fprintf(w, "Revision: %s -> %s\n", orUnknown(r.FromRevision), orUnknown(r.ToRevision))
	}
	if r.PreflightSkipped && r.Triggered {
		fmt.Fprintln(w, "Preflight: skipped (--skip-preflight)")
	} else if r.PreflightVerdict != "" {
		fmt.Fprintf(w, "Preflight: %s\n", r.PreflightVerdict)
	}
	s := r.Summary
	fmt.Fprintf(w, "Old pods: %d, gone %d: %d clean, %d SIGKILLed, %d OOMKilled, %d died without draining, %d exited before not serving\n",
		s.OldPods, s.Gone, s.Clean, s.SIGKILLs, s.OOMKills, s.UncleanExits, s.ExitedBeforeNotServing)
	if s.CleanSignalExits+s.Evicted+s.ExitedBeforeDeletion > 0 {
		fmt.Fprintf(w, "  also: %d clean signal exits after draining (counted clean), %d evicted (not the rollout's), %d exited before their deletion\n",
			s.CleanSignalExits, s.Evicted, s.ExitedBeforeDeletion)
	}
	if r.Propagation.Samples > 0 {
		fmt.Fprintf(w, "Propagation (deletion to endpoint not ready): p50 %.3fs, p95 %.3fs, max %.3fs over %s\n",
			*r.Propagation.P50, *r.Propagation.P95, *r.Propagation.Max, verify.Count(r.Propagation.Samples, "pod", "pods"))
	}
	if dp := r.DataPlanePropagation; dp != nil {
		if dp.Samples > 0 {
			fmt.Fprintf(w, "Data-plane propagation (endpoint not ready to the last request on a new connection): p50 %.3fs, p95 %.3fs, max %.3fs over %s\n",
				*dp.P50, *dp.P95, *dp.Max, verify.Count(dp.Samples, "pod", "pods"))
		} else {
			fmt.Fprintln(w, "Data-plane propagation: no old pod served a request on a new connection after its endpoint went not ready")
		}
	}
	if r.RecommendedGraceSeconds != nil {
		source := ""
		if r.RecommendationPropagation != "" {
			source = "; propagation " + r.RecommendationPropagation
		}
		fmt.Fprintf(w, "Recommended terminationGracePeriodSeconds: %d (%s%s)\n", *r.RecommendedGraceSeconds, r.RecommendationFormula, source)
	}
	if p := r.Probe; p != nil {
		fmt.Fprintf(w, "Probe: %d requests, %d errors%s, latency p50 %.1fms p95 %.1fms p99 %.1fms\n",
			p.Requests, p.Errors, describeClasses(p.ErrorsByClass), p.LatencyMs.P50, p.LatencyMs.P95, p.LatencyMs.P99)
		if st := p.Streams; st != nil {
			fmt.Fprintf(w, "  Watch streams: %d opened, %d ended clean, %d ended abrupt\n", st.Opened, st.EndedClean, st.EndedAbrupt)
			if st.Unimplemented > 0 {
				fmt.Fprintf(w, "  %s refused with UNIMPLEMENTED: the target's health service has no Watch, so no stream was held there\n", verify.Count(st.Unimplemented, "Watch stream", "Watch streams"))
			}
		}
		for _, a := range p.Attribution {
			fmt.Fprintf(w, "  %s while %s was terminating\n", verify.Count(a.Errors, "error", "errors"), a.Pod)
		}
		if p.UnattributedErrors > 0 {
			fmt.Fprintf(w, "  %s while no old pod was terminating\n", verify.Count(p.UnattributedErrors, "error", "errors"))
		}
		for _, pod := range r.Pods {
			if line := describeDataPlane(pod); line != "" {
				fmt.Fprintf(w, "  %s: %s\n", pod.Name, line)
			}
		}
	}
	for _, g := range r.WatchGaps {
		to := "never resumed"
		if g.To != nil {
			to = fmt.Sprintf("resumed after %.1fs", g.To.Sub(g.From).Seconds())
		}
		fmt.Fprintf(w, "Watch gap: %s from %s, %s (%s); exits meanwhile are reported as seen after it, or unobserved\n",
			g.Resource, g.From.Format("15:04:05.000"), to, g.Error)
	}
	for _, v := range r.Revisions {
		followed := "not guarded"
		if v.Followed {
			followed = "followed"
		}
		fmt.Fprintf(w, "New revision: %s (generation %d) by someone else at %s: %s\n", v.Revision, v.Generation, v.At.Format("15:04:05.000"), followed)
	}
	for _, b := range r.Breaches {
		latency := ""
		if b.ActionLatencySeconds != nil && b.Action != "none" {
			latency = fmt.Sprintf(" %.3fs after detection", *b.ActionLatencySeconds)
		}
		fmt.Fprintf(w, "Breach: %s: %s -> %s%s\n", b.Budget, b.Message, b.Action, latency)
	}
	if r.Outcome == report.OutcomeInterrupted {
		fmt.Fprintf(w, "The rollout continues in the cluster: kubectl rollout status deployment/%s -n %s\n", r.Deployment, r.Namespace)
	}
	return nil
}

// describeDataPlane says what the identity header told about one old pod:
// its data-plane propagation and its late requests; "" when nothing is known.
func describeDataPlane(p report.PodReport) string {
	var parts []string
	switch {
	case p.DataPlanePropagationSeconds != nil:
		parts = append(parts, fmt.Sprintf("last new connection %.3fs after not ready (%d samples)", *p.DataPlanePropagationSeconds, *p.DataPlaneSamples))
	case p.DataPlaneSamples != nil:
		parts = append(parts, "no request on a new connection after not ready (0 samples)")
	}
	switch {
	case p.LateRequests != nil:
		parts = append(parts, fmt.Sprintf("%d late requests after not serving (%d failed)", *p.LateRequests, p.LateRequestsFailed))
	case p.LateRequestsFailed > 0:
		parts = append(parts, fmt.Sprintf("%d failed requests after not serving", p.LateRequestsFailed))
	}
	if p.StreamsOpened+p.StreamsEndedClean+p.StreamsEndedAbrupt > 0 {
		parts = append(parts, fmt.Sprintf("streams %d opened, %d clean, %d abrupt", p.StreamsOpened, p.StreamsEndedClean, p.StreamsEndedAbrupt))
	}
	return strings.Join(parts, "; ")
}

func describeClasses(byClass map[string]int) string {
	if len(byClass) == 0 {
		return ""
	}
	keys := make([]string, 0, len(byClass))
	for k := range byClass {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, byClass[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func secs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}

func paintVerdict(v string, colour bool) string {
	switch v {
	case report.VerdictOK:
		return paint(v, verify.StatusPass, colour)
	case report.VerdictNoDrain, report.VerdictStillPresent, report.VerdictNotTerminated:
		return paint(v, verify.StatusWarn, colour)
	}
	return paint(v, verify.StatusFail, colour)
}
