package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// sarifShape is what SARIF 2.1.0 requires of a log and what CI systems read.
type sarifShape struct {
	Schema  *string `json:"$schema"`
	Version string
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string
				Rules []struct {
					ID               string
					ShortDescription struct{ Text string }
					Help             *struct{ Text string }
				}
			}
		}
		Results []struct {
			RuleID    string
			Level     string
			Message   struct{ Text *string }
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct{ URI string }
					Region           struct{ StartLine int }
				}
				LogicalLocations []struct{ FullyQualifiedName, Kind string }
			}
		}
	}
}

// checkSARIFShape checks the properties the SARIF 2.1.0 specification
// requires and those CI systems need to place a finding.
func checkSARIFShape(t *testing.T, out string, physical bool) sarifShape {
	t.Helper()
	var log sarifShape
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if log.Version != "2.1.0" || log.Schema == nil || !strings.Contains(*log.Schema, "sarif-2.1.0") {
		t.Errorf("version %q, $schema %v", log.Version, log.Schema)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "kubectl-safe-rollout" {
		t.Errorf("tool.driver.name = %q", run.Tool.Driver.Name)
	}
	rules := map[string]bool{}
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "" || r.ShortDescription.Text == "" {
			t.Errorf("rule without id or description: %+v", r)
		}
		rules[r.ID] = true
	}
	if len(run.Results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range run.Results {
		if !rules[res.RuleID] {
			t.Errorf("result of rule %q, which the driver does not list", res.RuleID)
		}
		if res.Level != "error" && res.Level != "warning" && res.Level != "note" {
			t.Errorf("%s: level %q", res.RuleID, res.Level)
		}
		if res.Message.Text == nil || *res.Message.Text == "" {
			t.Errorf("%s: no message.text", res.RuleID)
		}
		if len(res.Locations) != 1 {
			t.Fatalf("%s: %d locations", res.RuleID, len(res.Locations))
		}
		loc := res.Locations[0]
		switch {
		case physical && (loc.PhysicalLocation == nil || loc.PhysicalLocation.ArtifactLocation.URI == "" || loc.PhysicalLocation.Region.StartLine < 1):
			t.Errorf("%s: physical location %+v", res.RuleID, loc.PhysicalLocation)
		case !physical && (loc.PhysicalLocation != nil || len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName == ""):
			t.Errorf("%s: logical location %+v", res.RuleID, loc)
		}
	}
	return log
}

// -f input: the file relative to the current directory and the field's line.
func TestPreflightSARIFFromFiles(t *testing.T) {
	r := runCmd(t, "preflight", "--local", "-f", td+"mistakes.yaml", "-o", "sarif")
	if r.code != ExitPreflightFailed || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	log := checkSARIFShape(t, r.stdout, true)
	found := false
	for _, res := range log.Runs[0].Results {
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != "testdata/preflight/mistakes.yaml" {
			t.Errorf("%s: uri %q", res.RuleID, loc.ArtifactLocation.URI)
		}
		// endless-sleep's grace period: the line of its terminationGracePeriodSeconds.
		if res.RuleID == "grace-budget" && strings.Contains(*res.Message.Text, "endless-sleep") {
			found = true
			if loc.Region.StartLine != lineOf(t, td+"mistakes.yaml", "terminationGracePeriodSeconds: 20") {
				t.Errorf("endless-sleep grace-budget at line %d", loc.Region.StartLine)
			}
		}
	}
	if !found {
		t.Errorf("no grace-budget result for endless-sleep:\n%s", r.stdout)
	}
}

// Live objects have no file: a logical location names them.
func TestPreflightSARIFLive(t *testing.T) {
	s := newLabServer(t)
	r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "deploy/web", "-o", "sarif")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	log := checkSARIFShape(t, r.stdout, false)
	if got := log.Runs[0].Results[0].Locations[0].LogicalLocations[0].FullyQualifiedName; got != "Deployment/default/web" {
		t.Errorf("logical location %q", got)
	}
}

// lineOf is the line of the first line of file that contains s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%s lacks %q", file, s)
	return 0
}
