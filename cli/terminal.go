package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// isTerminal tells whether w is an interactive terminal (colour and spinners only then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colourMode is the global --color flag: auto colours a terminal's output
// unless NO_COLOR is set (https://no-color.org: any non-empty value); always
// colours even then, as other CLIs do; never does not.
type colourMode string

const (
	colourAuto   colourMode = "auto"
	colourAlways colourMode = "always"
	colourNever  colourMode = "never"
)

func (m *colourMode) String() string { return string(*m) }
func (m *colourMode) Type() string   { return "string" }

func (m *colourMode) Set(s string) error {
	switch colourMode(s) {
	case colourAuto, colourAlways, colourNever:
		*m = colourMode(s)
		return nil
	}
	return fmt.Errorf("use auto, always or never")
}

// addColourFlag adds the global --color to root; the commands read it from
// Deps.Colour.
func addColourFlag(root *cobra.Command) *colourMode {
	m := colourAuto
	root.PersistentFlags().Var(&m, "color", "Colour the output: auto (on a terminal, unless NO_COLOR is set), always or never")
	return &m
}

// on tells whether output written to w is coloured; a nil mode is auto.
func (m *colourMode) on(w io.Writer) bool {
	mode := colourAuto
	if m != nil {
		mode = *m
	}
	switch mode {
	case colourAlways:
		return true
	case colourNever:
		return false
	}
	return os.Getenv("NO_COLOR") == "" && isTerminal(w)
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	// ansiDefault is the terminal's default colour: the cells of a coloured
	// column that need no colour get it (see paintCell).
	ansiDefault = "\x1b[39m"
	ansiReset   = "\x1b[0m"
)

func colourOf(status verify.Status) string {
	switch status {
	case verify.StatusFail:
		return ansiRed
	case verify.StatusWarn:
		return ansiYellow
	case verify.StatusPass:
		return ansiGreen
	}
	return ""
}

func paint(s string, status verify.Status, colour bool) string {
	code := colourOf(status)
	if !colour || code == "" {
		return s
	}
	return code + s + ansiReset
}

// paintCell paints a cell of a table column. A tabwriter counts the escape
// sequences as wide as the text: every cell of a coloured column, its header
// too, carries one sequence of the same length and a reset, so the padding
// that aligns the next column is that of the uncoloured table.
func paintCell(s string, status verify.Status, colour bool) string {
	if !colour {
		return s
	}
	code := colourOf(status)
	if code == "" {
		code = ansiDefault
	}
	return code + s + ansiReset
}

// paintHeader paints the header of a coloured column of a table header line,
// as paintCell paints its cells.
func paintHeader(header, column string, colour bool) string {
	if !colour {
		return header
	}
	return strings.Replace(header, "\t"+column+"\t", "\t"+paintCell(column, "", true)+"\t", 1)
}
