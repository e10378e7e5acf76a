package cli

// -o sarif: the preflight findings as a SARIF 2.1.0 log, which CI systems
// (GitHub code scanning, GitLab, Azure DevOps) show on the manifest's lines.

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

const (
	formatSARIF   = "sarif"
	sarifVersion  = "2.1.0"
	sarifSchema   = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifToolName = "kubectl-safe-rollout"
)

// checkDescriptions are the SARIF rules' short descriptions.
var checkDescriptions = map[string]string{
	verify.CheckUnknownFields:     "The manifest has fields its API version lacks: the API server drops them",
	verify.CheckReadinessProbe:    "A serving container needs a readinessProbe that can reflect draining",
	verify.CheckReadinessReaction: "Readiness must notice draining within the drain delay",
	verify.CheckReadinessLiveness: "livenessProbe must not fail when readiness fails for a drain",
	verify.CheckPreStopHook:       "preStop should trigger draining and end well before the grace period",
	verify.CheckGraceBudget:       "terminationGracePeriodSeconds must cover propagation, drain delay, the longest request and a margin",
	verify.CheckRolloutStrategy:   "The rollout strategy must keep serving pods while old ones drain",
	verify.CheckService:           "A Service must select the pods, so that draining can be observed",
	verify.CheckPaused:            "A paused workload does not roll out",
	verify.CheckRolloutInProgress: "Another rollout is in progress",
	verify.CheckPDB:               "A PodDisruptionBudget should cover the pods",
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string     `json:"id"`
	ShortDescription sarifText  `json:"shortDescription"`
	Help             *sarifText `json:"help,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
	// fix is the rule's help: the fix of the first result of the rule.
	fix string
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevel maps a finding's status; pass and skip are no results.
func sarifLevel(s verify.Status) string {
	switch s {
	case verify.StatusFail:
		return "error"
	case verify.StatusWarn:
		return "warning"
	}
	return ""
}

// renderSARIF renders the results of an object's findings that do not pass,
// located on the line of their field when the object came from -f (lines),
// else by the object's kind, namespace and name.
func renderSARIF(obj verify.ObjectReport, lines *manifestLines) renderedObject {
	r := renderedObject{verdict: obj.Verdict}
	doc, inFile := lines.find(obj.Kind, obj.Namespace, obj.Name)
	for _, c := range obj.Checks {
		level := sarifLevel(c.Status)
		if level == "" {
			continue
		}
		where := strings.ToLower(obj.Kind) + "/" + obj.Name + " in namespace " + obj.Namespace
		if c.Container != "" {
			where += ", container " + c.Container
		}
		res := sarifResult{RuleID: c.ID, Level: level, Message: sarifText{Text: where + ": " + c.Message}, fix: c.Fix}
		if inFile {
			res.Locations = []sarifLocation{{PhysicalLocation: &sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: sarifURI(doc.file)},
				Region:           sarifRegion{StartLine: doc.checkLine(c)},
			}}}
		} else {
			res.Locations = []sarifLocation{{LogicalLocations: []sarifLogicalLocation{{
				FullyQualifiedName: obj.Kind + "/" + obj.Namespace + "/" + obj.Name, Kind: "resource",
			}}}}
		}
		r.sarif = append(r.sarif, res)
	}
	return r
}

// sarifURI is a file's path relative to the current directory, with slashes.
func sarifURI(file string) string {
	if wd, err := os.Getwd(); err == nil {
		if abs, err := filepath.Abs(file); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.ToSlash(file)
}

// newSARIFLog is the log of the results, one run, the rules the results use
// in the order they first appear.
func newSARIFLog(results []sarifResult) sarifLog {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: sarifToolName, InformationURI: "https://github.com/safe-rollout/kubectl-safe-rollout", Rules: []sarifRule{}}}, Results: []sarifResult{}}
	seen := map[string]bool{}
	for _, res := range results {
		run.Results = append(run.Results, res)
		if seen[res.RuleID] {
			continue
		}
		seen[res.RuleID] = true
		rule := sarifRule{ID: res.RuleID, ShortDescription: sarifText{Text: checkDescriptions[res.RuleID]}}
		if rule.ShortDescription.Text == "" {
			rule.ShortDescription.Text = res.RuleID
		}
		if res.fix != "" {
			rule.Help = &sarifText{Text: res.fix}
		}
		run.Driver().Rules = append(run.Driver().Rules, rule)
	}
	return sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
}

// Driver is the run's tool driver.
func (r *sarifRun) Driver() *sarifDriver { return &r.Tool.Driver }

func (rw *reportWriter) writeSARIF(w io.Writer) error {
	return writeJSON(w, newSARIFLog(rw.sarif))
}
