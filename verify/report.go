package verify

// Status is the outcome of one check.
type Status string

const (
	StatusPass Status = "pass"
	StatusSkip Status = "skip"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

func (s Status) severity() int {
	switch s {
	case StatusWarn:
		return 1
	case StatusFail:
		return 2
	default: // pass and skip do not make a verdict worse
		return 0
	}
}

// Worse reports whether s is worse than other.
func (s Status) Worse(other Status) bool { return s.severity() > other.severity() }

// Compare orders statuses by severity: negative when s is less severe than
// other, zero when as severe (pass and skip), positive when more.
func (s Status) Compare(other Status) int { return s.severity() - other.severity() }

// Check is one finding about a workload's termination contract.
type Check struct {
	ID        string `json:"id"`
	Status    Status `json:"status"`
	Container string `json:"container,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
	// The figures of the message, in seconds, for scripts: the grace-budget
	// check's terminationGracePeriodSeconds, the budget it needs and the value
	// it recommends (when it does not pass); readiness-reaction's worst case.
	GraceSeconds            *int64 `json:"graceSeconds,omitempty"`
	BudgetSeconds           *int64 `json:"budgetSeconds,omitempty"`
	RecommendedGraceSeconds *int64 `json:"recommendedGraceSeconds,omitempty"`
	ReactionSeconds         *int64 `json:"reactionSeconds,omitempty"`
}

// ObjectReport holds the checks of one object (Kind: Deployment, StatefulSet or
// DaemonSet); its verdict is its worst check.
type ObjectReport struct {
	Kind      string  `json:"kind"`
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Verdict   Status  `json:"verdict"`
	Checks    []Check `json:"checks"`
	// Source is where the object came from with -f; nil for a live object.
	Source *ObjectSource `json:"source,omitempty"`
}

// ObjectSource is the file an object came from and the line its document
// starts at (its first key), counted from 1.
type ObjectSource struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// PreflightSchemaVersion is the version of the preflight report's shape. The
// report had no version until 2; versions only add fields.
const PreflightSchemaVersion = 2

// PreflightInputs are the budget inputs a report was checked with, in
// seconds, before any per-workload annotation; Stated lists those given as
// flags (the others are defaults).
type PreflightInputs struct {
	EndpointPropagationSeconds float64  `json:"endpointPropagationSeconds"`
	DrainDelaySeconds          float64  `json:"drainDelaySeconds"`
	MaxRequestSeconds          float64  `json:"maxRequestSeconds"`
	SafetyMarginSeconds        float64  `json:"safetyMarginSeconds"`
	Stated                     []string `json:"stated,omitempty"`
}

// PreflightSummary counts the workloads by verdict and the findings (checks)
// by status.
type PreflightSummary struct {
	Workloads map[Status]int `json:"workloads"`
	Findings  map[Status]int `json:"findings"`
}

// NewPreflightSummary is an empty count: every status present, at zero.
func NewPreflightSummary() *PreflightSummary {
	s := &PreflightSummary{Workloads: map[Status]int{}, Findings: map[Status]int{}}
	for _, st := range []Status{StatusPass, StatusWarn, StatusFail} {
		s.Workloads[st] = 0
	}
	for _, st := range []Status{StatusPass, StatusSkip, StatusWarn, StatusFail} {
		s.Findings[st] = 0
	}
	return s
}

// Add counts an object, whose verdict is judged.
func (s *PreflightSummary) Add(o ObjectReport) {
	s.Workloads[o.Verdict]++
	for _, c := range o.Checks {
		s.Findings[c.Status]++
	}
}

// PreflightReport is the result of a preflight run; its verdict is its worst object's.
type PreflightReport struct {
	// SchemaVersion is PreflightSchemaVersion in the reports preflight writes.
	SchemaVersion int            `json:"schemaVersion,omitempty"`
	Verdict       Status         `json:"verdict"`
	Objects       []ObjectReport `json:"objects"`
	// Skipped lists the objects of the manifests that were not checked, and why:
	// what is not checked must be said.
	Skipped []SkippedObject `json:"skipped,omitempty"`
	// Strict is set when --strict judged the report: warnings made it fail.
	Strict bool `json:"strict,omitempty"`
	// Inputs are the budget inputs used.
	Inputs *PreflightInputs `json:"inputs,omitempty"`
	// Summary counts the workloads and the findings.
	Summary *PreflightSummary `json:"summary,omitempty"`
}

// SkippedObject is a manifest object preflight did not check or use.
type SkippedObject struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	// Source is the file (or URL, or "STDIN") the object came from.
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// NewPreflightReport computes the verdicts of the given objects and of the whole report.
func NewPreflightReport(objects []ObjectReport) PreflightReport {
	r := PreflightReport{Verdict: StatusPass, Objects: objects}
	for i := range r.Objects {
		o := &r.Objects[i]
		o.Judge(false)
		if o.Verdict.Worse(r.Verdict) {
			r.Verdict = o.Verdict
		}
	}
	return r
}

// Judge sets the object's verdict to its worst check's status; strict turns a
// warning verdict into a failure, as AsStrict does. It serves a report written
// object by object: the report's verdict is the worst object verdict.
func (o *ObjectReport) Judge(strict bool) {
	o.Verdict = StatusPass
	for _, c := range o.Checks {
		if c.Status.Worse(o.Verdict) {
			o.Verdict = c.Status
		}
	}
	if strict && o.Verdict == StatusWarn {
		o.Verdict = StatusFail
	}
}

// AsStrict returns the report as --strict judges it: warnings fail, so the verdicts
// printed and the exit code agree. The checks keep their own statuses.
func (r PreflightReport) AsStrict() PreflightReport {
	out := r
	out.Objects = make([]ObjectReport, len(r.Objects))
	for i, o := range r.Objects {
		if o.Verdict == StatusWarn {
			o.Verdict = StatusFail
		}
		out.Objects[i] = o
	}
	if out.Verdict == StatusWarn {
		out.Verdict = StatusFail
	}
	out.Strict = true
	return out
}

// Failed tells whether the report should stop a rollout; strict turns warnings into failures.
func (r PreflightReport) Failed(strict bool) bool {
	return r.Verdict == StatusFail || (strict && r.Verdict == StatusWarn)
}
