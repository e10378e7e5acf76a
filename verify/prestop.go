package verify

// What a container's preStop hook does before the kubelet sends SIGTERM: does it
// tell the app to drain, or only sleep, and for how long? An exec hook is read the
// way its shell reads it (mvdan.cc/sh/v3/syntax, the parser behind shfmt), so that
// `touch /tmp/drain && sleep 20`, `sleep 10; sleep 10` or `sleep ${DRAIN:-20}`
// neither pass as draining nor leave their sleep out of the grace budget.

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"
)

type preStopKind int

const (
	preStopNone preStopKind = iota
	// preStopDrains signals or calls the app: httpGet, kill, nginx -s, curl, an app binary.
	preStopDrains
	// preStopSleeps only sleeps, or does nothing at all (true, echo, exit 0).
	preStopSleeps
	// preStopOther cannot trigger draining: tcpSocket, no handler, an empty command
	// or a script the shell would reject.
	preStopOther
)

type preStopHook struct {
	kind preStopKind
	// sleep sums every sleep on the hook's path, whatever its kind: the kubelet
	// waits for all of them before SIGTERM. maxDuration means the hook never ends.
	sleep       time.Duration
	description string
	// notes say what the reading assumed or could not count, e.g. a sleep of unknown length.
	notes []string
}

// noted renders the notes for a message: "" or " (note; note)".
func (h preStopHook) noted() string {
	if len(h.notes) == 0 {
		return ""
	}
	return " (" + strings.Join(h.notes, "; ") + ")"
}

// classifyPreStop tells whether a container's preStop hook triggers draining or
// only sleeps, and how long it sleeps.
func classifyPreStop(c *corev1.Container) preStopHook {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return preStopHook{kind: preStopNone}
	}
	h := c.Lifecycle.PreStop
	switch {
	case h.HTTPGet != nil:
		return preStopHook{kind: preStopDrains, description: fmt.Sprintf("httpGet :%s%s", h.HTTPGet.Port.String(), h.HTTPGet.Path)}
	case h.Sleep != nil:
		return preStopHook{kind: preStopSleeps, sleep: secondsDuration(h.Sleep.Seconds), description: fmt.Sprintf("sleep action (%ds)", h.Sleep.Seconds)}
	case h.Exec != nil:
		return classifyExec(h.Exec.Command, c.ReadinessProbe)
	case h.TCPSocket != nil:
		return preStopHook{kind: preStopOther, description: "tcpSocket"}
	}
	return preStopHook{kind: preStopOther, description: "with no handler"}
}

// drainSleep is the drain delay the preStop hooks impose on the pod: the longest
// summed sleep of a serving container's hook, draining or not, since the kubelet
// sends SIGTERM only when the hook returns. Helpers and proxies sleeping in their
// hooks do not delay the app; in a pod that serves nothing every hook counts.
func (v *podView) drainSleep() time.Duration {
	counted := v.serving()
	if len(counted) == 0 {
		counted = v.members
	}
	var longest time.Duration
	for _, m := range counted {
		longest = max(longest, classifyPreStop(m.c).sleep)
	}
	return longest
}

// classifyExec reads an exec hook. The readinessProbe decides what touching a
// file means (see hookScan.verdict).
func classifyExec(cmd []string, readiness *corev1.Probe) preStopHook {
	scan := scanExec(cmd)
	kind, notes := scan.verdict(readiness)
	return preStopHook{kind: kind, sleep: scan.sleep, description: "exec " + describeCommand(cmd), notes: notes}
}

// hookScan gathers what the commands of one exec hook do. Every sleep the hook
// may run counts once, in branches not taken, after an exit, in the background
// too: an upper bound, the safe side for a grace budget. Only a sleep whose
// length is unknown (sleep $DRAIN, a sleep in a loop) is left out, with a note.
type hookScan struct {
	sleep     time.Duration // every counted sleep, summed (saturating)
	sleeps    int           // how many sleeps were counted
	uncounted int           // sleeps of unknown length, left out of the sum
	calls     bool          // some command signals or calls the app
	touched   []string      // files touched
	broken    bool          // the kubelet cannot run it: empty command, unparsable script
	notes     []string
}

