//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// labPrometheus is the lab's own Prometheus (lab/up.sh), scraping every pod
// annotated prometheus.io/scrape every 2 s.
const labPrometheus = "http://127.0.0.1:9099"

// load sends GET requests to url at about rate per second until the test
// ends: the traffic whose status codes the drain-app counts in /metrics.
func load(t *testing.T, url string, rate int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	client := &http.Client{Timeout: 2 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if resp, err := client.Get(url); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
}

// fiveXXRate is the 5xx rate of the drain-app's work requests in namespace ns.
func fiveXXRate(ns string) string {
	return `sum(rate(drainapp_http_requests_total{namespace="` + ns + `",code=~"5.."}[10s])) or vector(0)`
}

// A release answering half its requests with 500s, rolled slowly
// (minReadySeconds), breaches a 5xx-rate query read from a real Prometheus and
// is rolled back; the contract app's rollout stays at 0 and succeeds; a
// Prometheus cut off mid-rollout is reported and never blocks the guard.
func TestPrometheusQuery(t *testing.T) {
	t.Parallel() // waits on the cluster, asserts nothing timing-sensitive
	l := newLab(t)
	slow := func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 10 }

	t.Run("5xx release rolled back", func(t *testing.T) {
		ns := l.namespace(t)
		l.deploy(t, ns, app{name: "web", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}, mutate: slow})
		ip := l.clusterIP(t, ns, "web")
		l.waitAnswering(t, "http://"+ip+"/")
		load(t, "http://"+ip+"/", 50)
		good := "--mode=contract --drain-delay=2s"
		l.patchArgs(t, ns, "web", "--mode=contract", "--drain-delay=2s", "--error-rate=0.5") // the bad release, rolling
		r := l.run(t, "-n", ns, "watch", "deploy/web", "--on-breach=rollback", "--prometheus-url", labPrometheus,
			"--prometheus-query", fiveXXRate(ns), "--max-query-value=0", "--prometheus-interval=2s", "-o", "json", "--progress=plain", "--timeout=3m")
		rep := decodeReport(t, r)
		if r.code != 4 || rep.Outcome != "rolled-back" || len(rep.Breaches) == 0 || rep.Breaches[0].Budget != "prometheus" {
			t.Fatalf("exit %d outcome %q breaches %+v: want 4, rolled back on the query\n%s", r.code, rep.Outcome, rep.Breaches, r.stderr)
		}
		if args, _ := l.containerArgs(t, ns, "web"); args != good {
			t.Errorf("template args %q after the rollback, want the good release %q", args, good)
		}
	})

	t.Run("contract app stays at 0", func(t *testing.T) {
		ns := l.namespace(t)
		l.deploy(t, ns, app{name: "web", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}})
		ip := l.clusterIP(t, ns, "web")
		l.waitAnswering(t, "http://"+ip+"/")
		load(t, "http://"+ip+"/", 50)
		r := l.run(t, "-n", ns, "restart", "deploy/web", "--on-breach=rollback", "--prometheus-url", labPrometheus,
			"--prometheus-query", fiveXXRate(ns), "--max-query-value=0", "--prometheus-interval=2s", "-o", "json", "--progress=plain", "--timeout=3m")
		rep := decodeReport(t, r)
		if r.code != 0 || rep.Outcome != "succeeded" || strings.Contains(r.stderr, "warning: "+fiveXXRate(ns)) {
			t.Errorf("exit %d outcome %q: want 0, succeeded, and every query answered\n%s", r.code, rep.Outcome, r.stderr)
		}
	})

	t.Run("Prometheus cut off mid-rollout", func(t *testing.T) {
		ns := l.namespace(t)
		l.deploy(t, ns, app{name: "web", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s"}})
		proxy := newCutProxy(t, strings.TrimPrefix(labPrometheus, "http://"))
		guard := l.start(t, "-n", ns, "restart", "deploy/web", "--on-breach=rollback", "--prometheus-url", "http://"+proxy.ln.Addr().String(),
			"--prometheus-query", fiveXXRate(ns), "--max-query-value=0", "--prometheus-interval=1s", "-o", "json", "--progress=plain", "--timeout=3m")
		guard.waitStderr(t, "deletion requested")
		proxy.Cut()
		r := <-guard.done
		rep := decodeReport(t, r)
		if r.code != 0 || rep.Outcome != "succeeded" || !strings.Contains(r.stderr, "warning: "+fiveXXRate(ns)) {
			t.Errorf("exit %d outcome %q: want 0 and succeeded, with the failed queries as warnings\n%s", r.code, rep.Outcome, r.stderr)
		}
	})
}
