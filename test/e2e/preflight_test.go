//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPreflightLiveDeployment(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "web", grace: 30, preStop: true, args: []string{"--mode=contract"}})

	r := l.run(t, "-n", ns, "preflight", "deploy/web", "-o", "json")
	var rep struct {
		Verdict string `json:"verdict"`
		Objects []struct {
			Checks []struct{ ID, Status, Message string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if r.code != 0 || rep.Verdict == "fail" || len(rep.Objects) != 1 {
		t.Fatalf("exit %d verdict %q, want 0 and pass/warn", r.code, rep.Verdict)
	}
	status := map[string]string{}
	for _, c := range rep.Objects[0].Checks {
		status[c.ID] = c.Status
		if c.ID == "service" && !strings.Contains(c.Message, "3 of 3") {
			t.Errorf("service check %q: want the EndpointSlices to list 3 of 3 pods", c.Message)
		}
	}
	for id, want := range map[string]string{"service": "pass", "paused": "pass", "rollout-in-progress": "pass", "pdb": "warn", "grace-budget": "pass", "prestop-hook": "pass"} {
		if status[id] != want {
			t.Errorf("check %s = %q, want %q", id, status[id], want)
		}
	}

	bad := l.run(t, "-n", ns, "preflight", "svc/web")
	if bad.code != 1 || !strings.HasPrefix(bad.stderr, "error: ") || strings.Count(bad.stderr, "\n") != 1 || bad.stdout != "" {
		t.Errorf("svc/web: exit %d stderr %q stdout %q, want exit 1 and one error line", bad.code, bad.stderr, bad.stdout)
	}
	missing := l.run(t, "-n", ns, "preflight", "deploy/nope")
	if missing.code != 1 || !strings.Contains(missing.stderr, "not found") {
		t.Errorf("deploy/nope: exit %d stderr %q, want exit 1 not found", missing.code, missing.stderr)
	}
}
