package report

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
)

// axis is the picture's time axis: from the guard's start to the last thing it
// saw (grace deadlines past it are drawn at its end).
type axis struct {
	start, end time.Time
}

func newAxis(r *Rollout) axis {
	a := axis{start: r.StartedAt, end: r.FinishedAt}
	extend := func(t *time.Time) {
		if t != nil && t.After(a.end) {
			a.end = *t
		}
	}
	for _, p := range r.Pods {
		if tl := p.Timeline; tl != nil {
			for _, t := range []*time.Time{tl.Deletion, tl.NotReady, tl.NotServing, tl.EndpointRemoved, tl.Exited, tl.Gone} {
				extend(t)
			}
		}
	}
	for _, p := range r.NewPods {
		extend(p.Ready)
	}
	if a.start.IsZero() || !a.end.After(a.start) {
		a.end = a.start.Add(time.Second)
	}
	return a
}

// fraction places t on the axis, 0 at its start and 1 at its end, clamped.
func (a axis) fraction(t time.Time) float64 {
	f := t.Sub(a.start).Seconds() / a.end.Sub(a.start).Seconds()
	return min(1, max(0, f))
}

func (a axis) seconds() float64 { return a.end.Sub(a.start).Seconds() }

// phase is a stretch of an old pod's drain.
type phase string

const (
	// phaseServing: deletion requested, the endpoint still serving.
	phaseServing phase = "serving"
	// phaseDraining: the endpoint not serving, the containers still running.
	phaseDraining phase = "draining"
	// phaseExited: the containers exited, the pod object not yet gone.
	phaseExited phase = "exited"
)

// segment is one phase of a pod's drain, on the axis.
type segment struct {
	phase    phase
	from, to time.Time
}

// segments splits a pod's drain into its phases, in time order; none
// without its times (not deleted, or seen after a watch gap).
func (p PodReport) segments(a axis) []segment {
	tl := p.Timeline
	if tl == nil || tl.Deletion == nil {
		return nil
	}
	end := a.end
	if tl.Gone != nil {
		end = *tl.Gone
	}
	exited := end
	if tl.Exited != nil && tl.Exited.Before(end) {
		exited = *tl.Exited
	}
	notServing := exited
	if tl.NotServing != nil && tl.NotServing.Before(exited) {
		notServing = *tl.NotServing
	}
	var out []segment
	add := func(ph phase, from, to time.Time) {
		if to.After(from) {
			out = append(out, segment{phase: ph, from: from, to: to})
		}
	}
	add(phaseServing, *tl.Deletion, notServing)
	add(phaseDraining, notServing, exited)
	if tl.Exited != nil {
		add(phaseExited, exited, end)
	}
	return out
}

// exitLabel says how the pod ended, for the picture: "sigkill 137", "clean 0".
func (p PodReport) exitLabel() string {
	switch {
	case p.Verdict == VerdictNotTerminated:
		return "not terminated"
	case p.Verdict == VerdictStillPresent:
		return "still terminating"
	case p.SeenAfterWatchGap:
		return string(p.Exit) + " (seen after a watch gap)"
	case p.ExitCode != nil:
		return fmt.Sprintf("%s %d", p.Exit, *p.ExitCode)
	}
	return string(p.Exit)
}

// badExit tells whether the exit is one the guard breaches on.
func (p PodReport) badExit() bool {
	switch p.Exit {
	case progress.ExitSIGKILL, progress.ExitOOMKilled, progress.ExitUnclean:
		return true
	}
	return false
}

// TimelineGlyphs draw the text timeline.
type TimelineGlyphs struct {
	Serving, Draining, Exited, Idle rune
	CleanExit, BadExit, Deadline    rune
}

var (
	unicodeGlyphs = TimelineGlyphs{Serving: '━', Draining: '─', Exited: '┈', Idle: ' ', CleanExit: '●', BadExit: '✖', Deadline: '┃'}
	asciiGlyphs   = TimelineGlyphs{Serving: '=', Draining: '-', Exited: '.', Idle: ' ', CleanExit: 'o', BadExit: 'X', Deadline: '|'}
)

// TimelineText draws the old pods' drains in width columns, one line per pod
// after a scale line, and a legend line: the text report's compact picture.
// ASCII only unless unicode. Nothing when no pod has times.
func (r *Rollout) TimelineText(width int, unicode bool) []string {
	g := asciiGlyphs
	if unicode {
		g = unicodeGlyphs
	}
	any := false
	nameWidth := len("timeline")
	labelWidth := 0
	for _, p := range r.Pods {
		any = any || p.Timeline != nil
		nameWidth = max(nameWidth, min(utf8.RuneCountInString(p.Name), 30))
		labelWidth = max(labelWidth, utf8.RuneCountInString(p.exitLabel()))
	}
	if !any {
		return nil
	}
	bars := max(10, width-nameWidth-labelWidth-4) // two spaces after the name, two before the label
	a := newAxis(r)
	column := func(t time.Time) int { return min(bars-1, int(a.fraction(t)*float64(bars))) }

	scale := fmt.Sprintf("0s%*s", bars-2, fmt.Sprintf("%.1fs", a.seconds()))
	out := []string{fmt.Sprintf("%-*s  %s", nameWidth, "timeline", scale)}
	for _, p := range r.Pods {
		line := []rune(strings.Repeat(string(g.Idle), bars))
		for _, s := range p.segments(a) {
			glyph := map[phase]rune{phaseServing: g.Serving, phaseDraining: g.Draining, phaseExited: g.Exited}[s.phase]
			for c := column(s.from); c <= column(s.to) && c < bars; c++ {
				line[c] = glyph
			}
		}
		if tl := p.Timeline; tl != nil {
			if tl.GraceDeadline != nil && !tl.GraceDeadline.After(a.end) { // a deadline past the end is not drawn
				line[column(*tl.GraceDeadline)] = g.Deadline
			}
			if tl.Exited != nil {
				mark := g.CleanExit
				if p.badExit() {
					mark = g.BadExit
				}
				line[column(*tl.Exited)] = mark
			}
		}
		name := p.Name
		if utf8.RuneCountInString(name) > nameWidth {
			name = string([]rune(name)[:nameWidth-1]) + "~"
		}
		out = append(out, strings.TrimRight(fmt.Sprintf("%-*s  %s  %s", nameWidth, name, string(line), p.exitLabel()), " "))
	}
	out = append(out, fmt.Sprintf("  %c serving after deletion  %c not serving  %c exited  %c exit  %c sigkill/unclean  %c grace deadline",
		g.Serving, g.Draining, g.Exited, g.CleanExit, g.BadExit, g.Deadline))
	return out
}
