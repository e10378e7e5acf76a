package cli

// Where each object of -f is written: cli-runtime's builder keeps the file an
// object came from but not its line, which -o json and -o sarif report (a CI
// system shows a finding on the manifest's line). The files are split into
// their YAML documents again, each with the line it starts at, and each
// workload's document is kept as a yaml.Node tree to find the line of a field.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// manifestDocument is a workload's document in a file.
type manifestDocument struct {
	file string
	// line is the line of the document's first key in the file, from 1.
	line int
	// root is the document's top mapping; nil when it did not parse (the
	// builder reports that).
	root *yaml.Node
	// offset turns a line of root's tree into a line of the file.
	offset int
}

type manifestObjectKey struct{ kind, namespace, name string }

// manifestLines finds the document of a workload of -f.
type manifestLines struct {
	documents map[manifestObjectKey]manifestDocument
}

// readManifestLines indexes the workloads of the files of opts (stdin, URLs
// and JSON files are not indexed: their objects have no line).
func readManifestLines(opts resource.FilenameOptions) *manifestLines {
	m := &manifestLines{documents: map[manifestObjectKey]manifestDocument{}}
	for _, arg := range opts.Filenames {
		for _, f := range expandFilename(arg, opts.Recursive) {
			if !f.file || strings.HasSuffix(f.name, ".json") {
				continue
			}
			data, err := os.ReadFile(f.name)
			if err != nil {
				continue // the builder has said what is wrong
			}
			m.addFile(f.name, data)
		}
	}
	return m
}

// addFile indexes the workload documents of a YAML file.
func (m *manifestLines) addFile(file string, data []byte) {
	for _, doc := range splitDocuments(data) {
		var node yaml.Node
		if err := yaml.Unmarshal(doc.data, &node); err != nil || len(node.Content) == 0 {
			continue
		}
		root := node.Content[0]
		if root.Kind != yaml.MappingNode {
			continue
		}
		kind := scalarAt(root, "kind")
		switch kind {
		case "Deployment", verify.KindStatefulSet, verify.KindDaemonSet:
		default:
			continue
		}
		key := manifestObjectKey{kind: kind, namespace: scalarAt(root, "metadata", "namespace"), name: scalarAt(root, "metadata", "name")}
		if _, seen := m.documents[key]; seen {
			continue // the first, as the builder reads them
		}
		offset := doc.line - 1
		m.documents[key] = manifestDocument{file: file, line: offset + root.Line, root: root, offset: offset}
	}
}

// find returns the document of a workload; namespace is the one it was
// checked in (a document without one takes -n's).
func (m *manifestLines) find(kind, namespace, name string) (manifestDocument, bool) {
	if m == nil {
		return manifestDocument{}, false
	}
	if d, ok := m.documents[manifestObjectKey{kind, namespace, name}]; ok {
		return d, true
	}
	d, ok := m.documents[manifestObjectKey{kind, "", name}]
	return d, ok
}

// source is where a workload came from, nil when unknown.
func (m *manifestLines) source(kind, namespace, name string) *verify.ObjectSource {
	d, ok := m.find(kind, namespace, name)
	if !ok {
		return nil
	}
	return &verify.ObjectSource{File: d.file, Line: d.line}
}

// yamlDocument is one document of a file and the line it starts at.
type yamlDocument struct {
	data []byte
	line int
}

// splitDocuments cuts YAML at its document separators ("---" lines), as
// utilyaml.YAMLReader does, and counts the line each document starts at.
func splitDocuments(data []byte) []yamlDocument {
	var docs []yamlDocument
	r := bufio.NewReader(bytes.NewReader(data))
	var cur bytes.Buffer
	start, line := 1, 0
	for {
		text, err := r.ReadBytes('\n')
		if len(text) > 0 {
			line++
			if isDocumentSeparator(text) {
				docs = append(docs, yamlDocument{data: bytes.Clone(cur.Bytes()), line: start})
				cur.Reset()
				start = line + 1
			} else {
				cur.Write(text)
			}
		}
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
	}
	return append(docs, yamlDocument{data: cur.Bytes(), line: start})
}

// scalarAt is the scalar at a path of mapping keys, "" when absent.
func scalarAt(n *yaml.Node, path ...string) string {
	if v := nodeAt(n, path...); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// nodeAt follows mapping keys from n; nil when a key is absent.
func nodeAt(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// keyLine is the line of the key that ends path (the line a reader looks for
// the field on), 0 when absent.
func keyLine(n *yaml.Node, path ...string) int {
	if len(path) == 0 {
		return n.Line
	}
	parent := nodeAt(n, path[:len(path)-1]...)
	if parent == nil || parent.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == path[len(path)-1] {
			return parent.Content[i].Line
		}
	}
	return 0
}

// containerNode is the container named name of the pod template, among
// containers and initContainers (native sidecars).
func containerNode(root *yaml.Node, name string) *yaml.Node {
	for _, list := range []string{"containers", "initContainers"} {
		seq := nodeAt(root, "spec", "template", "spec", list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range seq.Content {
			if scalarAt(c, "name") == name {
				return c
			}
		}
	}
	return nil
}

// checkLine is the line of the field a finding is about, in the file: the
// probe, hook, grace period or strategy, or the container; the document's
// first line when none is written (a field that is missing).
func (d manifestDocument) checkLine(c verify.Check) int {
	if d.root == nil {
		return d.line
	}
	at := func(n *yaml.Node, paths ...[]string) int {
		for _, p := range paths {
			if n == nil {
				return 0
			}
			if l := keyLine(n, p...); l > 0 {
				return d.offset + l
			}
		}
		return 0
	}
	var line int
	container := containerNode(d.root, c.Container)
	switch c.ID {
	case verify.CheckReadinessProbe, verify.CheckReadinessReaction:
		line = at(container, []string{"readinessProbe"}, []string{"name"})
	case verify.CheckReadinessLiveness:
		line = at(container, []string{"livenessProbe"}, []string{"name"})
	case verify.CheckPreStopHook:
		line = at(container, []string{"lifecycle", "preStop"}, []string{"name"})
	case verify.CheckGraceBudget:
		line = at(d.root, []string{"spec", "template", "spec", "terminationGracePeriodSeconds"}, []string{"spec", "template", "spec"})
	case verify.CheckRolloutStrategy:
		line = at(d.root, []string{"spec", "strategy"}, []string{"spec", "updateStrategy"}, []string{"spec", "replicas"}, []string{"spec"})
	case verify.CheckPaused:
		line = at(d.root, []string{"spec", "paused"})
	default:
		if container != nil {
			line = at(container, []string{"name"})
		}
	}
	if line == 0 {
		return d.line
	}
	return line
}
