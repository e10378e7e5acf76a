package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// scale: the plugin guards a rollout of many replicas on kwok's nodes, some
// exiting 0 after a drain, some SIGKILLed at the grace deadline (--on-breach
// none: it watches to the end). Peak RSS, CPU, changes handled per second,
// whether every exit was classified as the pod's status said, and event lag.
func (b *bench) scale(ctx context.Context, replicas int) error {
	w := workload{name: "fleet", namespace: "bench-scale", replicas: int32(replicas), grace: 3, simulated: true,
		cleanWeight: 9, sigkillWeight: 1, preStop: true}
	start := time.Now()
	o, err := b.setUp(ctx, w)
	if err != nil {
		return err
	}
	defer o.stop()
	b.figure("scale.setup", time.Since(start).Seconds(), "s")
	o.mu.Lock()
	oldPods := map[string]string{} // UID -> name
	for uid, p := range o.pods {
		oldPods[uid] = p.Name
	}
	o.mu.Unlock()

	traceFile := filepath.Join(b.home, "trace.jsonl")
	m, err := b.runMeasured(ctx, b.plugin, "-n", w.namespace, "restart", "deploy/"+w.name, "--skip-preflight",
		"--on-breach=none", "--progress=none", "-o", "json", "--timeout=10m", "--debug-trace", traceFile)
	if err != nil {
		return err
	}
	if m.code != 0 && m.code != 3 { // 3: SIGKILLs over the budget, reported, not acted on
		return fmt.Errorf("plugin restart: exit %d: %s", m.code, lastLine(m.stderr))
	}
	if err := o.waitSettled(ctx, w.name, 5*time.Minute); err != nil {
		return err
	}
	b.figure("scale.replicas", float64(replicas), "")
	b.figure("scale.plugin.wall", m.wall.Seconds(), "s")
	b.figure("scale.plugin.cpu", m.cpu.Seconds(), "s")
	b.figure("scale.plugin.peak_rss", m.peakRSSMiB, "MiB")

	// every old pod's exit, classified as its status said
	var report struct {
		Pods []struct {
			Name     string `json:"name"`
			ExitCode *int32 `json:"exitCode"`
			Exit     string `json:"exit"`
		} `json:"pods"`
	}
	if err := json.Unmarshal(m.stdout, &report); err != nil {
		return fmt.Errorf("plugin report: %w", err)
	}
	reported := map[string]string{} // name -> exit class
	codes := map[string]*int32{}
	for _, p := range report.Pods {
		reported[p.Name], codes[p.Name] = p.Exit, p.ExitCode
	}
	o.mu.Lock()
	var classified, missing, mismatched, sigkills, clean int
	for uid, name := range oldPods {
		want, ok := o.exits[uid]
		class, seen := reported[name]
		switch {
		case !seen || class == "" || class == "unknown" || class == "unobserved":
			missing++
		case !ok || codes[name] == nil || *codes[name] != want:
			mismatched++
		default:
			classified++
			if want == 137 {
				sigkills++
			} else {
				clean++
			}
		}
	}
	o.mu.Unlock()
	b.figure("scale.old_pods", float64(len(oldPods)), "pods")
	b.figure("scale.exits_classified", float64(classified), "pods")
	b.figure("scale.exits_classified.exit0", float64(clean), "pods")
	b.figure("scale.exits_classified.exit137", float64(sigkills), "pods")
	b.figure("scale.exits_unclassified", float64(missing), "pods")
	b.figure("scale.exits_with_wrong_code", float64(mismatched), "pods")

	if err := b.eventLag(traceFile, o, m); err != nil {
		return err
	}
	// teardown: kwok plays every pod's termination; nothing may stay behind
	start = time.Now()
	if err := b.deleteNamespace(ctx, w.namespace); err != nil {
		return err
	}
	b.figure("scale.teardown", time.Since(start).Seconds(), "s")
	return nil
}

// eventLag joins the plugin's trace (when it handled each change) with the
// pod versions kwok wrote (when kwok wrote them, to the nanosecond).
func (b *bench) eventLag(traceFile string, o *observed, m measured) error {
	raw, err := os.ReadFile(traceFile)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	var handled, first, last time.Time
	var lags []time.Duration
	changes := 0
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var c struct {
			Resource        string    `json:"resource"`
			ResourceVersion string    `json:"resourceVersion"`
			HandledAt       time.Time `json:"handledAt"`
		}
		if err := json.Unmarshal(line, &c); err != nil {
			return fmt.Errorf("trace line %q: %w", line, err)
		}
		changes++
		handled = c.HandledAt
		if first.IsZero() {
			first = handled
		}
		last = handled
		// versions written before the plugin started come in its initial list: not lag
		if stamp, ok := o.stamps[c.ResourceVersion]; ok && c.Resource == "pods" && stamp.After(m.start) {
			lags = append(lags, handled.Sub(stamp))
		}
	}
	b.figure("scale.changes_handled", float64(changes), "changes")
	if d := last.Sub(first).Seconds(); d > 0 {
		b.figure("scale.changes_per_second", float64(changes)/d, "changes/s")
	}
	if d := m.wall.Seconds(); d > 0 {
		b.figure("scale.changes_per_second.whole_run", float64(changes)/d, "changes/s")
	}
	b.distribution("scale.event_lag.plugin", millis(lags), "ms")
	b.distribution("scale.event_lag.bench_watcher", millis(o.ownLag), "ms")
	return nil
}
