package cli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
)

func TestUTF8Locale(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"LANG": "en_US.UTF-8"}, true},
		{map[string]string{"LANG": "de_DE.utf8"}, true},
		{map[string]string{"LANG": "C"}, false},
		{map[string]string{"LC_ALL": "C", "LANG": "en_US.UTF-8"}, false},
		{map[string]string{"LC_CTYPE": "C.UTF-8", "LANG": "POSIX"}, true},
		{map[string]string{"LC_ALL": "", "LC_CTYPE": "", "LANG": "C.UTF-8"}, true},
	} {
		if got := utf8Locale(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("utf8Locale(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// The text timeline in ASCII (no UTF-8 locale), 80 columns: stdout is no terminal.
func TestPrintTimelineASCII(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_CTYPE", "")
	t.Setenv("LANG", "C")
	for _, tc := range []struct {
		name string
		r    func(*testing.T) *report.Rollout
	}{
		{"breach.ascii.table", sigkillPaused},
		{"restart.ascii.table", cleanRestart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printRollout(&out, tc.r(t), "", false); err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(out.String(), "\n") {
				for _, c := range line {
					if c > 127 {
						t.Fatalf("line %d is not ASCII: %q", i+1, line)
					}
				}
			}
			assertRolloutGolden(t, tc.name, out.String())
		})
	}
}

// Every timeline line fits the width, whatever it is.
func TestTimelineWidth(t *testing.T) {
	r := sigkillPaused(t)
	for _, width := range []int{40, 80, 132, 200} {
		for _, unicode := range []bool{false, true} {
			lines := r.TimelineText(width, unicode)
			if len(lines) != len(r.Pods)+2 {
				t.Fatalf("width %d: %d lines, want a scale, %d pods and a legend", width, len(lines), len(r.Pods))
			}
			for _, line := range lines[:len(lines)-1] { // the legend is as long as it is
				if n := utf8.RuneCountInString(line); n > width {
					t.Errorf("width %d, unicode %v: %d columns: %q", width, unicode, n, line)
				}
			}
		}
	}
}
