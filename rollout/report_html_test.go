package rollout

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

var updateHTML = flag.Bool("update-html", false, "rewrite testdata/*.html.golden")

// seriesProbe is a fake probe that also reports its traffic per second, as
// traffic.Prober does.
type seriesProbe struct {
	*fakeProbe
	series []traffic.SecondStat
}

func (p *seriesProbe) Series() []traffic.SecondStat { return p.series }

// The HTML page of a guarded rollout: web-aaa-2 drains by the contract,
// web-aaa-1 ignores SIGTERM and is SIGKILLed at its grace deadline; with
// --on-breach=none the guard records the breach and sees the rollout through.
func TestGuardReportHTML(t *testing.T) {
	c, d := inProgress(t)
	probe := &seriesProbe{fakeProbe: newFakeProbe()}
	for s := range 40 {
		stat := traffic.SecondStat{Start: rollouttest.At(float64(s)), Requests: 20, LatencyP95Ms: 2.1}
		if s >= 36 && s <= 37 { // the SIGKILL cuts the connections it served
			stat.Errors, stat.LatencyP95Ms = 5, 480
		}
		probe.series = append(probe.series, stat)
	}
	g := c.guard(breachBudgets(), 0)
	g.OnBreach = policy.ActionNone
	g.Probe = probe
	done := c.run(g, context.Background(), d, nil)
	c.log.waitFor(t, status("1 of 2 new pods updated"))

	c.step(time.Second) // +1 s: the new pod becomes ready, web-aaa-2 drains
	c.UpdatePod("web-bbb-1", func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	})
	c.DeletePodGracefully("web-aaa-2", 30)
	c.log.waitFor(t, progress.PodDeleted{Pod: "web-aaa-2", Grace: 30 * time.Second})
	c.step(time.Second) // +2 s
	c.SetSlice(rollouttest.EP("web-aaa-1", true, true, false), rollouttest.EP("web-aaa-2", false, false, true))
	c.log.waitUntil(t, "web-aaa-2 not serving", podEvent[progress.EndpointNotServing]("web-aaa-2"))
	c.step(2 * time.Second) // +4 s
	c.SetSlice(rollouttest.EP("web-aaa-1", true, true, false))
	c.log.waitUntil(t, "web-aaa-2's endpoint removed", podEvent[progress.EndpointRemoved]("web-aaa-2"))
	c.TerminateContainer("web-aaa-2", 0, "Completed")
	c.log.waitUntil(t, "web-aaa-2's exit", podEvent[progress.ContainerExited]("web-aaa-2"))
	c.step(time.Second) // +5 s
	c.RemovePod("web-aaa-2")
	c.log.waitUntil(t, "web-aaa-2 gone", podEvent[progress.PodGone]("web-aaa-2"))

	c.sigkill("web-aaa-1") // deleted at +6 s, SIGKILLed at +36 s
	c.log.waitUntil(t, "web-aaa-1's exit", podEvent[progress.ContainerExited]("web-aaa-1"))
	c.step(time.Second) // +37 s
	c.SetSlice()
	c.RemovePod("web-aaa-1")
	c.log.waitUntil(t, "web-aaa-1 gone", podEvent[progress.PodGone]("web-aaa-1"))
	c.completeRollout()
	r := c.result(done)
	if r.Outcome != report.OutcomeFailed || len(r.Breaches) != 1 || r.Summary.SIGKILLs != 1 {
		t.Fatalf("outcome %s (%s), %d breaches, %d SIGKILLs: want failed on one SIGKILL", r.Outcome, r.Message, len(r.Breaches), r.Summary.SIGKILLs)
	}

	var out bytes.Buffer
	if err := report.WriteHTML(&out, "kubectl safe-rollout: deployment/web", r); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{`data-pod="web-aaa-1" data-exit="sigkill"`, `data-pod="web-aaa-2" data-exit="clean"`, ">sigkill 137<", "new pods ready 1/1", `class="breach"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://", "<link"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("page is not self-contained: it has %q", banned)
		}
	}
	path := filepath.Join("testdata", "sigkill.html.golden")
	if *updateHTML {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./rollout/ -run TestGuardReportHTML -update-html writes it)", err)
	}
	if page != string(want) {
		t.Errorf("page differs from %s (go test ./rollout/ -run TestGuardReportHTML -update-html if intended; open it in a browser)", path)
	}
}
