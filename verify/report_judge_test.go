package verify

import "testing"

// Judge gives an object the verdict NewPreflightReport, and with strict
// AsStrict, would give it.
func TestObjectReportJudge(t *testing.T) {
	tests := []struct {
		name   string
		checks []Status
		strict bool
		want   Status
	}{
		{"no checks", nil, false, StatusPass},
		{"skips do not count", []Status{StatusSkip, StatusPass}, false, StatusPass},
		{"a warning", []Status{StatusPass, StatusWarn}, false, StatusWarn},
		{"strict: a warning fails", []Status{StatusPass, StatusWarn}, true, StatusFail},
		{"strict: passing stays passing", []Status{StatusPass, StatusSkip}, true, StatusPass},
		{"fail beats warn", []Status{StatusWarn, StatusFail, StatusWarn}, false, StatusFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := obj("a", tc.checks...)
			o.Verdict = StatusFail // stale: recomputed
			o.Judge(tc.strict)
			if o.Verdict != tc.want {
				t.Errorf("verdict = %q, want %q", o.Verdict, tc.want)
			}
			r := NewPreflightReport([]ObjectReport{obj("a", tc.checks...)})
			if tc.strict {
				r = r.AsStrict()
			}
			if r.Objects[0].Verdict != o.Verdict {
				t.Errorf("Judge(%v) = %q, the whole report says %q", tc.strict, o.Verdict, r.Objects[0].Verdict)
			}
		})
	}
}
