package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/liggitt/tabwriter"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// The preflight report, written object by object. The verdict comes first in
// JSON and the table's columns are as wide as their widest cell, so nothing can
// be printed before the last object is checked; each object is rendered as it
// comes into a spool, and the objects themselves are dropped. The bytes are
// those of the whole report rendered at once (writeJSON, writeYAML, a tabwriter).

// The output formats of the table: the summary (one row per workload, then the
// findings that do not pass) is the default; wide is every check of every
// workload, the table preflight printed before it had a summary.
const (
	formatSummary = ""
	formatWide    = "wide"
)

const tableHeader = "NAMESPACE\tDEPLOYMENT\tCHECK\tCONTAINER\tSTATUS\tFINDING\n"

// workloadTableHeader heads a table that holds other kinds than Deployments:
// its names are TYPE/NAME, as kubectl get prints several kinds.
const workloadTableHeader = "NAMESPACE\tWORKLOAD\tCHECK\tCONTAINER\tSTATUS\tFINDING\n"

const (
	summaryHeader         = "NAMESPACE\tDEPLOYMENT\tVERDICT\tFAIL\tWARN\tWORST FINDING\n"
	workloadSummaryHeader = "NAMESPACE\tWORKLOAD\tVERDICT\tFAIL\tWARN\tWORST FINDING\n"
)

// tableFlushLines is how many rows the table is written in at a time, once the
// widths of its columns are known.
const tableFlushLines = 512

// reportWriter renders a preflight report in one output format.
type reportWriter struct {
	format string
	colour bool
	// qualify names the objects TYPE/NAME, under a WORKLOAD column: the
	// report holds other kinds than Deployments.
	qualify bool
	// objects holds the rendered objects: table rows, JSON array elements or
	// YAML list items.
	objects *spool
	count   int
	// fixes holds the table's Fixes lines, each after a newline.
	fixes    *spool
	fixCount int
	// widths measures the table's columns: a tabwriter that remembers its widths,
	// writing nowhere.
	widths *tabwriter.Writer
	// aligned is false once a cell holds a byte that ends a cell or a line for a
	// tabwriter: the table is then written in one go, as it always was, since
	// its columns can be as wide in one part and narrower in the next.
	aligned bool
	// findings gathers the summary's findings that do not pass, their fixes
	// grouped.
	findings findingGroups
	// summary counts the objects added and their checks.
	summary *verify.PreflightSummary
	// lines finds the objects of -f in their files, for -o sarif; sarif holds
	// its results.
	lines *manifestLines
	sarif []sarifResult
}

func newReportWriter(format string, colour bool) *reportWriter {
	rw := &reportWriter{format: format, colour: colour, objects: newSpool(spoolMemory), aligned: true, summary: verify.NewPreflightSummary()}
	if rw.table() {
		rw.fixes = newSpool(spoolMemory)
		rw.measureHeader()
	}
	return rw
}

// table tells whether the report is written as a table: the summary or wide.
func (rw *reportWriter) table() bool {
	return rw.format == formatSummary || rw.format == formatWide
}

// QualifyNames names the objects TYPE/NAME in the table, under a WORKLOAD
// column, when the report holds other kinds than Deployments. A table of
// Deployments only is printed as it always was. Call it before adding objects.
func (rw *reportWriter) QualifyNames(qualify bool) {
	rw.qualify = qualify
	if rw.table() {
		rw.measureHeader()
	}
}

// measureHeader starts the measure of the table's columns with its header.
func (rw *reportWriter) measureHeader() {
	rw.widths = printers.GetNewTabWriter(io.Discard)
	_, _ = io.WriteString(rw.widths, rw.header())
	_ = rw.widths.Flush() // io.Discard does not fail
}

func (rw *reportWriter) header() string {
	switch {
	case rw.format == formatSummary && rw.qualify:
		return paintHeader(workloadSummaryHeader, "VERDICT", rw.colour)
	case rw.format == formatSummary:
		return paintHeader(summaryHeader, "VERDICT", rw.colour)
	case rw.qualify:
		return paintHeader(workloadTableHeader, "STATUS", rw.colour)
	}
	return paintHeader(tableHeader, "STATUS", rw.colour)
}

// renderedObject is one object of the report rendered: its table rows, JSON
// array element or YAML list item, and the table's Fixes lines.
type renderedObject struct {
	verdict verify.Status
	text    []byte
	fixes   []byte
	// fixCount is how many lines fixes holds; breaksCells tells that a cell of
	// the rows holds a byte that ends a cell or a line for a tabwriter.
	fixCount    int
	breaksCells bool
	// findings are the object's checks that do not pass, for the summary.
	findings []objectFinding
	// counted is the object's verdict and check statuses, for the summary count.
	counted verify.ObjectReport
	// sarif are the object's SARIF results.
	sarif []sarifResult
}

