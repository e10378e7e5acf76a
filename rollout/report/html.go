package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/traffic"
)

//go:embed html.tmpl
var htmlTemplate string

// The SVG's geometry, in its own units (it scales to the page's width).
const (
	svgWidth    = 1000.0
	plotLeft    = 170.0 // pod names to the left
	plotRight   = 840.0 // exit classes to the right
	rowHeight   = 24.0
	barHeight   = 12.0
	axisHeight  = 28.0
	chartHeight = 110.0
)

// WriteHTML writes one self-contained page (inline SVG and CSS, no script) with
// a picture per rollout: several rollouts (a release step, rehearsal rounds)
// are stacked.
func WriteHTML(w io.Writer, title string, rollouts ...*Rollout) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"add":      func(a, b float64) float64 { return round1(a + b) },
		"subtract": func(a, b float64) float64 { return round1(a - b) },
		"seconds":  func(v *float64) string { return secondsText(v) },
		"deref":    func(v *int64) int64 { return *v },
		"pods":     func(n int) string { return verify.Count(n, "pod", "pods") },
	}).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("html template: %w", err)
	}
	page := htmlPage{Title: title}
	for _, r := range rollouts {
		page.Rollouts = append(page.Rollouts, newHTMLRollout(r))
	}
	return t.Execute(w, page)
}

type htmlPage struct {
	Title    string
	Rollouts []htmlRollout
}

type htmlRollout struct {
	*Rollout
	Workload                                 string
	Width                                    float64
	Height                                   float64
	PlotLeft, PlotRight, PlotTop, PlotBottom float64
	Ticks                                    []htmlTick
	Rows                                     []htmlRow
	NewPods                                  htmlNewPods
	Chart                                    *htmlChart
	Markers                                  []htmlMarker
	Gaps                                     []htmlSpan
}

type htmlTick struct {
	X     float64
	Label string
}

type htmlRow struct {
	Pod       PodReport
	Y, BarY   float64
	TextY     float64
	Bars      []htmlBar
	Marks     []htmlPoint
	Deadline  *htmlPoint
	LateLabel string // the deadline past the axis
	Exit      string
	Bad       bool
}

type htmlBar struct {
	Phase    string
	X, Width float64
	Title    string
}

type htmlPoint struct {
	Kind  string
	X     float64
	Title string
}

type htmlNewPods struct {
	Y, TextY float64
	Points   []htmlPoint
	Count    int
	Ready    int
}

type htmlChart struct {
	Top, Bottom   float64
	Requests      []htmlColumn
	Errors        []htmlColumn
	Latency       string // polyline points
	MaxRate       string
	MaxLatency    string
	LatencyLabelY float64
}

type htmlColumn struct {
	X, Y, Width, Height float64
	Title               string
}

type htmlMarker struct {
	Kind  string // breach or action
	X     float64
	Label string
	Title string
}

type htmlSpan struct {
	X, Width float64
	Title    string
}

