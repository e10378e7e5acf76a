//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// rehearsalReport is the part of rehearse -o json the tests assert on.
type rehearsalReport struct {
	Kind           string `json:"kind"`
	SchemaVersion  int    `json:"schemaVersion"`
	Outcome        string `json:"outcome"`
	StoppedInRound int    `json:"stoppedInRound"`
	Rounds         []struct {
		Round   int `json:"round"`
		Figures struct {
			Probe *struct {
				Requests int `json:"requests"`
				Errors   int `json:"errors"`
			} `json:"probe"`
		} `json:"figures"`
		Report struct {
			Outcome string `json:"outcome"`
		} `json:"report"`
	} `json:"rounds"`
	Overall struct {
		Probe *struct {
			Requests int `json:"requests"`
			Errors   int `json:"errors"`
		} `json:"probe"`
		OldPods      int `json:"oldPods"`
		UncleanExits int `json:"uncleanExits"`
	} `json:"overall"`
}

// The seed's repro lab as one command: three restarts of the naive app under
// probe traffic (before a fix: every round runs, its errors counted), then
// three of the contract app beside them (after): the before/after table shows
// fewer errors after.
func TestRehearseNaiveThenContract(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	// Short rounds: both replicas replaced at once, short drains.
	both := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(2)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
	}}
	l.deploy(t, ns, app{name: "naive", replicas: 2, grace: 5, strategy: both, args: []string{"--mode=naive"}})
	l.deploy(t, ns, app{name: "contract", replicas: 2, grace: 10, strategy: both, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s", "--shutdown-timeout=2s"}})
	naiveIP, contractIP := l.clusterIP(t, ns, "naive"), l.clusterIP(t, ns, "contract")
	l.waitAnswering(t, "http://"+naiveIP+"/")
	l.waitAnswering(t, "http://"+contractIP+"/")
	probe := []string{"--rounds=3", "--probe-new-connections", "--probe-rate=100", "--probe-identity-header=X-Served-By", "--probe-tail=1s", "--skip-preflight", "--progress=plain", "--timeout=2m"}

	before := l.run(t, append([]string{"-n", ns, "rehearse", "deploy/naive", "--probe", "http://" + naiveIP + "/", "--on-breach=none", "-o", "json"}, probe...)...)
	var b rehearsalReport
	if err := json.Unmarshal([]byte(before.stdout), &b); err != nil {
		t.Fatalf("before: stdout is not a rehearsal report: %v\n%s", err, before.stdout)
	}
	if before.code != 3 || b.Kind != "Rehearsal" || len(b.Rounds) != 3 || b.StoppedInRound != 0 {
		t.Fatalf("before: exit %d kind %q, %d rounds, stopped in round %d; want 3 (breaches reported), Rehearsal, 3 rounds run, none stopped\n%s",
			before.code, b.Kind, len(b.Rounds), b.StoppedInRound, before.stdout)
	}
	if b.Overall.Probe == nil || b.Overall.Probe.Errors == 0 || b.Overall.UncleanExits == 0 {
		t.Fatalf("before: overall %+v: want probe errors and unclean exits from the naive app", b.Overall)
	}
	sum := 0
	for _, r := range b.Rounds {
		if r.Figures.Probe == nil || r.Figures.Probe.Requests == 0 {
			t.Errorf("before: round %d has no probe traffic", r.Round)
			continue
		}
		sum += r.Figures.Probe.Requests
	}
	if sum != b.Overall.Probe.Requests {
		t.Errorf("before: rounds' requests add up to %d, overall says %d (one probe, windows splitting its traffic)", sum, b.Overall.Probe.Requests)
	}
	beforeFile := filepath.Join(t.TempDir(), "before.json")
	if err := os.WriteFile(beforeFile, []byte(before.stdout), 0o600); err != nil {
		t.Fatal(err)
	}

	after := l.run(t, append([]string{"-n", ns, "rehearse", "deploy/contract", "--probe", "http://" + contractIP + "/", "--compare", beforeFile}, probe...)...)
	t.Logf("after:\n%s", after.stdout)
	if after.code != 0 {
		t.Fatalf("after: exit %d, want 0 (the contract app drains)\n%s", after.code, after.stdout)
	}
	errorsRow := ""
	for _, line := range strings.Split(after.stdout, "\n") {
		// "errors N M CHANGE": the total comes before the rows by class.
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "errors" {
			errorsRow = line
			break
		}
	}
	fields := strings.Fields(errorsRow)
	if !strings.Contains(after.stdout, "FIGURE") || !strings.Contains(after.stdout, "BEFORE") || len(fields) < 4 {
		t.Fatalf("after: no before/after table with an errors row:\n%s", after.stdout)
	}
	var beforeErrors, afterErrors int
	if err := json.Unmarshal([]byte(fields[1]), &beforeErrors); err != nil {
		t.Fatalf("errors row %q: %v", errorsRow, err)
	}
	if err := json.Unmarshal([]byte(fields[2]), &afterErrors); err != nil {
		t.Fatalf("errors row %q: %v", errorsRow, err)
	}
	if beforeErrors != b.Overall.Probe.Errors || afterErrors >= beforeErrors || !strings.HasPrefix(fields[3], "-") {
		t.Errorf("errors row %q: want before = %d (before.json), fewer after, a negative change", errorsRow, b.Overall.Probe.Errors)
	}

	bad := l.run(t, "-n", ns, "rehearse", "deploy/contract", "--compare", "/dev/null")
	if bad.code != 1 || !strings.Contains(bad.stderr, "not a rehearsal report") || bad.stdout != "" {
		t.Errorf("--compare of a file that is no rehearsal: exit %d stdout %q stderr %q; want 1, one line, nothing changed", bad.code, bad.stdout, bad.stderr)
	}
}