// Add renders one object, whose verdict is already judged, and adds it.
func (rw *reportWriter) Add(obj verify.ObjectReport) error {
	r, err := rw.Render(obj)
	if err != nil {
		return err
	}
	return rw.AddRendered(r)
}

// Render renders one object, whose verdict is already judged; it may run
// concurrently with itself and with AddRendered.
func (rw *reportWriter) Render(obj verify.ObjectReport) (renderedObject, error) {
	r, err := rw.render(obj)
	r.counted = verify.ObjectReport{Verdict: obj.Verdict, Checks: make([]verify.Check, len(obj.Checks))}
	for i, c := range obj.Checks {
		r.counted.Checks[i].Status = c.Status
	}
	return r, err
}

func (rw *reportWriter) render(obj verify.ObjectReport) (renderedObject, error) {
	switch rw.format {
	case "json":
		return renderJSON(obj)
	case "yaml":
		return renderYAML(obj)
	case formatSummary:
		return renderSummaryRow(obj, rw.colour, rw.qualify), nil
	case formatSARIF:
		return renderSARIF(obj, rw.lines), nil
	}
	return renderRows(obj, rw.colour, rw.qualify), nil
}

// AddRendered adds a rendered object after those added before.
func (rw *reportWriter) AddRendered(r renderedObject) error {
	rw.count++
	rw.summary.Add(r.counted)
	if rw.format == formatSARIF {
		rw.sarif = append(rw.sarif, r.sarif...)
		return nil
	}
	if rw.format == "json" && rw.count > 1 {
		if _, err := io.WriteString(rw.objects, ",\n"); err != nil {
			return err
		}
	}
	if _, err := rw.objects.Write(r.text); err != nil {
		return err
	}
	if !rw.table() {
		return nil
	}
	rw.findings.add(r.findings)
	rw.aligned = rw.aligned && !r.breaksCells
	if _, err := rw.widths.Write(r.text); err != nil {
		return err
	}
	if err := rw.widths.Flush(); err != nil {
		return err
	}
	rw.fixCount += r.fixCount
	_, err := rw.fixes.Write(r.fixes)
	return err
}

// renderJSON renders an element of the report's "objects" array: indented two
// levels, without the separator or the newline that follow.
func renderJSON(obj verify.ObjectReport) (renderedObject, error) {
	var buf bytes.Buffer
	buf.WriteString("    ")
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	if err := enc.Encode(obj); err != nil {
		return renderedObject{}, err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return renderedObject{verdict: obj.Verdict, text: buf.Bytes()}, nil
}

// yamlObjectsKey opens the report's list of objects, the first of its sorted keys.
const yamlObjectsKey = "objects:\n"

// renderYAML renders an item of the report's objects list, inside the list as
// the whole report renders it: long strings fold at the same columns.
func renderYAML(obj verify.ObjectReport) (renderedObject, error) {
	b, err := yaml.Marshal(struct {
		Objects []verify.ObjectReport `json:"objects"`
	}{[]verify.ObjectReport{obj}})
	if err != nil {
		return renderedObject{}, err
	}
	item, ok := bytes.CutPrefix(b, []byte(yamlObjectsKey))
	if !ok {
		return renderedObject{}, fmt.Errorf("rendering %s/%s as YAML: unexpected %.40q", obj.Namespace, obj.Name, b)
	}
	return renderedObject{verdict: obj.Verdict, text: item}, nil
}

// renderRows renders the table's rows of an object and its Fixes lines, each
// after a newline; qualify names it TYPE/NAME.
func renderRows(obj verify.ObjectReport, colour, qualify bool) renderedObject {
	r := renderedObject{verdict: obj.Verdict}
	var rows, fixes bytes.Buffer
	name, object := obj.Name, obj.Namespace+"/"+obj.Name
	if qualify {
		name = strings.ToLower(obj.Kind) + "/" + obj.Name
		object = obj.Namespace + " " + name
	}
	for _, c := range obj.Checks {
		container := c.Container
		if container == "" {
			container = "-"
		}
		cells := []string{obj.Namespace, name, c.ID, container, paintCell(string(c.Status), c.Status, colour), c.Message}
		for i, cell := range cells {
			r.breaksCells = r.breaksCells || breaksCell(cell)
			rows.WriteString(cell)
			if i < len(cells)-1 {
				rows.WriteByte('\t')
			}
		}
		rows.WriteByte('\n')
		if c.Fix == "" {
			continue
		}
		where := c.ID
		if c.Container != "" {
			where += " (" + c.Container + ")"
		}
		r.fixCount++
		fmt.Fprintf(&fixes, "\n  %s %s: %s", object, where, c.Fix)
	}
	r.text, r.fixes = rows.Bytes(), fixes.Bytes()
	return r
}

// breaksCell tells whether s holds a byte a tabwriter reads as the end of a cell
// or a line, or as its escape.
func breaksCell(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\t', '\n', '\v', '\f', tabwriter.Escape:
			return true
		}
	}
	return false
}