// scanExec reads an exec command. One string with spaces (["sleep 20"]) is read
// as a script, the way its author meant it.
func scanExec(cmd []string) hookScan {
	var s hookScan
	switch {
	case len(cmd) == 0:
		s.broken = true
		s.notes = append(s.notes, "empty command")
	case len(cmd) == 1 && strings.ContainsAny(cmd[0], " \t\n"):
		s.script("sh", cmd[0])
	default:
		args := make([]word, len(cmd))
		for i, a := range cmd {
			args[i] = word{value: a, known: true}
		}
		s.command(args, strings.Join(cmd, " "), false)
	}
	return s
}

// verdict classifies the scanned hook.
//
// touch is neither a sleep nor a call to the app. Touching a file drains only
// when something reads the file: the one reader we can see is the container's
// readinessProbe (`test ! -e /tmp/drain`), and then the touch fails readiness,
// which is draining. Otherwise the hook only sleeps apart from touching a file
// nobody is known to watch, and says so.
func (s *hookScan) verdict(readiness *corev1.Probe) (preStopKind, []string) {
	var notes []string
	if s.sleeps > 1 {
		notes = append(notes, "sleeps "+seconds(s.sleep)+" in total")
	}
	notes = append(notes, s.notes...)
	if s.broken {
		return preStopOther, notes
	}
	kind := preStopSleeps
	if s.calls {
		kind = preStopDrains
	}
	for _, file := range s.touched {
		switch {
		case probeNamesFile(readiness, file):
			kind = preStopDrains
			notes = append(notes, "touches "+file+", which the readinessProbe reads")
		case kind == preStopSleeps:
			notes = append(notes, "apart from touching "+file+", which the readinessProbe does not read")
		}
	}
	return kind, notes
}

// word is one argument of a command: its value when the script alone fixes it.
type word struct {
	value     string
	known     bool
	defaulted bool // the value is the default of ${VAR:-default}
}

// command reads one simple command: args as the shell passes them on, text as
// written (for notes). inLoop says the command may run any number of times.
func (s *hookScan) command(args []word, text string, inLoop bool) {
	if len(args) == 0 {
		return // only assignments (X=1) or a wrapper with nothing to run
	}
	if !args[0].known {
		s.calls = true // `$CMD ...` may run anything, the app included
		return
	}
	base, rest := path.Base(args[0].value), args[1:]
	if inner, ok := unwrap(base, rest); ok {
		s.command(inner, text, inLoop)
		return
	}
	switch {
	case isShell(base):
		s.shell(base, rest)
	case base == "sleep":
		s.sleepFor(rest, text, inLoop)
	case base == "touch":
		s.touch(rest)
	case isNoOp(base):
	default:
		// kill, pkill, killall, nginx -s, curl, wget, or a binary of the app's own:
		// all of them can tell the app to drain.
		s.calls = true
	}
}

// unwrap returns the command a wrapper runs: exec, command, env, nohup and busybox
// run their arguments. ok is false for a command that is not a wrapper.
func unwrap(base string, args []word) (inner []word, ok bool) {
	switch base {
	case "exec":
		return skipOptions(args, "-a"), true
	case "nohup", "busybox":
		return args, true
	case "command":
		inner = skipOptions(args)
		for _, opt := range args[:len(args)-len(inner)] {
			if opt.value == "-v" || opt.value == "-V" {
				return nil, true // only looks the command up
			}
		}
		return inner, true
	case "env":
		return skipAssignments(skipOptions(args, "-u", "--unset", "-C", "--chdir")), true
	}
	return nil, false
}

