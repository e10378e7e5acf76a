package cli

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/report"
)

// defaultTimelineWidth is the text timeline's width when stdout is not a terminal.
const defaultTimelineWidth = 80

// printTimeline draws the old pods' drains, one line each, scaled to the
// terminal's width; plain ASCII unless the locale says UTF-8.
func printTimeline(w io.Writer, r *report.Rollout) {
	lines := r.TimelineText(terminalWidth(w), utf8Locale(os.Getenv))
	if len(lines) == 0 {
		return
	}
	io.WriteString(w, "\n"+strings.Join(lines, "\n")+"\n")
}

// terminalWidth is w's width when it is a terminal, else 80.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return defaultTimelineWidth
}

// utf8Locale tells whether the locale names UTF-8: the first of LC_ALL,
// LC_CTYPE and LANG that is set decides, as in setlocale(3).
func utf8Locale(getenv func(string) string) bool {
	for _, name := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := getenv(name); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}