// WriteTo writes the report: head holds its verdict, skipped objects and
// strictness, and the objects added make its objects. With none added,
// head.Objects is written as it is (null or []).
func (rw *reportWriter) WriteTo(w io.Writer, head verify.PreflightReport) error {
	if rw.count > 0 {
		head.Objects = []verify.ObjectReport{}
	}
	if !rw.table() {
		head.SchemaVersion = verify.PreflightSchemaVersion
		head.Summary = rw.summary
	}
	// A tabwriter writes each cell and its padding apart: a system call each on
	// a bare stdout.
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch rw.format {
	case "json":
		err = rw.writeJSON(bw, head)
	case "yaml":
		err = rw.writeYAML(bw, head)
	case formatSARIF:
		err = rw.writeSARIF(bw)
	default:
		err = rw.writeTable(bw, head)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func (rw *reportWriter) writeJSON(w io.Writer, head verify.PreflightReport) error {
	var frame bytes.Buffer
	if err := writeJSON(&frame, head); err != nil {
		return err
	}
	if rw.count == 0 {
		_, err := w.Write(frame.Bytes())
		return err
	}
	// The frame's "objects": [] (the second key, after the verdict) is where the
	// elements go.
	before, after, ok := bytes.Cut(frame.Bytes(), []byte("\n  \"objects\": []"))
	if !ok {
		return fmt.Errorf("rendering the report as JSON: no objects in %.80q", frame.Bytes())
	}
	return rw.splice(w, before, "\n  \"objects\": [\n", "\n  ]", after)
}

func (rw *reportWriter) writeYAML(w io.Writer, head verify.PreflightReport) error {
	b, err := yaml.Marshal(head)
	if err != nil {
		return err
	}
	if rw.count == 0 {
		_, err := w.Write(b)
		return err
	}
	// Keys are sorted: objects comes after inputs, at the start of a line.
	i := bytes.Index(b, []byte("\nobjects: []\n")) + 1
	if !bytes.HasPrefix(b, []byte("objects: []\n")) && i == 0 {
		return fmt.Errorf("rendering the report as YAML: unexpected %.40q", b)
	}
	return rw.splice(w, b[:i], yamlObjectsKey, "", b[i+len("objects: []\n"):])
}

// splice writes before, open, the rendered objects, closing, after.
func (rw *reportWriter) splice(w io.Writer, before []byte, open, closing string, after []byte) error {
	if _, err := w.Write(before); err != nil {
		return err
	}
	if _, err := io.WriteString(w, open); err != nil {
		return err
	}
	objects, err := rw.objects.Reader()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, objects); err != nil {
		return err
	}
	if _, err := io.WriteString(w, closing); err != nil {
		return err
	}
	_, err = w.Write(after)
	return err
}

func (rw *reportWriter) writeTable(w io.Writer, head verify.PreflightReport) error {
	tw := printers.GetNewTabWriter(w)
	if rw.aligned {
		tw.SetRememberedWidths(rw.widths.RememberedWidths())
	}
	if _, err := io.WriteString(tw, rw.header()); err != nil {
		return err
	}
	rows, err := rw.objects.Reader()
	if err != nil {
		return err
	}
	if err := copyRows(tw, rows, rw.aligned); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rw.fixCount > 0 {
		if _, err := io.WriteString(w, "\nFixes:"); err != nil {
			return err
		}
		fixes, err := rw.fixes.Reader()
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, fixes); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	if err := rw.findings.writeTo(w, rw.colour); err != nil {
		return err
	}
	printSkipped(w, head.Skipped)
	verdict := paint(string(head.Verdict), head.Verdict, rw.colour)
	if head.Strict {
		verdict += " (--strict: warnings fail)"
	}
	_, err = fmt.Fprintf(w, "\nVerdict: %s\n", verdict)
	return err
}

// copyRows writes the table's rows to tw. With its widths known (flush), tw
// writes them out every tableFlushLines rows instead of holding all of them.
func copyRows(tw *tabwriter.Writer, rows io.Reader, flush bool) error {
	if !flush {
		_, err := io.Copy(tw, rows)
		return err
	}
	br := bufio.NewReaderSize(rows, 64<<10)
	for lines := 0; ; {
		line, err := br.ReadSlice('\n')
		if _, werr := tw.Write(line); werr != nil {
			return werr
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue // the rest of a long row comes next
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		if lines++; lines%tableFlushLines == 0 {
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
}

// Close removes the spools.
func (rw *reportWriter) Close() error {
	err := rw.objects.Close()
	if rw.fixes != nil {
		err = errors.Join(err, rw.fixes.Close())
	}
	return err
}
