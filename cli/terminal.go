package cli

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// isTerminal tells whether w is an interactive terminal (colour and spinners only then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiReset  = "\x1b[0m"
)

func paint(s string, status verify.Status, colour bool) string {
	if !colour {
		return s
	}
	switch status {
	case verify.StatusFail:
		return ansiRed + s + ansiReset
	case verify.StatusWarn:
		return ansiYellow + s + ansiReset
	case verify.StatusPass:
		return ansiGreen + s + ansiReset
	}
	return s
}
