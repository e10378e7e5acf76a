package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
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

func newProgress(mode string, out, errOut io.Writer, structuredOutput bool, clk clock.Clock) progressWriter {
	if mode == progressNone {
		return discardProgress{}
	}
	if mode == progressAuto && !structuredOutput && isTerminal(out) && isTerminal(errOut) {
		if f, ok := errOut.(*os.File); ok {
			s := spinner.New(spinner.CharSets[14], 120*time.Millisecond, spinner.WithWriterFile(f))
			s.Start()
			return &spinnerProgress{s: s}
		}
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

// spinnerProgress shows the latest line as the spinner's suffix (earlier lines
// are replaced, not kept).
type spinnerProgress struct {
	s *spinner.Spinner
}

func (p *spinnerProgress) Write(b []byte) (int, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	p.s.Lock()
	p.s.Suffix = " " + lines[len(lines)-1]
	p.s.Unlock()
	return len(b), nil
}

func (p *spinnerProgress) Stop() { p.s.Stop() }
