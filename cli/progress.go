package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/briandowns/spinner"
	"k8s.io/utils/clock"
)

// Progress modes of --progress.
const (
	progressAuto  = "auto"
	progressPlain = "plain"
	progressNone  = "none"
)

func validateProgress(mode string) error {
	switch mode {
	case progressAuto, progressPlain, progressNone:
		return nil
	}
	return fmt.Errorf("unsupported --progress %q: use auto, plain or none", mode)
}

// progressWriter is where the engines write progress lines: a spinner on an
// interactive terminal, timestamped plain lines otherwise, or nothing.
type progressWriter interface {
	io.Writer
	Stop()
}

func newProgress(mode string, out, errOut io.Writer, structuredOutput bool, clk clock.WithTicker) progressWriter {
	if mode == progressNone {
		return discardProgress{}
	}
	if f, ok := errOut.(*os.File); ok && mode == progressAuto && !structuredOutput && isTerminal(out) && isTerminal(f) {
		return newSpinnerProgress(f, clk)
	}
	return &plainProgress{out: errOut, clk: clk}
}

type discardProgress struct{}

func (discardProgress) Write(p []byte) (int, error) { return len(p), nil }
func (discardProgress) Stop()                       {}

// plainProgress prefixes every line with the time, for logs and CI.
type plainProgress struct {
	mu  sync.Mutex
	out io.Writer
	clk clock.Clock
	buf bytes.Buffer
}

func (p *plainProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadString('\n')
		if err != nil {
			p.buf.WriteString(line) // incomplete: keep for the next write
			return len(b), nil
		}
		fmt.Fprintf(p.out, "%s %s", p.clk.Now().Format("15:04:05.000"), line)
	}
}

func (p *plainProgress) Stop() {}

// spinnerProgress keeps a spinner (github.com/briandowns/spinner) on the
// terminal's last line and prints every progress line above it: each line stays
// on the screen, in order. The spinner shows the time since the start.
type spinnerProgress struct {
	s *spinner.Spinner
	// partial is the start of a line whose end has not been written yet; it is
	// guarded by the spinner's lock, as everything written to the terminal is.
	partial bytes.Buffer
	stop    sync.Once
}

const spinnerInterval = 120 * time.Millisecond

// clearLine returns the cursor to the line's start and erases the line.
const clearLine = "\r\x1b[K"

// newSpinnerProgress starts a spinner on the terminal f (the spinner draws
// nothing on a file that is not a terminal).
func newSpinnerProgress(f *os.File, clk clock.Clock) *spinnerProgress {
	start := clk.Now()
	s := spinner.New(spinner.CharSets[14], spinnerInterval, spinner.WithWriterFile(f))
	// PreUpdate runs under the spinner's lock before each frame.
	s.PreUpdate = func(s *spinner.Spinner) { s.Suffix = " " + clk.Since(start).Truncate(time.Second).String() }
	p := &spinnerProgress{s: s}
	s.Start()
	return p
}

// Write prints the complete lines of b above the spinner, and keeps an
// incomplete one for the next write.
func (p *spinnerProgress) Write(b []byte) (int, error) {
	p.s.Lock()
	defer p.s.Unlock()
	p.partial.Write(b)
	data := p.partial.Bytes()
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return len(b), nil
	}
	// The spinner's line is erased and the lines take its place; the spinner
	// draws itself again below them, at once rather than at its next frame.
	if _, err := fmt.Fprintf(p.s.Writer, "%s%s%s", clearLine, data[:end+1], p.s.LastOutput); err != nil {
		return 0, err
	}
	rest := bytes.Clone(data[end+1:])
	p.partial.Reset()
	p.partial.Write(rest)
	return len(b), nil
}

// Stop removes the spinner, leaving the lines printed (and an incomplete last
// one, ended).
func (p *spinnerProgress) Stop() {
	p.stop.Do(func() {
		p.s.Stop()
		p.s.Lock()
		defer p.s.Unlock()
		if p.partial.Len() > 0 {
			fmt.Fprintf(p.s.Writer, "%s\n", p.partial.Bytes())
			p.partial.Reset()
		}
	})
}
