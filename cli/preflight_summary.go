package cli

// The default preflight table: one row per workload, then only the findings
// that do not pass, each fix printed once with the workloads it applies to. A
// dozen Deployments that share a mistake share its fix: printing it a dozen
// times buries the one finding that differs.

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// worstFindingRunes is how much of the worst finding's message the summary row
// shows; the whole message is in the findings below the table.
const worstFindingRunes = 60

// objectFinding is a check of one object that does not pass.
type objectFinding struct {
	// object names the object as the fixes of the wide table do:
	// NAMESPACE/NAME, or NAMESPACE TYPE/NAME when the report holds other kinds.
	object string
	check  verify.Check
}

// where is the object and, for a container's check, the container.
func (f objectFinding) where() string {
	if f.check.Container == "" {
		return f.object
	}
	return f.object + " (" + f.check.Container + ")"
}

// renderSummaryRow renders an object's summary row, and keeps its findings
// that do not pass; qualify names it TYPE/NAME.
func renderSummaryRow(obj verify.ObjectReport, colour, qualify bool) renderedObject {
	r := renderedObject{verdict: obj.Verdict}
	name, object := obj.Name, obj.Namespace+"/"+obj.Name
	if qualify {
		name = strings.ToLower(obj.Kind) + "/" + obj.Name
		object = obj.Namespace + " " + name
	}
	fails, warns := 0, 0
	worst := -1
	for i, c := range obj.Checks {
		switch c.Status {
		case verify.StatusFail:
			fails++
		case verify.StatusWarn:
			warns++
		default:
			continue
		}
		if worst < 0 || c.Status.Worse(obj.Checks[worst].Status) {
			worst = i
		}
		r.findings = append(r.findings, objectFinding{object: object, check: c})
	}
	worstCell := "-"
	if worst >= 0 {
		c := obj.Checks[worst]
		worstCell = c.ID
		if c.Container != "" {
			worstCell += " (" + c.Container + ")"
		}
		worstCell += ": " + shorten(c.Message, worstFindingRunes)
	}
	cells := []string{obj.Namespace, name, paintCell(string(obj.Verdict), obj.Verdict, colour), strconv.Itoa(fails), strconv.Itoa(warns), worstCell}
	var row bytes.Buffer
	for i, cell := range cells {
		r.breaksCells = r.breaksCells || breaksCell(cell)
		row.WriteString(cell)
		if i < len(cells)-1 {
			row.WriteByte('\t')
		}
	}
	row.WriteByte('\n')
	r.text = row.Bytes()
	return r
}

// shorten cuts s to at most n runes, an ellipsis marking the cut.
func shorten(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return strings.TrimRight(string(runes[:n-1]), " ,:;") + "…"
}

// findingGroups gathers findings that do not pass by status, check and fix:
// one fix, the workloads it applies to.
type findingGroups struct {
	groups []*findingGroup
	index  map[findingKey]*findingGroup
}

type findingKey struct {
	status  verify.Status
	id, fix string
}

// findingGroup is one fix and the findings it fixes, gathered by message.
type findingGroup struct {
	findingKey
	messages []*messageGroup
	objects  map[string]bool
}

// messageGroup is one message and where it was found, in report order.
type messageGroup struct {
	message string
	where   []string
}

func (g *findingGroups) add(findings []objectFinding) {
	for _, f := range findings {
		key := findingKey{status: f.check.Status, id: f.check.ID, fix: f.check.Fix}
		group := g.index[key]
		if group == nil {
			if g.index == nil {
				g.index = map[findingKey]*findingGroup{}
			}
			group = &findingGroup{findingKey: key, objects: map[string]bool{}}
			g.index[key] = group
			g.groups = append(g.groups, group)
		}
		group.objects[f.object] = true
		i := slices.IndexFunc(group.messages, func(m *messageGroup) bool { return m.message == f.check.Message })
		if i < 0 {
			group.messages = append(group.messages, &messageGroup{message: f.check.Message})
			i = len(group.messages) - 1
		}
		group.messages[i].where = append(group.messages[i].where, f.where())
	}
}

// writeTo writes the findings, failures first, each fix once.
func (g *findingGroups) writeTo(w io.Writer, colour bool) error {
	if len(g.groups) == 0 {
		return nil
	}
	// Failures first; a check's groups (one per fix) together, in the order the
	// checks came.
	firstOfCheck := map[string]int{}
	for i, group := range g.groups {
		if _, ok := firstOfCheck[group.id]; !ok {
			firstOfCheck[group.id] = i
		}
	}
	groups := slices.Clone(g.groups)
	slices.SortStableFunc(groups, func(a, b *findingGroup) int {
		if c := b.status.Compare(a.status); c != 0 {
			return c
		}
		return firstOfCheck[a.id] - firstOfCheck[b.id]
	})
	var b bytes.Buffer
	b.WriteString("\nFindings:\n")
	for _, group := range groups {
		fmt.Fprintf(&b, "\n%s %s: %s\n", paint(string(group.status), group.status, colour), group.id, verify.Count(len(group.objects), "workload", "workloads"))
		for _, m := range group.messages {
			fmt.Fprintf(&b, "  %s\n    %s\n", m.message, strings.Join(m.where, ", "))
		}
		if group.fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", group.fix)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
