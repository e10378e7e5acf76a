package cli

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// printWhole is how preflight printed a report before it wrote it object by
// object: the whole report at once, the table through one tabwriter.
func printWhole(w io.Writer, r verify.PreflightReport, format string, colour bool) error {
	if format == "json" || format == "yaml" {
		r.SchemaVersion = verify.PreflightSchemaVersion
		r.Summary = verify.NewPreflightSummary()
		for _, o := range r.Objects {
			r.Summary.Add(o)
		}
	}
	switch format {
	case "json":
		return writeJSON(w, r)
	case "yaml":
		return writeYAML(w, r)
	}
	tw := printers.GetNewTabWriter(w)
	// Other kinds than Deployments: a WORKLOAD column of TYPE/NAME.
	qualify := slices.ContainsFunc(r.Objects, func(o verify.ObjectReport) bool { return o.Kind != "Deployment" })
	nameOf := func(obj verify.ObjectReport) string {
		if qualify {
			return strings.ToLower(obj.Kind) + "/" + obj.Name
		}
		return obj.Name
	}
	if qualify {
		fmt.Fprint(tw, paintHeader("NAMESPACE\tWORKLOAD\tCHECK\tCONTAINER\tSTATUS\tFINDING\n", "STATUS", colour))
	} else {
		fmt.Fprint(tw, paintHeader("NAMESPACE\tDEPLOYMENT\tCHECK\tCONTAINER\tSTATUS\tFINDING\n", "STATUS", colour))
	}
	for _, obj := range r.Objects {
		for _, c := range obj.Checks {
			container := c.Container
			if container == "" {
				container = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", obj.Namespace, nameOf(obj), c.ID, container, paintCell(string(c.Status), c.Status, colour), c.Message)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var fixes []string
	for _, obj := range r.Objects {
		for _, c := range obj.Checks {
			if c.Fix == "" {
				continue
			}
			where := c.ID
			if c.Container != "" {
				where += " (" + c.Container + ")"
			}
			object := obj.Namespace + "/" + obj.Name
			if qualify {
				object = obj.Namespace + " " + nameOf(obj)
			}
			fixes = append(fixes, fmt.Sprintf("  %s %s: %s", object, where, c.Fix))
		}
	}
	if len(fixes) > 0 {
		fmt.Fprintf(w, "\nFixes:\n%s\n", strings.Join(fixes, "\n"))
	}
	printSkipped(w, r.Skipped)
	verdict := paint(string(r.Verdict), r.Verdict, colour)
	if r.Strict {
		verdict += " (--strict: warnings fail)"
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", verdict)
	return nil
}

// randomReport makes a report of n objects whose cells vary in width, with long
// findings (YAML folds them), HTML characters and non-ASCII text; odd adds the
// bytes that end a tabwriter cell to some names.
func randomReport(rng *rand.Rand, n int, odd bool) verify.PreflightReport {
	words := []string{"readiness", "probe", ">=", "<", "&", "30s", "terminationGracePeriodSeconds", "Service", "é", "日本", "—", `"quoted"`, "x"}
	text := func(max int) string {
		var b strings.Builder
		for i := range rng.IntN(max) + 1 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		return b.String()
	}
	statuses := []verify.Status{verify.StatusPass, verify.StatusSkip, verify.StatusWarn, verify.StatusFail}
	objects := make([]verify.ObjectReport, n)
	for i := range objects {
		o := verify.ObjectReport{Kind: "Deployment", Namespace: fmt.Sprintf("team-%d", rng.IntN(30)), Name: strings.Repeat("w", rng.IntN(40)+1)}
		if odd && i%7 == 3 {
			o.Name += []string{"\tx", "\nx", "\vx", "\fx", "\xffx"}[i%5]
		}
		for range rng.IntN(12) {
			c := verify.Check{ID: words[rng.IntN(len(words))], Status: statuses[rng.IntN(len(statuses))], Message: text(40)}
			if rng.IntN(2) == 0 {
				c.Container = text(2)
			}
			if c.Status == verify.StatusWarn || c.Status == verify.StatusFail {
				c.Fix = text(20)
			}
			o.Checks = append(o.Checks, c)
		}
		objects[i] = o
	}
	r := verify.NewPreflightReport(objects)
	if rng.IntN(2) == 0 {
		r.Skipped = []verify.SkippedObject{{Kind: "StatefulSet", APIVersion: "apps/v1", Name: "db", Namespace: "ns", Source: "f.yaml", Reason: "preflight checks Deployments only"}}
	}
	if rng.IntN(2) == 0 {
		r = r.AsStrict()
	}
	return r
}

// The report written object by object is byte for byte the report printed
// whole, in every format, with and without colour.
func TestReportWriterPrintsAsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	reports := map[string]verify.PreflightReport{
		"nil objects":   {Verdict: verify.StatusPass},
		"empty objects": verify.NewPreflightReport([]verify.ObjectReport{}),
		"no checks":     verify.NewPreflightReport([]verify.ObjectReport{{Kind: "Deployment", Namespace: "ns", Name: "web"}}),
	}
	for i := range 6 {
		reports[fmt.Sprintf("random %d", i)] = randomReport(rng, rng.IntN(30)+1, false)
	}
	reports["cells that end cells"] = randomReport(rng, 40, true)
	// More rows than one flush of the table.
	reports["large"] = randomReport(rng, 300, false)
	// The widest cells in the last rows, after the first flush.
	widestLast := make([]verify.ObjectReport, 2*tableFlushLines)
	for i := range widestLast {
		widestLast[i] = verify.ObjectReport{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("web-%d", i),
			Checks: []verify.Check{{ID: "pdb", Status: verify.StatusPass, Message: "m"}}}
	}
	widestLast[len(widestLast)-1].Namespace = strings.Repeat("n", 70)
	reports["widest last"] = verify.NewPreflightReport(widestLast)
	for name, r := range reports {
		for _, format := range []string{formatWide, "json", "yaml"} {
			for _, colour := range []bool{false, true} {
				if (name == "large" || name == "widest last") && colour {
					continue // the same path as without
				}
				var want, got bytes.Buffer
				if err := printWhole(&want, r, format, colour); err != nil {
					t.Fatal(err)
				}
				if err := printPreflight(&got, r, format, colour); err != nil {
					t.Fatalf("%s -o %q: %v", name, format, err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s -o %q colour %v: written object by object\n%s\nwant\n%s", name, format, colour, clip(got.String()), clip(want.String()))
				}
			}
		}
	}
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// breaksCell tells the bytes a tabwriter ends a cell or a line at.
func TestBreaksCell(t *testing.T) {
	for s, want := range map[string]bool{
		"":           false,
		"web":        false,
		"é 日本 \r ->": false,
		"a\tb":       true,
		"a\nb":       true,
		"a\vb":       true,
		"a\fb":       true,
		"a\xffb":     true,
	} {
		if got := breaksCell(s); got != want {
			t.Errorf("breaksCell(%q) = %v, want %v", s, got, want)
		}
	}
}
