package cli

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

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
	if mode == progressAuto && !structuredOutput && isTerminal(out) && isTerminal(errOut) {
		return newSpinnerProgress(errOut, clk)
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

// spinnerProgress keeps a spinner on the terminal's last line and prints every
// progress line above it: each line stays on the screen, in order.
type spinnerProgress struct {
	mu    sync.Mutex
	out   io.Writer
	clk   clock.Clock
	start time.Time
	frame int
	// partial is the start of a line whose end has not been written yet.
	partial bytes.Buffer
	ticker  clock.Ticker
	done    chan struct{}
	exited  chan struct{}
	stop    sync.Once
}

// spinnerFrames are braille dots, one per tick.
var spinnerFrames = [...]string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const spinnerInterval = 120 * time.Millisecond

// clearLine returns the cursor to the line's start and erases the line.
const clearLine = "\r\x1b[K"

func newSpinnerProgress(out io.Writer, clk clock.WithTicker) *spinnerProgress {
	p := &spinnerProgress{out: out, clk: clk, start: clk.Now(), ticker: clk.NewTicker(spinnerInterval),
		done: make(chan struct{}), exited: make(chan struct{})}
	p.mu.Lock()
	p.draw()
	p.mu.Unlock()
	go func() {
		defer close(p.exited)
		for {
			select {
			case <-p.done:
				return
			case <-p.ticker.C():
				p.mu.Lock()
				p.frame = (p.frame + 1) % len(spinnerFrames)
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// draw replaces the spinner's line: a frame and the time since the start.
// The caller holds mu.
func (p *spinnerProgress) draw() {
	fmt.Fprintf(p.out, "%s%s %s", clearLine, spinnerFrames[p.frame], p.clk.Since(p.start).Truncate(time.Second))
}

// Write prints the complete lines of b above the spinner, and keeps an
// incomplete one for the next write.
func (p *spinnerProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial.Write(b)
	data := p.partial.Bytes()
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return len(b), nil
	}
	// The spinner's line is erased and the lines take its place; the spinner
	// comes back below them.
	if _, err := fmt.Fprintf(p.out, "%s%s", clearLine, data[:end+1]); err != nil {
		return 0, err
	}
	rest := bytes.Clone(data[end+1:])
	p.partial.Reset()
	p.partial.Write(rest)
	p.draw()
	return len(b), nil
}

// Stop removes the spinner, leaving the lines printed (and an incomplete last
// one, ended).
func (p *spinnerProgress) Stop() {
	p.stop.Do(func() {
		close(p.done)
		<-p.exited
		p.ticker.Stop()
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprint(p.out, clearLine)
		if p.partial.Len() > 0 {
			fmt.Fprintf(p.out, "%s\n", p.partial.Bytes())
			p.partial.Reset()
		}
	})
}
