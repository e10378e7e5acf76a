package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/resource"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

func TestIsDocumentSeparator(t *testing.T) {
	for line, want := range map[string]bool{
		"---\n":           true,
		"---":             true,
		"---\r\n":         true,
		"---  \t\n":       true,
		"--- # comment\n": false, // a separator, but not one to cut at
		"--- foo\n":       false,
		"----\n":          false,
		" ---\n":          false,
		"--\n":            false,
		"a: ---\n":        false,
	} {
		if got := isDocumentSeparator([]byte(line)); got != want {
			t.Errorf("isDocumentSeparator(%q) = %v, want %v", line, got, want)
		}
	}
}

// service is a small manifest document.
func service(i int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\nspec:\n  selector: {app: web-%d}\n  ports: [{port: 80}]\n", i, i)
}

func deploymentDoc(i int) string {
	return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-%d, namespace: ns-%d}\nspec:\n  selector: {matchLabels: {app: web-%d}}\n"+
		"  template:\n    metadata: {labels: {app: web-%d}}\n    spec:\n      containers: [{name: app, image: web:%d}]\n", i, i%3, i, i, i)
}

// manyDocuments joins n Deployments and Services with separators of every kind.
func manyDocuments(n int, eol string) string {
	separators := []string{"---\n", "--- # next\n", "---   \n", "---\n---\n", "---\nnull\n---\n"}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(separators[i%len(separators)])
		}
		if i%2 == 0 {
			b.WriteString(deploymentDoc(i))
		} else {
			b.WriteString(service(i))
		}
	}
	return strings.ReplaceAll(b.String(), "\n", eol)
}

