package verify

// Reading the script of a shell hook (sh -c, bash -lc, ...) with mvdan.cc/sh/v3/syntax:
// every command the script may run, wherever it hides (lists, pipelines,
// subshells, functions, command substitutions), goes to hookScan.command.

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shell reads `sh [options] -c script [$0 [$1...]]`. The arguments after the
// script become its $0, $1...: they are not commands.
func (s *hookScan) shell(name string, args []word) {
	script, withC := shellScript(args)
	switch {
	case !withC:
		// sh /drain.sh (or commands on stdin): a script we cannot read, written
		// for this hook, so most likely the app's own drain.
		s.calls = true
	case script == nil:
		s.broken = true
		s.notes = append(s.notes, name+" -c without a script")
	case !script.known:
		s.calls = true // sh -c "$CMD"
	default:
		s.script(name, script.value)
	}
}

// shellScript finds the script of a shell's argument list: options come first,
// alone or combined (-c, -ec, -lc, -xc, -o pipefail), and -c makes the first
// operand the script. withC is false when the shell runs a file or stdin.
func shellScript(args []word) (script *word, withC bool) {
	i := 0
	for ; i < len(args) && args[i].known && isShellOption(args[i].value); i++ {
		opt := args[i].value
		if opt == "-" || opt == "--" {
			i++
			break
		}
		if strings.HasPrefix(opt, "--") {
			continue // long options (--login, --norc) take no argument we need
		}
		withC = withC || opt[0] == '-' && strings.ContainsRune(opt, 'c')
		if strings.ContainsAny(opt[1:], "oO") {
			i++ // -o pipefail, -O extglob: the next argument names the option
		}
	}
	if !withC || i >= len(args) {
		return nil, withC
	}
	return &args[i], true
}

func isShellOption(arg string) bool {
	return strings.HasPrefix(arg, "-") || strings.HasPrefix(arg, "+")
}

// script parses and walks a shell script.
func (s *hookScan) script(shell, src string) {
	f, err := syntax.NewParser(syntax.Variant(grammar(shell))).Parse(strings.NewReader(src), "")
	if err != nil {
		s.broken = true
		s.notes = append(s.notes, "the shell cannot parse the script: "+err.Error())
		return
	}
	w := scriptWalk{scan: s, src: src, funcs: map[string]bool{}}
	syntax.Walk(f, w.visit)
}

// grammar picks the parser's language. sh is bash, dash or busybox ash, and the
// latter accept much of bash's syntax; reading every shell but zsh as bash keeps a
// hook that runs from being called unparsable.
func grammar(shell string) syntax.LangVariant {
	if shell == "zsh" {
		return syntax.LangZsh
	}
	return syntax.LangBash
}

// scriptWalk visits every node of a script, command substitutions and function
// bodies included, so no command is missed wherever it hides.
type scriptWalk struct {
	scan  *hookScan
	src   string
	open  []bool // one entry per node being visited: is it a loop?
	loops int    // how many of them are loops
	funcs map[string]bool
}

func (w *scriptWalk) visit(n syntax.Node) bool {
	if n == nil { // leaving the last node visited
		if w.open[len(w.open)-1] {
			w.loops--
		}
		w.open = w.open[:len(w.open)-1]
		return true
	}
	_, isWhile := n.(*syntax.WhileClause)
	_, isFor := n.(*syntax.ForClause)
	loop := isWhile || isFor
	w.open = append(w.open, loop)
	if loop {
		w.loops++
	}
	switch n := n.(type) {
	case *syntax.FuncDecl:
		w.declare(n)
	case *syntax.CallExpr:
		w.call(n)
	}
	return true
}

// declare remembers a function: its body is read where it is declared, so
// calling it adds nothing.
func (w *scriptWalk) declare(f *syntax.FuncDecl) {
	if f.Name != nil {
		w.funcs[f.Name.Value] = true
	}
	for _, name := range f.Names {
		w.funcs[name.Value] = true
	}
}

func (w *scriptWalk) call(c *syntax.CallExpr) {
	args := make([]word, len(c.Args))
	for i, a := range c.Args {
		args[i] = wordValue(a)
	}
	if len(args) > 0 && args[0].known && w.funcs[args[0].value] {
		return
	}
	w.scan.command(args, w.text(c), w.loops > 0)
}

// text is the command as written in the script.
func (w *scriptWalk) text(n syntax.Node) string {
	from, to := int(n.Pos().Offset()), int(n.End().Offset())
	if from < 0 || to > len(w.src) || from > to {
		return "a command"
	}
	return w.src[from:to]
}

// wordValue is what the shell passes on for a word when the script alone fixes
// it: literals, quotes and ${VAR:-default} (assumed unset). $VAR, $(cmd) and the
// like depend on what runs: unknown.
func wordValue(w *syntax.Word) word {
	var b strings.Builder
	defaulted := false
	for _, part := range w.Parts {
		d, ok := appendPart(&b, part, false)
		if !ok {
			return word{}
		}
		defaulted = defaulted || d
	}
	return word{value: b.String(), known: true, defaulted: defaulted}
}

func appendPart(b *strings.Builder, part syntax.WordPart, quoted bool) (defaulted, ok bool) {
	switch p := part.(type) {
	case *syntax.Lit:
		b.WriteString(unescape(p.Value, quoted))
		return false, true
	case *syntax.SglQuoted:
		b.WriteString(p.Value)
		return false, !p.Dollar // $'...' has escapes of its own
	case *syntax.DblQuoted:
		for _, inner := range p.Parts {
			d, ok := appendPart(b, inner, true)
			if !ok {
				return false, false
			}
			defaulted = defaulted || d
		}
		return defaulted, true
	case *syntax.ParamExp:
		value, ok := paramDefault(p)
		b.WriteString(value)
		return true, ok
	}
	return false, false
}

// paramDefault is the value of ${VAR:-default}, ${VAR-default}, ${VAR:=default}
// or ${VAR=default} when VAR is unset.
func paramDefault(p *syntax.ParamExp) (string, bool) {
	if p.Exp == nil {
		return "", false
	}
	switch p.Exp.Op {
	case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AssignUnset, syntax.AssignUnsetOrNull:
	default:
		return "", false
	}
	if p.Exp.Word == nil {
		return "", true
	}
	w := wordValue(p.Exp.Word)
	return w.value, w.known
}

// unescape removes the backslashes the shell removes: before any character
// outside quotes, before $ ` " \ inside double quotes.
func unescape(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (!quoted || strings.IndexByte("$`\"\\", s[i+1]) >= 0) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