// skipOptions drops leading options; those named in withValue take the next argument.
func skipOptions(args []word, withValue ...string) []word {
	for len(args) > 0 && args[0].known && strings.HasPrefix(args[0].value, "-") {
		opt := args[0].value
		args = args[1:]
		if opt == "--" {
			break
		}
		for _, v := range withValue {
			if opt == v && len(args) > 0 {
				args = args[1:]
			}
		}
	}
	return args
}

// skipAssignments drops env's NAME=value arguments.
func skipAssignments(args []word) []word {
	for len(args) > 0 && args[0].known && strings.Contains(args[0].value, "=") {
		args = args[1:]
	}
	return args
}

func isShell(name string) bool {
	switch name {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh":
		return true
	}
	return false
}

// isNoOp names the commands that can neither delay the hook nor reach the app.
func isNoOp(name string) bool {
	switch name {
	case "true", "false", ":", "echo", "printf", "exit", "return", "test", "[",
		"set", "export", "unset", "readonly", "local", "cd", "wait", "trap", "shift":
		return true
	}
	return false
}

// sleepFor counts one sleep. A sleep in a loop or of unknown length is left out
// of the sum, and the notes say so.
func (s *hookScan) sleepFor(args []word, text string, inLoop bool) {
	d, ok := sleepArgs(args)
	switch {
	case !ok:
		s.uncounted++
		s.notes = append(s.notes, text+": length unknown, not counted")
	case inLoop:
		s.uncounted++
		s.notes = append(s.notes, text+" in a loop: length unknown, not counted")
	default:
		s.sleep = addSaturating(s.sleep, d)
		s.sleeps++
		if defaulted(args) {
			s.notes = append(s.notes, text+" counted as "+seconds(d)+", the default")
		}
	}
}

func defaulted(args []word) bool {
	for _, a := range args {
		if a.defaulted {
			return true
		}
	}
	return false
}

// sleepArgs reads sleep(1) arguments: numbers with an optional s/m/h/d suffix,
// summed, or "infinity".
func sleepArgs(args []word) (time.Duration, bool) {
	if len(args) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, a := range args {
		d, ok := parseSleep(a.value)
		if !a.known || !ok {
			return 0, false
		}
		total = addSaturating(total, d)
	}
	return total, true
}

// parseSleep reads one sleep(1) argument; one too long for a Duration never ends.
func parseSleep(arg string) (time.Duration, bool) {
	if arg == "infinity" || arg == "inf" {
		return maxDuration, true
	}
	if arg == "" {
		return 0, false
	}
	unit := time.Second
	switch arg[len(arg)-1] {
	case 's':
		arg = arg[:len(arg)-1]
	case 'm':
		unit, arg = time.Minute, arg[:len(arg)-1]
	case 'h':
		unit, arg = time.Hour, arg[:len(arg)-1]
	case 'd':
		unit, arg = 24*time.Hour, arg[:len(arg)-1]
	}
	// Out of range is not an error for sleep(1): 1e400 is as good as infinity.
	n, err := strconv.ParseFloat(arg, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || n < 0 || math.IsNaN(n) {
		return 0, false
	}
	ns := n * float64(unit)
	if ns >= float64(maxDuration) { // +Inf included
		return maxDuration, true
	}
	return time.Duration(ns), true
}

// touch records the files a command touches.
func (s *hookScan) touch(args []word) {
	for _, a := range skipOptions(args, "-d", "-r", "-t") {
		if a.known {
			s.touched = append(s.touched, a.value)
		} else {
			s.touched = append(s.touched, "a file named at run time")
		}
	}
}

// probeNamesFile tells whether an exec readinessProbe names the file, as in
// `test ! -e /tmp/drain`.
func probeNamesFile(p *corev1.Probe, file string) bool {
	if p == nil || p.Exec == nil {
		return false
	}
	for _, arg := range p.Exec.Command {
		for _, field := range strings.FieldsFunc(arg, isShellSeparator) {
			if field == file {
				return true
			}
		}
	}
	return false
}

func isShellSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(";&|()<>!'\"`=[]", r)
}
