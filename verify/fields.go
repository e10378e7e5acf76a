package verify

// unknown-fields: a field the workload's API version does not have is dropped
// by the API server without a word, so `terminationGracePeriodSecond: 90` runs
// with the default of 30. Say so, and name the field that was probably meant.

import (
	"reflect"
	"strings"
)

func checkUnknownFields(w *Workload, paths []string) Check {
	ch := Check{ID: CheckUnknownFields, Status: StatusWarn}
	findings := make([]string, 0, len(paths))
	var renames []string
	for _, p := range paths {
		f := "unknown field " + p
		if alt := suggestField(w.kind.apiType(), p); alt != "" {
			f += " (did you mean " + alt + "?)"
			renames = append(renames, p+" → "+alt)
		}
		findings = append(findings, f)
	}
	ch.Message = strings.Join(findings, "; ") + ": the API server drops unknown fields, so the " + w.Kind + " runs with the defaults instead"
	ch.Fix = "remove or correct the field (kubectl explain " + strings.ToLower(w.Kind) + ".spec shows the known ones)"
	if len(renames) > 0 {
		ch.Fix = "rename " + strings.Join(renames, ", ")
	}
	return ch
}

// suggestField returns the known field of the object type t closest to an
// unknown one, by its full path (spec.template.spec.terminationGracePeriodSeconds), or "".
func suggestField(t reflect.Type, path string) string {
	segments := strings.Split(path, ".")
	for _, seg := range segments[:len(segments)-1] {
		next, ok := jsonFields(t)[strings.TrimRightFunc(seg, isIndexRune)]
		if !ok {
			return ""
		}
		t = next
	}
	unknown := segments[len(segments)-1]
	best, bestDistance := "", 3 // up to two edits: a typo, not another field
	for name := range jsonFields(t) {
		d := editDistance(strings.ToLower(unknown), strings.ToLower(name))
		if d < bestDistance || d == bestDistance && best != "" && name < best {
			best, bestDistance = name, d
		}
	}
	if best == "" {
		return ""
	}
	return strings.Join(append(segments[:len(segments)-1:len(segments)-1], best), ".")
}

// isIndexRune matches the "[0]" the decoder appends to a list's path segment.
func isIndexRune(r rune) bool {
	return r == ']' || r == '[' || r >= '0' && r <= '9'
}

// jsonFields maps the JSON names of a struct's fields (inline ones included) to
// their element types; lists, maps and pointers are looked through.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	t = elem(t)
	out := map[string]reflect.Type{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "" && (f.Anonymous || strings.Contains(opts, "inline")):
			for n, ft := range jsonFields(f.Type) {
				out[n] = ft
			}
		case name == "":
			out[f.Name] = elem(f.Type)
		default:
			out[name] = elem(f.Type)
		}
	}
	return out
}

func elem(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return t
		}
	}
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
