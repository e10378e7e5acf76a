package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// preflightWhole is how preflight --local -f checked manifests before it read
// them in parts and kept findings, not objects: every object in memory, every
// workload checked against every Service, PDB, HPA and Ingress, the report
// printed whole.
func preflightWhole(t *testing.T, paths []string, format string, strict bool) string {
	t.Helper()
	opts := resource.FilenameOptions{Filenames: paths, Recursive: true}
	infos, err := resource.NewLocalBuilder().Unstructured().FilenameParam(false, &opts).Flatten().Do().Infos()
	if err != nil {
		t.Fatal(err)
	}
	var m verify.Manifests
	for _, info := range infos {
		u := info.Object.(*unstructured.Unstructured)
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if err := m.Add(u, info.Source); err != nil {
			t.Fatal(err)
		}
	}
	objects := make([]verify.ObjectReport, 0, len(m.Workloads))
	lines := readManifestLines(opts)
	for _, w := range m.Workloads {
		b, err := verify.DefaultGraceBudget().WithAnnotations(w.Annotations)
		if err != nil {
			t.Fatal(err)
		}
		env := verify.Environment{Local: true, Services: m.Services, PDBs: m.PDBs, HPAs: m.HPAs, Ingresses: m.Ingresses, UnknownFields: m.WorkloadUnknownFields(w)}
		obj := verify.CheckWorkload(w, b, env)
		if format != formatWide {
			obj.Source = lines.source(obj.Kind, obj.Namespace, obj.Name)
		}
		objects = append(objects, obj)
	}
	report := verify.NewPreflightReport(objects)
	report.Skipped = m.Skipped
	report.Inputs = preflightInputs(verify.DefaultGraceBudget())
	if strict {
		report = report.AsStrict()
	}
	var out bytes.Buffer
	if err := printWhole(&out, report, format, false); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Many manifests, read in parts, checked a few at a time, the report spooled:
// the output is the one of the whole-in-memory preflight, byte for byte.
func TestPreflightManifestsAsWhole(t *testing.T) {
	var docs []string
	for _, dir := range []string{realWorld, td, td + "dir", td + "dir/nested"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch name := e.Name(); {
			case e.IsDir(), !strings.HasSuffix(name, ".yaml"),
				strings.HasPrefix(name, "malformed"), name == "bad-annotation.yaml", name == "wrong-type.yaml":
				// Errors have tests of their own.
			default:
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, string(b))
			}
		}
	}
	all := strings.Join(docs, "\n---\n")
	tmp := t.TempDir()
	big := filepath.Join(tmp, "big.yaml")
	// More rows than a flush of the table. (Reading in several parts has tests
	// of its own: TestVisitManifestsAsOneBuilder.)
	if err := os.WriteFile(big, []byte(strings.Repeat(all+"\n---\n", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "dir")
	for i, doc := range docs {
		path := filepath.Join(dir, string(rune('a'+i/10)), string(rune('a'+i%10))+".yaml")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		paths  []string
		format string
		strict bool
	}{
		{"one file", []string{big}, formatWide, false},
		{"one file, JSON, strict", []string{big}, "json", true},
		{"a directory and a file, YAML", []string{dir, big}, "yaml", false},
		{"a directory, strict", []string{dir}, formatWide, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"preflight", "--local", "-R"}
			for _, p := range tc.paths {
				args = append(args, "-f", p)
			}
			if tc.format != "" {
				args = append(args, "-o", tc.format)
			}
			if tc.strict {
				args = append(args, "--strict")
			}
			r := runCmd(t, args...)
			if r.code != ExitPreflightFailed || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 2 and nothing", r.code, r.stderr)
			}
			if want := preflightWhole(t, tc.paths, tc.format, tc.strict); r.stdout != want {
				t.Errorf("output differs from the whole-in-memory preflight's (%d and %d bytes)\n%s", len(r.stdout), len(want), firstDifference(r.stdout, want))
			}
		})
	}
}

// firstDifference shows where two outputs part.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-200)
	return "got:  …" + got[from:min(len(got), i+200)] + "\nwant: …" + want[from:min(len(want), i+200)]
}
