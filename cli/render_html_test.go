package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --html writes the picture also when the rollout breaches (exit 3), and a
// file that cannot be written is a warning, not a lost report.
func TestRestartWritesHTMLOnBreach(t *testing.T) {
	for _, tc := range []struct {
		name        string
		path        func(dir string) string
		wantWritten bool
		wantStderr  string
	}{
		{"written", func(dir string) string { return filepath.Join(dir, "rollout.html") }, true, ""},
		{"unwritable", func(dir string) string { return filepath.Join(dir, "missing", "rollout.html") }, false, "warning: --html "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t.TempDir())
			c := restartable(t, servingTemplate("web:1"))
			done := c.start("restart", "deploy/web", "--html", path)
			c.waitProgress("restart requested (generation 2)")
			c.rollOutRevision2()
			c.waitProgress("1 of 2 new pods updated")
			c.sigkill("web-aaa-1")
			r := c.result(done)
			if r.code != ExitBudgetBreached || !strings.Contains(r.stdout, "Outcome: paused") {
				t.Fatalf("exit code %d, want %d with the report on stdout:\n%s\n%s", r.code, ExitBudgetBreached, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, r.stderr)
			}
			page, err := os.ReadFile(path)
			if !tc.wantWritten {
				if err == nil {
					t.Errorf("%s written", path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"<!DOCTYPE html>", `data-pod="web-aaa-1" data-exit="sigkill"`, `data-pod="web-aaa-2" data-exit=""`, ">sigkill 137<", "paused"} {
				if !strings.Contains(string(page), want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}
