package verify

import (
	"encoding/json"
	"testing"
)

func obj(name string, statuses ...Status) ObjectReport {
	o := ObjectReport{Kind: "Deployment", Namespace: "ns", Name: name}
	for _, s := range statuses {
		o.Checks = append(o.Checks, Check{ID: "x", Status: s, Message: "m"})
	}
	return o
}

func TestNewPreflightReportVerdicts(t *testing.T) {
	tests := []struct {
		name        string
		objects     []ObjectReport
		wantObjects []Status
		want        Status
	}{
		{"no objects", nil, nil, StatusPass},
		{"object without checks", []ObjectReport{obj("a")}, []Status{StatusPass}, StatusPass},
		{"all pass", []ObjectReport{obj("a", StatusPass, StatusPass)}, []Status{StatusPass}, StatusPass},
		{"skips do not count", []ObjectReport{obj("a", StatusSkip, StatusSkip)}, []Status{StatusPass}, StatusPass},
		{"a warning", []ObjectReport{obj("a", StatusPass, StatusWarn, StatusSkip)}, []Status{StatusWarn}, StatusWarn},
		{"fail beats warn, in any order", []ObjectReport{obj("a", StatusFail, StatusWarn, StatusPass)}, []Status{StatusFail}, StatusFail},
		{"warn after fail does not lower it", []ObjectReport{obj("a", StatusWarn, StatusFail, StatusWarn)}, []Status{StatusFail}, StatusFail},
		{"worst object wins", []ObjectReport{obj("a", StatusPass), obj("b", StatusFail), obj("c", StatusWarn)},
			[]Status{StatusPass, StatusFail, StatusWarn}, StatusFail},
		{"warn object among passing ones", []ObjectReport{obj("a", StatusPass), obj("b", StatusSkip, StatusWarn)},
			[]Status{StatusPass, StatusWarn}, StatusWarn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPreflightReport(tc.objects)
			if r.Verdict != tc.want {
				t.Errorf("verdict = %q, want %q", r.Verdict, tc.want)
			}
			if len(r.Objects) != len(tc.wantObjects) {
				t.Fatalf("%d objects, want %d", len(r.Objects), len(tc.wantObjects))
			}
			for i, o := range r.Objects {
				if o.Verdict != tc.wantObjects[i] {
					t.Errorf("object %s verdict = %q, want %q", o.Name, o.Verdict, tc.wantObjects[i])
				}
			}
		})
	}
}

func TestNewPreflightReportRecomputesStaleVerdicts(t *testing.T) {
	o := obj("a", StatusPass)
	o.Verdict = StatusFail
	if r := NewPreflightReport([]ObjectReport{o}); r.Verdict != StatusPass || r.Objects[0].Verdict != StatusPass {
		t.Errorf("stale verdict kept: %+v", r)
	}
}

func TestReportFailed(t *testing.T) {
	for _, tc := range []struct {
		verdict            Status
		loose, strictFails bool
	}{
		{StatusPass, false, false},
		{StatusSkip, false, false},
		{StatusWarn, false, true},
		{StatusFail, true, true},
	} {
		r := PreflightReport{Verdict: tc.verdict}
		if got := r.Failed(false); got != tc.loose {
			t.Errorf("%s: Failed(false) = %v, want %v", tc.verdict, got, tc.loose)
		}
		if got := r.Failed(true); got != tc.strictFails {
			t.Errorf("%s: Failed(true) = %v, want %v", tc.verdict, got, tc.strictFails)
		}
	}
}

func TestStatusWorse(t *testing.T) {
	order := []Status{StatusPass, StatusWarn, StatusFail}
	for i, a := range order {
		for j, b := range order {
			if got := a.Worse(b); got != (i > j) {
				t.Errorf("%s.Worse(%s) = %v, want %v", a, b, got, i > j)
			}
		}
	}
	if StatusSkip.Worse(StatusPass) || StatusPass.Worse(StatusSkip) {
		t.Error("skip and pass must weigh the same")
	}
}

// The JSON shape is a contract with scripts: field names and omitted empties.
func TestReportJSON(t *testing.T) {
	r := NewPreflightReport([]ObjectReport{{Kind: "Deployment", Namespace: "ns", Name: "web", Checks: []Check{
		{ID: CheckReadinessProbe, Status: StatusFail, Container: "app", Message: "no readinessProbe", Fix: "add one"},
		{ID: CheckPaused, Status: StatusPass, Message: "not paused"},
	}}})
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"verdict":"fail","objects":[{"kind":"Deployment","namespace":"ns","name":"web","verdict":"fail","checks":[` +
		`{"id":"readiness-probe","status":"fail","container":"app","message":"no readinessProbe","fix":"add one"},` +
		`{"id":"paused","status":"pass","message":"not paused"}]}]}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}

// --strict: the verdicts printed agree with the exit code.
func TestAsStrict(t *testing.T) {
	r := NewPreflightReport([]ObjectReport{obj("a", StatusPass), obj("b", StatusWarn), obj("c", StatusSkip)})
	s := r.AsStrict()
	if s.Verdict != StatusFail || !s.Strict || s.Objects[0].Verdict != StatusPass || s.Objects[1].Verdict != StatusFail {
		t.Errorf("AsStrict = %+v", s)
	}
	if s.Objects[1].Checks[0].Status != StatusWarn {
		t.Error("AsStrict changed a check's status")
	}
	if r.Verdict != StatusWarn || r.Objects[1].Verdict != StatusWarn || r.Strict {
		t.Errorf("AsStrict modified its receiver: %+v", r)
	}
	if p := NewPreflightReport([]ObjectReport{obj("a", StatusPass)}).AsStrict(); p.Verdict != StatusPass || p.Failed(true) {
		t.Errorf("a passing report under --strict = %+v", p)
	}
}

func TestReportJSONSkipped(t *testing.T) {
	r := NewPreflightReport(nil)
	r.Skipped = []SkippedObject{{Kind: "Deployment", APIVersion: "apps/v1beta2", Name: "web", Namespace: "ns", Source: "a.yaml", Reason: "removed"}}
	got, err := json.Marshal(r.AsStrict())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"verdict":"pass","objects":[],"skipped":[{"kind":"Deployment","apiVersion":"apps/v1beta2","name":"web","namespace":"ns","source":"a.yaml","reason":"removed"}],"strict":true}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}
