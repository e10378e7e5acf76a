package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The generated part of docs/performance.md sits between these markers; the
// text around it (what the figures mean, goals missed and why) is written by hand.
const (
	beginMarker = "<!-- make bench: generated from here -->"
	endMarker   = "<!-- make bench: generated up to here -->"
)

// figures are "name: value unit" lines, in the order printed.
type figures struct {
	names []string
	// values holds every value printed under a name (a Go benchmark prints
	// ns/op, B/op and allocs/op under one name)
	values map[string][]string
}

func readFigures(path string) (figures, error) {
	f, err := os.Open(path)
	if err != nil {
		return figures{}, err
	}
	defer f.Close()
	fs := figures{values: map[string][]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		if _, dup := fs.values[name]; !dup {
			fs.names = append(fs.names, name)
		}
		fs.values[name] = append(fs.values[name], strings.TrimSpace(value))
	}
	return fs, sc.Err()
}

func (fs figures) get(name string) string {
	if v := fs.values[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return "–"
}

func (fs figures) has(prefix string) bool {
	for _, n := range fs.names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// render rewrites the generated part of doc from the figures file.
func render(figuresPath, doc string) error {
	fs, err := readFigures(figuresPath)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	begin, end := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	if begin < 0 || end < begin {
		return fmt.Errorf("%s: no %q ... %q block", doc, beginMarker, endMarker)
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n\n")
	fmt.Fprintf(&b, "Measured %s at commit %s on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), gitDescribe(), machine(fs))
	renderLatency(&b, fs)
	renderAPICost(&b, fs)
	renderScale(&b, fs)
	renderMatrix(&b, fs, "preflight.", "preflight (`preflight --local -f`)", "input.format")
	renderStartup(&b, fs)
	renderGo(&b, fs)
	fmt.Fprintf(&b, "`make bench` took %s in all.\n\n", fs.get("bench.total.wall"))
	out := append(append(append([]byte{}, old[:begin]...), b.String()...), old[end:]...)
	return os.WriteFile(doc, out, 0o644)
}

func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func machine(fs figures) string {
	cpu := strings.TrimPrefix(fs.get("go.machine"), runtime.GOOS+"/"+runtime.GOARCH+" ")
	if cpu == "–" {
		cpu = "an unnamed CPU"
	}
	return fmt.Sprintf("%s/%s, %d cores (%s)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu)
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

func header(b *strings.Builder, cells ...string) {
	row(b, cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	row(b, seps...)
}

func renderLatency(b *strings.Builder, fs figures) {
	if !fs.has("latency.") {
		return
	}
	b.WriteString("### Detection → action\n\nFrom a pod status with exit 137 stored to `spec.paused` stored, both as an independent watcher saw them.\n\n")
	header(b, "who acts", "breaches", "p50", "p95", "p99", "max")
	for _, r := range []struct{ label, prefix string }{
		{"the plugin, kwok pods", "latency.kwok.exit137_to_pause"},
		{"the plugin, real kubelet (drain-app ignoring SIGTERM)", "latency.kubelet.exit137_to_pause"},
		{"a 60 s analysis interval (computed)", "latency.analysis_60s"},
	} {
		row(b, r.label, fs.get(r.prefix+".samples"), fs.get(r.prefix+".p50"), fs.get(r.prefix+".p95"), fs.get(r.prefix+".p99"), fs.get(r.prefix+".max"))
	}
	row(b, "`kubectl rollout status`", "1", "never acts: exit "+fs.get("latency.kubectl_rollout_status.exit_code")+
		" with "+fs.get("latency.kubectl_rollout_status.sigkilled_pods_unacted")+" SIGKILLed", "", "", "")
	b.WriteString("\n")
}

func renderAPICost(b *strings.Builder, fs figures) {
	if !fs.has("apicost.") {
		return
	}
	b.WriteString("### API requests for one restart, watched to the end\n\nFrom the lab API server's audit log, by user agent.\n\n")
	header(b, "client", "3 replicas", "30 replicas", "100 replicas", "requests at 100 replicas")
	for _, c := range []struct{ label, key string }{
		{"`kubectl safe-rollout restart` (preflight included)", "plugin"},
		{"`kubectl safe-rollout restart --skip-preflight` (the guard alone)", "guard"},
		{"`kubectl rollout restart` + `kubectl rollout status`", "kubectl"},
		{"`kubectl rollout restart` + `kubectl get pods,endpointslices` every second", "polling"},
	} {
		cells := []string{c.label}
		for _, n := range []string{"r3", "r30", "r100"} {
			p := "apicost." + c.key + "." + n
			cells = append(cells, fmt.Sprintf("%s (%s LIST, %s WATCH) in %s", strings.TrimSuffix(fs.get(p+".total"), " requests"),
				strings.TrimSuffix(fs.get(p+".list"), " requests"), strings.TrimSuffix(fs.get(p+".watch"), " requests"), fs.get(p+".wall")))
		}
		cells = append(cells, "`"+fs.get("apicost."+c.key+".r100.detail")+"`")
		row(b, cells...)
	}
	b.WriteString("\nThe guard's watch on pod Events, at 30 replicas, with 1,000 unrelated pod Events in the namespace:\n\n")
	header(b, "pod Events in the namespace", "their LIST", "plugin peak RSS", "plugin CPU")
	for _, n := range []string{"0", "1000"} {
		p := "apicost.events" + n
		row(b, n, fs.get(p+".pod_events_list"), fs.get(p+".plugin.peak_rss"), fs.get(p+".plugin.cpu"))
	}
	b.WriteString("\n")
}

func renderScale(b *strings.Builder, fs figures) {
	if !fs.has("scale.") {
		return
	}
	fmt.Fprintf(b, "### %s replicas on kwok nodes\n\n", fs.get("scale.replicas"))
	header(b, "figure", "value")
	for _, n := range fs.names {
		if strings.HasPrefix(n, "scale.") && n != "scale.replicas" {
			row(b, "`"+strings.TrimPrefix(n, "scale.")+"`", fs.get(n))
		}
	}
	b.WriteString("\n")
}

// renderMatrix tables prefix.<row...>.<column> figures: one row per middle part.
func renderMatrix(b *strings.Builder, fs figures, prefix, title, rowLabel string) {
	if !fs.has(prefix) {
		return
	}
	var rows, cols []string
	seenRow, seenCol := map[string]bool{}, map[string]bool{}
	for _, n := range fs.names {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, ".")
		if i < 0 {
			continue
		}
		r, c := rest[:i], rest[i+1:]
		if !seenRow[r] {
			seenRow[r] = true
			rows = append(rows, r)
		}
		if !seenCol[c] {
			seenCol[c] = true
			cols = append(cols, c)
		}
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	header(b, append([]string{rowLabel}, cols...)...)
	for _, r := range rows {
		cells := []string{r}
		for _, c := range cols {
			cells = append(cells, fs.get(prefix+r+"."+c))
		}
		row(b, cells...)
	}
	b.WriteString("\n")
}

func renderStartup(b *strings.Builder, fs figures) {
	if !fs.has("startup.") {
		return
	}
	b.WriteString("### Start-up\n\n")
	header(b, "command", "p50 of 21", "max")
	row(b, "`kubectl safe-rollout version`", fs.get("startup.version.p50"), fs.get("startup.version.max"))
	row(b, "`kubectl safe-rollout preflight --help`", fs.get("startup.preflight_help.p50"), fs.get("startup.preflight_help.max"))
	b.WriteString("\n")
}

func renderGo(b *strings.Builder, fs figures) {
	if !fs.has("go.") {
		return
	}
	b.WriteString("### Go benchmarks (`scripts/bench-go.sh`)\n\n")
	header(b, "benchmark", "figures")
	var last string
	var cells []string
	flush := func() {
		if last != "" {
			row(b, "`"+last+"`", strings.Join(cells, ", "))
		}
		last = ""
	}
	for _, n := range fs.names {
		if !strings.HasPrefix(n, "go.") || n == "go.machine" {
			continue
		}
		flush()
		last, cells = strings.TrimPrefix(n, "go."), fs.values[n]
	}
	flush()
	b.WriteString("\n")
}
