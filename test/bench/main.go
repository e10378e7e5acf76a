// Command bench measures the plugin on the lab (make bench): detection-to-action
// latency, API requests by client, a 500-replica rollout on kwok's simulated
// nodes, and start-up time. It prints one "name: value unit" line per figure.
//
//	go run ./test/bench -plugin bin/kubectl-safe_rollout -lab .lab [-parts latency,apicost,scale,startup]
//
// It needs the lab up (make lab-up) and kwok's fake nodes (lab/kwok.sh .lab up 8);
// scripts/bench.sh does all of that.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds what every part needs.
type bench struct {
	client     kubernetes.Interface
	plugin     string // the plugin binary
	kubectl    string // the lab's kubectl
	kubeconfig string
	auditLog   string
	home       string // HOME for every client run: one warm discovery cache for all
	out        io.Writer
	progress   io.Writer
}

func run() error {
	plugin := flag.String("plugin", "bin/kubectl-safe_rollout", "the plugin binary")
	lab := flag.String("lab", ".lab", "the lab directory")
	parts := flag.String("parts", "startup,latency,apicost,scale", "parts to run, comma-separated")
	breaches := flag.Int("breaches", 50, "breaches on simulated pods for the latency figures")
	realBreaches := flag.Int("real-breaches", 5, "breaches on the real kubelet for the latency figures")
	scaleReplicas := flag.Int("scale-replicas", 500, "replicas of the scale run")
	renderFrom := flag.String("render", "", "rewrite the generated part of -doc from this figures file, and do nothing else")
	doc := flag.String("doc", "docs/performance.md", "the document -render rewrites")
	flag.Parse()
	if *renderFrom != "" {
		return render(*renderFrom, *doc)
	}

	labDir, err := filepath.Abs(*lab)
	if err != nil {
		return err
	}
	pluginPath, err := filepath.Abs(*plugin)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(labDir, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("lab kubeconfig: %w (make lab-up first)", err)
	}
	cfg.UserAgent = benchUserAgent
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	home, err := os.MkdirTemp("", "safe-rollout-bench-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	b := &bench{
		client: client, plugin: pluginPath, kubectl: filepath.Join(labDir, "bin", "kubectl"), kubeconfig: kubeconfig,
		auditLog: filepath.Join(labDir, "logs", "audit.log"), home: home, out: os.Stdout, progress: os.Stderr,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, part := range strings.Split(*parts, ",") {
		start := time.Now()
		b.logf("== %s", part)
		switch part {
		case "startup":
			err = b.startup(ctx)
		case "latency":
			err = b.latency(ctx, *breaches, *realBreaches)
		case "apicost":
			err = b.apiCost(ctx)
		case "scale":
			err = b.scale(ctx, *scaleReplicas)
		default:
			err = fmt.Errorf("unknown part %q", part)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", part, err)
		}
		b.figure("bench."+part+".wall", time.Since(start).Seconds(), "s")
	}
	return nil
}

// benchUserAgent tells the bench's own requests apart in the audit log.
const benchUserAgent = "safe-rollout-bench"

func (b *bench) figure(name string, value float64, unit string) {
	fmt.Fprintf(b.out, "%s: %s %s\n", name, formatValue(value), unit)
}

func (b *bench) text(name, value string) {
	fmt.Fprintf(b.out, "%s: %s\n", name, value)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
