package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// latency: from a pod status with exit 137 stored to the pause stored, both as an
// independent watcher saw them, over many breaches; beside it what kubectl
// rollout status does with the same breach, and a 60 s analysis interval.
func (b *bench) latency(ctx context.Context, simulated, real int) error {
	sim := workload{name: "lat", namespace: "bench-latency", replicas: 1, grace: 1, simulated: true, sigkillWeight: 1}
	samples, failed, err := b.breaches(ctx, sim, simulated, func(o *observed) error {
		// kubectl rollout status on the same breach: it reports, never acts.
		o.mu.Lock()
		before := len(o.kills)
		o.mu.Unlock()
		if m, err := b.kubectlRun(ctx, "-n", sim.namespace, "rollout", "restart", "deploy/"+sim.name); err != nil || m.code != 0 {
			return fmt.Errorf("kubectl rollout restart: exit %d %v %s", m.code, err, m.stderr)
		}
		m, err := b.kubectlRun(ctx, "-n", sim.namespace, "rollout", "status", "deploy/"+sim.name, "--timeout=2m")
		if err != nil {
			return err
		}
		if err := o.waitSettled(ctx, sim.name, 2*time.Minute); err != nil {
			return err
		}
		o.mu.Lock()
		kills := len(o.kills) - before
		o.mu.Unlock()
		b.figure("latency.kubectl_rollout_status.exit_code", float64(m.code), "")
		b.figure("latency.kubectl_rollout_status.sigkilled_pods_unacted", float64(kills), "pods")
		return nil
	})
	if err != nil {
		return err
	}
	b.distribution("latency.kwok.exit137_to_pause", millis(samples), "ms")
	b.figure("latency.kwok.runs_without_a_measurement", float64(failed), "runs")

	realApp := workload{name: "lat", namespace: "bench-latency-real", replicas: 1, grace: 2, args: []string{"--mode=ignore-sigterm"}}
	samples, failed, err = b.breaches(ctx, realApp, real, nil)
	if err != nil {
		return err
	}
	b.distribution("latency.kubelet.exit137_to_pause", millis(samples), "ms")
	b.figure("latency.kubelet.runs_without_a_measurement", float64(failed), "runs")

	// An analysis run every 60 s finds the breach after a wait spread evenly over
	// the interval, then acts like anyone else: computed, not measured.
	for _, p := range []float64{50, 95, 99, 100} {
		name := "latency.analysis_60s.p" + formatValue(p)
		if p == 100 {
			name = "latency.analysis_60s.max"
		}
		b.figure(name, p/100*60000, "ms")
	}
	return nil
}

// breaches restarts w n times; each time its one old pod is SIGKILLed at the
// grace deadline and the plugin pauses the rollout. It returns the latencies,
// the runs that measured nothing and, after them, runs extra on the same
// workload (nil: nothing).
func (b *bench) breaches(ctx context.Context, w workload, n int, extra func(*observed) error) ([]time.Duration, int, error) {
	if err := b.createNamespace(ctx, w.namespace); err != nil {
		return nil, 0, err
	}
	o, err := b.watch(ctx, w.namespace)
	if err != nil {
		return nil, 0, err
	}
	defer o.stop()
	if err := b.create(ctx, w); err != nil {
		return nil, 0, err
	}
	if err := o.waitSettled(ctx, w.name, 2*time.Minute); err != nil {
		return nil, 0, err
	}
	var samples []time.Duration
	failed := 0
	for i := range n {
		o.mu.Lock()
		before := len(o.kills)
		o.mu.Unlock()
		m, err := b.runMeasured(ctx, b.plugin, "-n", w.namespace, "restart", "deploy/"+w.name,
			"--on-breach=pause", "--skip-preflight", "--progress=none", "-o", "json")
		if err != nil {
			return nil, 0, err
		}
		err = o.waitFor(ctx, 10*time.Second, "the SIGKILL and the pause seen", func() bool {
			_, paused := o.pausedAt[w.name]
			return paused && len(o.kills) > before
		})
		if m.code != 3 || err != nil {
			b.logf("%s run %d: plugin exit %d (want 3), %v: %s", w.namespace, i+1, m.code, err, lastLine(m.stderr))
			failed++
		} else {
			o.mu.Lock()
			samples = append(samples, o.pausedAt[w.name].Sub(o.kills[before].at))
			o.mu.Unlock()
		}
		if _, err := b.client.AppsV1().Deployments(w.namespace).Patch(ctx, w.name, types.MergePatchType,
			[]byte(`{"spec":{"paused":false}}`), metav1.PatchOptions{}); err != nil {
			return nil, 0, err
		}
		if err := o.waitSettled(ctx, w.name, 2*time.Minute); err != nil {
			return nil, 0, err
		}
	}
	if extra != nil {
		if err := extra(o); err != nil {
			return nil, 0, err
		}
	}
	return samples, failed, b.deleteNamespace(ctx, w.namespace)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}