// The manifests read in parts, several at once, are what one builder reads of
// them: the same objects from the same sources, in the same order, or the same
// first error.
func TestVisitManifestsAsOneBuilder(t *testing.T) {
	big := manyDocuments(120, "\n")
	tests := []struct {
		name  string
		files map[string]string
		// args are the -f arguments, relative to the directory of the files.
		args []string
	}{
		{name: "one multi-document file", files: map[string]string{"all.yaml": big}, args: []string{"all.yaml"}},
		{name: "CRLF line ends", files: map[string]string{"all.yaml": manyDocuments(60, "\r\n")}, args: []string{"all.yaml"}},
		{name: "a directory, nested, other files ignored", files: map[string]string{
			"dir/a.yaml": manyDocuments(9, "\n"), "dir/b.yml": service(1), "dir/nested/c.json": `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "json"}}`,
			"dir/notes.txt": "not a manifest", "dir/empty.yaml": "",
		}, args: []string{"dir"}},
		{name: "files, a directory and a file again", files: map[string]string{"a.yaml": big, "dir/b.yaml": service(7)}, args: []string{"dir", "a.yaml", "dir/b.yaml"}},
		{name: "a JSON document in a YAML stream", files: map[string]string{"all.yaml": manyDocuments(30, "\n") +
			"---\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"flow\"}}\n---\n" + manyDocuments(30, "\n")}, args: []string{"all.yaml"}},
		{name: "JSON documents in a YAML stream, one after the other", files: map[string]string{"all.yaml": manyDocuments(30, "\n") +
			"---\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"one\"}}\n---\n" +
			"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"two\"}}\n---\n" + manyDocuments(30, "\n")}, args: []string{"all.yaml"}},
		{name: "two JSON objects in one YAML document", files: map[string]string{"all.yaml": manyDocuments(30, "\n") +
			"---\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"one\"}}\n" +
			"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"two\"}}\n---\n" + manyDocuments(30, "\n")}, args: []string{"all.yaml"}},
		{name: "a byte order mark inside", files: map[string]string{"all.yaml": manyDocuments(30, "\n") + "---\n\xef\xbb\xbf" + manyDocuments(30, "\n")}, args: []string{"all.yaml"}},
		{name: "a JSON stream", files: map[string]string{"all.json": `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}` + "\n" +
			`{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}`}, args: []string{"all.json"}},
		{name: "a byte order mark", files: map[string]string{"bom.yaml": "\xef\xbb\xbf" + manyDocuments(20, "\n")}, args: []string{"bom.yaml"}},
		{name: "UTF-16", files: map[string]string{"utf16.yaml": utf16(service(3))}, args: []string{"utf16.yaml"}},
		{name: "bytes that are not UTF-8", files: map[string]string{"latin1.yaml": manyDocuments(20, "\n") + "---\n" +
			strings.Replace(service(99), "port: 80", "port: 80}]\n  externalName: caf\xe9\n  x: [{y: 1", 1)}, args: []string{"latin1.yaml"}},
		{name: "a List", files: map[string]string{"list.yaml": manyDocuments(10, "\n") + "---\napiVersion: v1\nkind: List\nitems:\n- " +
			strings.ReplaceAll(strings.TrimSuffix(service(50), "\n"), "\n", "\n  ") + "\n- " + strings.ReplaceAll(strings.TrimSuffix(service(51), "\n"), "\n", "\n  ") + "\n"}, args: []string{"list.yaml"}},
		{name: "a custom resource and a ConfigMap", files: map[string]string{"crd.yaml": manyDocuments(10, "\n") +
			"---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"}, args: []string{"crd.yaml"}},
		{name: "a document that does not parse, late in a file", files: map[string]string{"all.yaml": big + "---\nkind: Service\nmetadata: {name: [broken\n---\n" + service(1)}, args: []string{"all.yaml"}},
		{name: "a separator with text after it", files: map[string]string{"all.yaml": manyDocuments(40, "\n") + "--- oops\n" + manyDocuments(40, "\n")}, args: []string{"all.yaml"}},
		{name: "an object without a kind", files: map[string]string{"all.yaml": manyDocuments(40, "\n") + "---\napiVersion: v1\nmetadata: {name: nokind}\n---\n" + service(2)}, args: []string{"all.yaml"}},
		{name: "a file that does not parse, then others", files: map[string]string{"dir/a.yaml": "kind: [", "dir/b.yaml": big}, args: []string{"dir"}},
		{name: "an object that does not decode, then a file that does not parse", files: map[string]string{
			"dir/a.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n", "dir/b.yaml": "kind: ["}, args: []string{"dir"}},
		{name: "a pattern", files: map[string]string{"x/a.yaml": service(1), "x/b.yaml": big}, args: []string{"x/*.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			opts := resource.FilenameOptions{Recursive: true}
			for _, a := range tc.args {
				opts.Filenames = append(opts.Filenames, filepath.Join(dir, a))
			}
			want, wantErr := readWithOneBuilder(t, opts)
			for _, partBytes := range []int{1, 700, manifestPartBytes} {
				got, gotErr := readInParts(opts, partBytes)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Errorf("parts of %d bytes: error %v, want %v", partBytes, gotErr, wantErr)
				}
				if wantErr == nil && !slices.Equal(got, want) {
					t.Errorf("parts of %d bytes: objects\n%s\nwant\n%s", partBytes, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// readWithOneBuilder is how preflight read the manifests before it read them in
// parts.
func readWithOneBuilder(t *testing.T, opts resource.FilenameOptions) ([]string, error) {
	t.Helper()
	infos, err := resource.NewLocalBuilder().Unstructured().FilenameParam(false, &opts).Flatten().Do().Infos()
	if err != nil {
		return nil, err
	}
	var objects []string
	for _, info := range infos {
		objects = append(objects, describeManifest(decodeInfoKept(info, readScope{namespace: "default"})))
	}
	return objects, nil
}

func readInParts(opts resource.FilenameOptions, partBytes int) ([]string, error) {
	var objects []string
	err := visitManifests(opts, readScope{namespace: "default"}, partBytes, func(obj decodedManifest) error {
		objects = append(objects, describeManifest(obj))
		return nil
	})
	return objects, err
}

// describeManifest names an object by its source and what it decoded to: the
// JSON a Deployment is spooled as, the JSON the index keeps of other objects,
// or the object skipped.
func describeManifest(obj decodedManifest) string {
	if obj.err != nil {
		return obj.source + ": error " + obj.err.Error()
	}
	if dm := obj.manifest.Deployment(); dm != nil {
		return fmt.Sprintf("%s: Deployment %s unknown %v", obj.source, dm.JSON, dm.UnknownFields)
	}
	var kept jsonCapture
	x := verify.ManifestIndex{Surroundings: verify.NewSurroundings(&kept)}
	if err := x.Add(obj.manifest); err != nil {
		return obj.source + ": not kept: " + err.Error()
	}
	return fmt.Sprintf("%s: %s skipped %+v", obj.source, kept.String(), x.Skipped)
}

// jsonCapture is a verify.JSONStore that shows what is stored.
type jsonCapture struct{ bytes.Buffer }

func (c *jsonCapture) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(c.Bytes()).ReadAt(p, off)
}

// utf16 encodes ASCII text as UTF-16 (little endian) with a byte order mark.
func utf16(s string) string {
	b := []byte{0xff, 0xfe}
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return string(b)
}

// A reader that stops early leaves no work behind.
func TestVisitManifestsStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.yaml")
	if err := os.WriteFile(path, []byte(manyDocuments(400, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err := visitManifests(resource.FilenameOptions{Filenames: []string{path}}, readScope{namespace: "default"}, 512, func(decodedManifest) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("error %v after %d objects, want stop after 3", err, n)
	}
}

// stdin is cut into parts too; JSON on stdin goes to one builder whole.
func TestVisitManifestsStdin(t *testing.T) {
	for name, input := range map[string]string{
		"YAML": manyDocuments(100, "\n"),
		"JSON": `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}` + "\n" + `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			stdin := filepath.Join(t.TempDir(), "stdin")
			if err := os.WriteFile(stdin, []byte(input), 0o600); err != nil {
				t.Fatal(err)
			}
			read := func(read func() ([]string, error)) []string {
				f, err := os.Open(stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				saved := os.Stdin
				os.Stdin = f
				defer func() { os.Stdin = saved }()
				objects, err := read()
				if err != nil {
					t.Fatal(err)
				}
				return objects
			}
			opts := resource.FilenameOptions{Filenames: []string{"-"}}
			want := read(func() ([]string, error) { return readWithOneBuilder(t, opts) })
			got := read(func() ([]string, error) { return readInParts(opts, 600) })
			if !slices.Equal(got, want) || len(want) < 2 {
				t.Errorf("objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !strings.HasPrefix(want[0], stdinSource+": ") {
				t.Errorf("source of %q, want %s", want[0], stdinSource)
			}
		})
	}
}

func decodeInfoKept(info *resource.Info, scope readScope) decodedManifest {
	obj, _ := decodeInfo(info, scope)
	return obj
}
