package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes shared by every command; scripted release steps key on them.
const (
	ExitOK              = 0
	ExitError           = 1 // bad input, API error, not found, forbidden
	ExitPreflightFailed = 2
	ExitBudgetBreached  = 3 // paused, reported with --on-breach=none, or rollback refused
	ExitRolledBack      = 4
	ExitTimedOut        = 5
	ExitInterrupted     = 130 // SIGINT (Ctrl-C): the report so far is printed, the rollout continues
	ExitTerminated      = 143 // SIGTERM (a CI runner cancelling the job): as ExitInterrupted
)

// ExitCodeError carries a specific exit code out of a command. Err may be nil when the
// report already said everything.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitCodeError) Unwrap() error { return e.Err }

// withCode wraps err (possibly nil) so that the process exits with code.
func withCode(code int, err error) error { return &ExitCodeError{Code: code, Err: err} }

// exitCode prints err as kubectl does (one "error: ..." line) and returns the exit code.
func exitCode(err error, errOut io.Writer) int {
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		code = ec.Code
		if ec.Err == nil {
			return code
		}
	}
	msg := strings.TrimSpace(err.Error())
	msg = strings.TrimPrefix(msg, "error: ")
	// One line: multi-line API or parser errors are folded.
	msg = strings.Join(strings.Fields(msg), " ")
	fmt.Fprintf(errOut, "error: %s\n", msg)
	return code
}
