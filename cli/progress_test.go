package cli

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// fakeTerminal interprets what a spinner writes as a terminal shows it: "\r"
// returns to the line's start, ESC[K erases to its end, "\n" starts a new line.
type fakeTerminal struct {
	mu    sync.Mutex
	lines []string // lines scrolled up
	line  []rune   // the cursor's line
	col   int
}

func (t *fakeTerminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := []rune(string(b))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\r':
			t.col = 0
		case s[i] == '\n':
			t.lines = append(t.lines, string(t.line))
			t.line, t.col = nil, 0
		case s[i] == '\x1b' && i+2 < len(s) && s[i+1] == '[' && s[i+2] == 'K':
			t.line = t.line[:t.col]
			i += 2
		case s[i] == '\x1b':
			return 0, fmt.Errorf("unexpected escape sequence %q", string(s[i:]))
		default:
			if t.col < len(t.line) {
				t.line[t.col] = s[i]
			} else {
				t.line = append(t.line, s[i])
			}
			t.col++
		}
	}
	return len(b), nil
}

func (t *fakeTerminal) screen() (scrolled []string, last string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...), string(t.line)
}

// Every progress line stays on the screen, in order, above the spinner; the
// spinner's line shows between them and is gone after Stop.
func TestSpinnerKeepsEveryLine(t *testing.T) {
	term := &fakeTerminal{}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	p := newSpinnerProgress(term, clk)
	var want []string
	for i := range 30 {
		line := fmt.Sprintf("pod web-%d: not ready", i)
		want = append(want, line)
		switch i % 3 {
		case 0:
			fmt.Fprintln(p, line)
		case 1: // a line in two writes
			fmt.Fprint(p, line[:5])
			fmt.Fprint(p, line[5:]+"\n")
		case 2: // two lines in one write
			i++
			next := fmt.Sprintf("pod web-%d: not ready", 100+i)
			want = append(want, next)
			fmt.Fprint(p, line+"\n"+next+"\n")
		}
		clk.Step(spinnerInterval) // the spinner turns between lines
		if _, last := term.screen(); last == "" || !slices.Contains(spinnerFrames[:], string([]rune(last)[0])) {
			t.Fatalf("after line %d the last line is %q, want the spinner", i, last)
		}
	}
	fmt.Fprint(p, "budget breached") // unterminated: Stop ends it
	want = append(want, "budget breached")
	p.Stop()
	p.Stop() // twice is harmless
	got, last := term.screen()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last != "" {
		t.Errorf("after Stop the cursor's line is %q, want the spinner gone", last)
	}
}

func TestSpinnerShowsElapsedTime(t *testing.T) {
	term := &fakeTerminal{}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	p := newSpinnerProgress(term, clk)
	defer p.Stop()
	clk.Step(61 * time.Second)
	fmt.Fprintln(p, "rollout started")
	if _, last := term.screen(); !strings.HasSuffix(last, " 1m1s") {
		t.Errorf("spinner line %q, want the time since the start", last)
	}
}
