package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/briandowns/spinner"
	"golang.org/x/sys/unix"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeTerminal interprets what a spinner writes as a terminal shows it: "\r"
// returns to the line's start, ESC[K erases to its end, "\n" starts a new line.
type fakeTerminal struct {
	mu    sync.Mutex
	lines []string // lines scrolled up
	line  []rune   // the cursor's line
	col   int
	// written is signalled after every write.
	written chan struct{}
}

func newFakeTerminal() *fakeTerminal { return &fakeTerminal{written: make(chan struct{}, 1)} }

// waitFor waits until the screen shows what ok wants, or fails the test.
func (t *fakeTerminal) waitFor(tb testing.TB, what string, ok func(scrolled []string, last string) bool) {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if ok(t.screen()) {
			return
		}
		select {
		case <-t.written:
		case <-deadline:
			scrolled, last := t.screen()
			tb.Fatalf("waiting for %s; the screen shows:\n%s\n%s", what, strings.Join(scrolled, "\n"), last)
		}
	}
}

func (t *fakeTerminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		select {
		case t.written <- struct{}{}:
		default:
		}
	}()
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
		case s[i] == '\x1b' && i+5 < len(s) && string(s[i+1:i+5]) == "[?25" && (s[i+5] == 'l' || s[i+5] == 'h'):
			i += 5 // the cursor hidden or shown again
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

// openTerminal opens a pseudo-terminal: the spinner draws only on a terminal.
// What is written to the returned file reaches screen.
func openTerminal(t *testing.T, screen *fakeTerminal) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(screen, master) // ends with EIO once tty is closed
	}()
	t.Cleanup(func() {
		tty.Close()
		<-copied
		master.Close()
	})
	return tty
}

// Every progress line stays on the screen, in order, above the spinner; the
// spinner's line shows between them and is gone after Stop.
func TestSpinnerKeepsEveryLine(t *testing.T) {
	screen := newFakeTerminal()
	tty := openTerminal(t, screen)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	p := newSpinnerProgress(tty, clk)
	isSpinner := func(line string) bool {
		return line != "" && slices.Contains(spinner.CharSets[14], string([]rune(line)[0]))
	}
	screen.waitFor(t, "the spinner", func(_ []string, last string) bool { return isSpinner(last) })
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
		n := len(want)
		screen.waitFor(t, fmt.Sprintf("line %d above the spinner", n), func(scrolled []string, last string) bool {
			return len(scrolled) == n && isSpinner(last)
		})
	}
	fmt.Fprint(p, "budget breached") // unterminated: Stop ends it
	want = append(want, "budget breached")
	p.Stop()
	p.Stop() // twice is harmless
	screen.waitFor(t, "the last line", func(scrolled []string, _ string) bool { return len(scrolled) == len(want) })
	got, last := screen.screen()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last != "" {
		t.Errorf("after Stop the cursor's line is %q, want the spinner gone", last)
	}
}

func TestSpinnerShowsElapsedTime(t *testing.T) {
	screen := newFakeTerminal()
	tty := openTerminal(t, screen)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC))
	p := newSpinnerProgress(tty, clk)
	defer p.Stop()
	clk.Step(61 * time.Second)
	screen.waitFor(t, "the time since the start", func(_ []string, last string) bool { return strings.HasSuffix(last, " 1m1s") })
}

// Not on a terminal the spinner draws nothing; the lines still come out.
func TestSpinnerOffTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	p := newSpinnerProgress(f, clocktesting.NewFakeClock(time.Now()))
	fmt.Fprintln(p, "rollout started")
	p.Stop()
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != clearLine+"rollout started\n" {
		t.Errorf("wrote %q", got)
	}
}
