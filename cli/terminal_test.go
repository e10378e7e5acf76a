package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var ansiSequence = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Coloured tables align as uncoloured ones: without its escape sequences, the
// coloured output is the uncoloured output, byte for byte.
func TestColourKeepsColumnsAligned(t *testing.T) {
	for _, args := range [][]string{
		{"-f", td + "mistakes.yaml"},
		{"-f", td + "mistakes.yaml", "-o", "wide"},
		{"-f", td + "good.yaml", "-f", td + "daemonset.yaml"},
		{"-f", td + "good.yaml", "-f", td + "daemonset.yaml", "-o", "wide"},
	} {
		plain := runCmd(t, append([]string{"preflight", "--local", "--color=never"}, args...)...)
		coloured := runCmd(t, append([]string{"preflight", "--local", "--color=always"}, args...)...)
		if !strings.Contains(coloured.stdout, ansiYellow+"warn"+ansiReset) {
			t.Errorf("%v --color=always: no colour in\n%s", args, coloured.stdout)
		}
		if stripped := ansiSequence.ReplaceAllString(coloured.stdout, ""); stripped != plain.stdout {
			t.Errorf("%v: coloured output without its escapes differs from the plain one\n%s", args, firstDifference(stripped, plain.stdout))
		}
		if strings.Contains(plain.stdout, "\x1b") {
			t.Errorf("%v --color=never: escape sequences in\n%s", args, plain.stdout)
		}
	}
}

// auto colours a terminal only, and NO_COLOR turns it off; always overrides
// NO_COLOR; the default is auto.
func TestColourMode(t *testing.T) {
	var notTerminal bytes.Buffer
	for _, tc := range []struct {
		mode    *colourMode
		noColor string
		want    bool
	}{
		{nil, "", false},
		{ptrTo(colourAuto), "", false},
		{ptrTo(colourAlways), "", true},
		{ptrTo(colourAlways), "1", true},
		{ptrTo(colourNever), "", false},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		if got := tc.mode.on(&notTerminal); got != tc.want {
			t.Errorf("mode %v NO_COLOR=%q: colour %v, want %v", tc.mode, tc.noColor, got, tc.want)
		}
	}
	t.Run("NO_COLOR with auto", func(t *testing.T) {
		t.Setenv("NO_COLOR", "1")
		r := runCmd(t, "preflight", "--local", "-f", td+"mistakes.yaml")
		if strings.Contains(r.stdout, "\x1b") {
			t.Errorf("NO_COLOR=1: escape sequences in\n%s", r.stdout)
		}
	})
}

func ptrTo(m colourMode) *colourMode { return &m }

// A bad --color is bad input, for every command.
func TestColourBadValue(t *testing.T) {
	for _, args := range [][]string{
		{"preflight", "--local", "-f", td + "good.yaml", "--color=purple"},
		{"--color", "yes", "version"},
	} {
		r := runCmd(t, args...)
		assertOneErrorLine(t, r)
		for _, want := range []string{`"--color"`, "auto, always or never"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: stderr %q lacks %q", args, r.stderr, want)
			}
		}
	}
}
