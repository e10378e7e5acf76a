package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	pluginAgent  = "kubectl-safe_rollout/"
	kubectlAgent = "kubectl/"
)

// apiCost: the requests each client makes for one restart watched to the end,
// at 3, 30 and 100 replicas, counted from the API server's audit log.
func (b *bench) apiCost(ctx context.Context) error {
	for _, n := range []int32{3, 30, 100} {
		if err := b.apiCostAt(ctx, n); err != nil {
			return fmt.Errorf("%d replicas: %w", n, err)
		}
	}
	return b.eventsCost(ctx)
}

func (b *bench) apiCostAt(ctx context.Context, n int32) error {
	w := workload{name: "web", namespace: fmt.Sprintf("bench-api-%d", n), replicas: n, grace: 30, simulated: true, cleanWeight: 1, preStop: true}
	prefix := fmt.Sprintf("r%d", n)
	o, err := b.setUp(ctx, w)
	if err != nil {
		return err
	}
	defer o.stop()
	// a warm discovery cache (HOME is shared) for every client: as on a user's machine
	if m, err := b.runMeasured(ctx, b.plugin, "-n", w.namespace, "preflight", "deploy/"+w.name); err != nil || m.code > 2 {
		return fmt.Errorf("plugin preflight: exit %d %v: %s", m.code, err, lastLine(m.stderr))
	}

	// the plugin: preflight, restart, guard until every old pod is gone; then
	// the guard alone, without preflight's one-time reads
	for _, run := range []struct {
		client string
		flags  []string
	}{{"plugin", nil}, {"guard", []string{"--skip-preflight"}}} {
		args := append([]string{"-n", w.namespace, "restart", "deploy/" + w.name, "--progress=none", "-o", "json"}, run.flags...)
		m, err := b.runMeasured(ctx, b.plugin, args...)
		if err != nil || m.code != 0 {
			return fmt.Errorf("plugin %v: exit %d %v: %s", args, m.code, err, lastLine(m.stderr))
		}
		if err := b.countRequests("apicost."+run.client+"."+prefix, pluginAgent, m.start, m.finish); err != nil {
			return err
		}
		b.figure("apicost."+run.client+"."+prefix+".wall", m.wall.Seconds(), "s")
		if err := o.waitSettled(ctx, w.name, 3*time.Minute); err != nil {
			return err
		}
	}

	// kubectl rollout restart + kubectl rollout status
	start := time.Now()
	for _, args := range [][]string{{"rollout", "restart"}, {"rollout", "status"}} {
		if m, err := b.kubectlRun(ctx, append([]string{"-n", w.namespace}, append(args, "deploy/"+w.name)...)...); err != nil || m.code != 0 {
			return fmt.Errorf("kubectl %v: exit %d %v %s", args, m.code, err, m.stderr)
		}
	}
	finish := time.Now()
	if err := b.countRequests("apicost.kubectl."+prefix, kubectlAgent, start, finish); err != nil {
		return err
	}
	b.figure("apicost.kubectl."+prefix+".wall", finish.Sub(start).Seconds(), "s")
	if err := o.waitSettled(ctx, w.name, 3*time.Minute); err != nil {
		return err
	}

	// kubectl rollout restart, then a script polling pods and EndpointSlices every second
	start = time.Now()
	if m, err := b.kubectlRun(ctx, "-n", w.namespace, "rollout", "restart", "deploy/"+w.name); err != nil || m.code != 0 {
		return fmt.Errorf("kubectl rollout restart: exit %d %v %s", m.code, err, m.stderr)
	}
	for {
		if m, err := b.kubectlRun(ctx, "-n", w.namespace, "get", "pods,endpointslices", "-o", "name"); err != nil || m.code != 0 {
			return fmt.Errorf("kubectl get: exit %d %v %s", m.code, err, m.stderr)
		}
		o.mu.Lock()
		done := o.settled(w.name)
		o.mu.Unlock()
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	finish = time.Now()
	if err := b.countRequests("apicost.polling."+prefix, kubectlAgent, start, finish); err != nil {
		return err
	}
	b.figure("apicost.polling."+prefix+".wall", finish.Sub(start).Seconds(), "s")
	return b.deleteNamespace(ctx, w.namespace)
}

// setUp creates w in a fresh namespace, watched, and waits until it is complete.
func (b *bench) setUp(ctx context.Context, w workload) (*observed, error) {
	if err := b.createNamespace(ctx, w.namespace); err != nil {
		return nil, err
	}
	o, err := b.watch(ctx, w.namespace)
	if err != nil {
		return nil, err
	}
	if err := b.create(ctx, w); err != nil {
		o.stop()
		return nil, err
	}
	if err := o.waitSettled(ctx, w.name, 5*time.Minute); err != nil {
		o.stop()
		return nil, err
	}
	return o, nil
}

func (b *bench) countRequests(prefix, agent string, from, to time.Time) error {
	counts, err := b.requests(agent, from, to)
	if err != nil {
		return err
	}
	b.figure(prefix+".total", float64(total(counts)), "requests")
	verbs := byVerb(counts)
	for _, v := range []string{"get", "list", "watch", "create", "patch", "update"} {
		b.figure(prefix+"."+v, float64(verbs[v]), "requests")
	}
	var detail []string
	for _, k := range sortedKeys(counts) {
		detail = append(detail, fmt.Sprintf("%s=%d", strings.ReplaceAll(k, " ", ":"), counts[k]))
	}
	b.text(prefix+".detail", strings.Join(detail, " "))
	return nil
}

// eventsCost: the guard watches the namespace's pod Events; what 1,000
// unrelated ones cost it, at 30 replicas.
func (b *bench) eventsCost(ctx context.Context) error {
	w := workload{name: "web", namespace: "bench-api-events", replicas: 30, grace: 30, simulated: true, cleanWeight: 1, preStop: true}
	o, err := b.setUp(ctx, w)
	if err != nil {
		return err
	}
	defer o.stop()
	for _, events := range []int{0, 1000} {
		for i := range events {
			e := &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%04d", i), Namespace: w.namespace},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: w.namespace, Name: fmt.Sprintf("batch-job-%04d", i), UID: "00000000-0000-0000-0000-000000000000"},
				Reason:         "Pulled", Message: "Successfully pulled image \"registry.example/batch:1.0\" in 1.2s. Image size: 123456789 bytes.",
				Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "kubelet", Host: "node-1"},
				FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
			}
			if _, err := b.client.CoreV1().Events(w.namespace).Create(ctx, e, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		raw, err := b.client.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/"+w.namespace+"/events").
			Param("fieldSelector", "involvedObject.kind=Pod").DoRaw(ctx)
		if err != nil {
			return err
		}
		prefix := fmt.Sprintf("apicost.events%d", events)
		b.figure(prefix+".pod_events_list", float64(len(raw))/1024, "KiB")
		m, err := b.runMeasured(ctx, b.plugin, "-n", w.namespace, "restart", "deploy/"+w.name, "--progress=none", "-o", "json")
		if err != nil || m.code != 0 {
			return fmt.Errorf("plugin restart: exit %d %v: %s", m.code, err, lastLine(m.stderr))
		}
		b.figure(prefix+".plugin.peak_rss", m.peakRSSMiB, "MiB")
		b.figure(prefix+".plugin.cpu", m.cpu.Seconds(), "s")
		if err := o.waitSettled(ctx, w.name, 3*time.Minute); err != nil {
			return err
		}
	}
	return b.deleteNamespace(ctx, w.namespace)
}