func newHTMLRollout(r *Rollout) htmlRollout {
	a := newAxis(r)
	x := func(t time.Time) float64 { return round1(plotLeft + a.fraction(t)*(plotRight-plotLeft)) }
	since := func(t time.Time) string { return fmt.Sprintf("%.1fs", t.Sub(a.start).Seconds()) }
	h := htmlRollout{Rollout: r, Workload: r.Workload(), Width: svgWidth, PlotLeft: plotLeft, PlotRight: plotRight, PlotTop: axisHeight}

	for _, s := range ticks(a.seconds()) {
		h.Ticks = append(h.Ticks, htmlTick{X: x(a.start.Add(time.Duration(s * float64(time.Second)))), Label: fmt.Sprintf("%gs", s)})
	}
	y := axisHeight + 4
	for _, p := range r.Pods {
		row := htmlRow{Pod: p, Y: y, BarY: y + (rowHeight-barHeight)/2, TextY: y + rowHeight/2 + 4, Exit: p.exitLabel(), Bad: p.badExit()}
		for _, s := range p.segments(a) {
			row.Bars = append(row.Bars, htmlBar{Phase: string(s.phase), X: x(s.from), Width: math.Max(1, round1(x(s.to)-x(s.from))),
				Title: fmt.Sprintf("%s %s: %s to %s", p.Name, s.phase, since(s.from), since(s.to))})
		}
		if tl := p.Timeline; tl != nil {
			mark := func(kind string, t *time.Time, what string) {
				if t != nil {
					row.Marks = append(row.Marks, htmlPoint{Kind: kind, X: x(*t), Title: fmt.Sprintf("%s %s at %s", p.Name, what, since(*t))})
				}
			}
			mark("deletion", tl.Deletion, "deletion requested")
			mark("not-ready", tl.NotReady, "endpoint not ready")
			mark("not-serving", tl.NotServing, "endpoint not serving")
			mark("endpoint-removed", tl.EndpointRemoved, "endpoint removed")
			if tl.Exited != nil {
				kind := "exit"
				if row.Bad {
					kind = "exit bad"
				}
				mark(kind, tl.Exited, "exited: "+row.Exit)
			}
			if d := tl.GraceDeadline; d != nil {
				if d.After(a.end) {
					row.LateLabel = fmt.Sprintf("deadline %s ▸", since(*d))
				} else {
					row.Deadline = &htmlPoint{Kind: "deadline", X: x(*d), Title: fmt.Sprintf("%s grace deadline (%gs) at %s", p.Name, p.GraceSeconds, since(*d))}
				}
			}
		}
		h.Rows = append(h.Rows, row)
		y += rowHeight
	}
	h.NewPods = htmlNewPods{Y: y, TextY: y + rowHeight/2 + 4, Count: len(r.NewPods)}
	for _, p := range r.NewPods {
		if p.Ready != nil {
			h.NewPods.Ready++
			h.NewPods.Points = append(h.NewPods.Points, htmlPoint{Kind: "ready", X: x(*p.Ready), Title: fmt.Sprintf("%s ready at %s", p.Name, since(*p.Ready))})
		}
	}
	y += rowHeight
	h.PlotBottom = y
	if r.Probe != nil && len(r.Probe.Series) > 0 {
		h.Chart = newHTMLChart(r.Probe.Series, a, x, y+8)
		y = h.Chart.Bottom + 18
	}
	for _, b := range r.Breaches {
		h.Markers = append(h.Markers, htmlMarker{Kind: "breach", X: x(b.At), Label: b.Budget, Title: fmt.Sprintf("breach at %s: %s", since(b.At), b.Message)})
		if b.ActionLatencySeconds != nil && b.Action != "" && b.Action != "none" {
			at := b.At.Add(time.Duration(*b.ActionLatencySeconds * float64(time.Second)))
			h.Markers = append(h.Markers, htmlMarker{Kind: "action", X: x(at), Label: b.Action, Title: fmt.Sprintf("%s at %s", b.Action, since(at))})
		}
	}
	for _, g := range r.WatchGaps {
		to := a.end
		if g.To != nil {
			to = *g.To
		}
		h.Gaps = append(h.Gaps, htmlSpan{X: x(g.From), Width: math.Max(1, round1(x(to)-x(g.From))), Title: fmt.Sprintf("watch of %s failing: %s", g.Resource, g.Error)})
	}
	h.Height = y + 4
	return h
}

// newHTMLChart draws requests and errors per second as columns and the
// latency p95 as a line, each scaled to its own maximum.
func newHTMLChart(series []traffic.SecondStat, a axis, x func(time.Time) float64, top float64) *htmlChart {
	c := &htmlChart{Top: top, Bottom: top + chartHeight}
	maxRate, maxLatency := 1, 0.0
	for _, s := range series {
		maxRate = max(maxRate, s.Requests)
		maxLatency = math.Max(maxLatency, s.LatencyP95Ms)
	}
	height := func(n int) float64 { return round1(float64(n) / float64(maxRate) * (chartHeight - 10)) }
	points := ""
	for _, s := range series {
		if s.Start.Before(a.start.Add(-time.Second)) || s.Start.After(a.end) {
			continue
		}
		left, right := x(s.Start), x(s.Start.Add(time.Second))
		width := math.Max(1, round1(right-left-0.5))
		title := fmt.Sprintf("%s: %d requests, %d errors, p95 %.1fms", s.Start.Sub(a.start).Round(time.Second), s.Requests, s.Errors, s.LatencyP95Ms)
		c.Requests = append(c.Requests, htmlColumn{X: left, Width: width, Y: round1(c.Bottom - height(s.Requests)), Height: height(s.Requests), Title: title})
		if s.Errors > 0 {
			c.Errors = append(c.Errors, htmlColumn{X: left, Width: width, Y: round1(c.Bottom - height(s.Errors)), Height: height(s.Errors), Title: title})
		}
		if maxLatency > 0 {
			points += fmt.Sprintf("%g,%g ", round1((left+right)/2), round1(c.Bottom-s.LatencyP95Ms/maxLatency*(chartHeight-10)))
		}
	}
	c.Latency = points
	c.MaxRate = fmt.Sprintf("%d/s", maxRate)
	c.MaxLatency = fmt.Sprintf("p95 %.1fms", maxLatency)
	c.LatencyLabelY = top + 8
	return c
}

// ticks are about eight round numbers of seconds from 0 to total.
func ticks(total float64) []float64 {
	step := 1.0
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = s
		if total/s <= 8 {
			break
		}
	}
	var out []float64
	for v := 0.0; v <= total+1e-9; v += step {
		out = append(out, math.Round(v*10)/10)
	}
	return out
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func secondsText(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}
