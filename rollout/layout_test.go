package rollout_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/safe-rollout/kubectl-safe-rollout"

// goList runs `go list` on one of the module's packages with a template.
func goList(t *testing.T, pkg, template string, deps bool) []string {
	t.Helper()
	args := []string{"list", "-f", template}
	if deps {
		args = append(args, "-deps")
	}
	out, err := exec.Command("go", append(args, module+"/"+pkg)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// TestLayout pins the import graph: pure packages stay pure and the engines
// never see cobra (docs/architecture.md).
func TestLayout(t *testing.T) {
	forbiddenDeps := map[string][]string{
		// Pure: folding events and deciding on breaches touch no client and no terminal.
		"rollout/state":       {"k8s.io/client-go", "github.com/spf13/cobra", "google.golang.org/grpc"},
		"rollout/policy":      {"k8s.io/client-go", "github.com/spf13/cobra", "google.golang.org/grpc"},
		"rollout/progress":    {"k8s.io/", "github.com/spf13/cobra"},
		"rollout/workload":    {"k8s.io/client-go", "github.com/spf13/cobra"},
		"rollout/attribution": {"k8s.io/", "github.com/spf13/cobra", "google.golang.org/grpc"},
		// verify's contract checks use no network code (apimachinery's types pull
		// in net/http themselves: the direct imports are checked below).
		"verify": {"k8s.io/client-go", "google.golang.org/grpc", module + "/verify/traffic", module + "/verify/metrics", "github.com/spf13/cobra"},
		// The engines never import cobra or the command layer.
		"rollout":         {"github.com/spf13/cobra", module + "/cli"},
		"rollout/watch":   {"github.com/spf13/cobra", module + "/cli"},
		"rollout/actions": {"github.com/spf13/cobra", module + "/cli"},
		"rollout/report":  {"github.com/spf13/cobra", module + "/cli"},
		"rollout/record":  {"github.com/spf13/cobra", module + "/cli"},
		"verify/cluster":  {"github.com/spf13/cobra", module + "/cli"},
		"verify/traffic":  {"github.com/spf13/cobra", module + "/cli", module + "/rollout"},
		"verify/metrics":  {"github.com/spf13/cobra", module + "/cli", module + "/rollout"},
	}
	for pkg, forbidden := range forbiddenDeps {
		for _, dep := range goList(t, pkg, "{{.ImportPath}}", true) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
					t.Errorf("%s depends on %s (forbidden: %s)", pkg, dep, f)
				}
			}
		}
	}
	// The pure packages do no I/O of their own: no direct import of io, os or net.
	for _, pkg := range []string{"rollout/state", "rollout/policy", "rollout/progress", "rollout/attribution", "rollout/workload", "verify"} {
		for _, imp := range goList(t, pkg, `{{join .Imports " "}}`, false) {
			switch imp {
			case "io", "os", "net", "net/http", "bufio":
				t.Errorf("%s imports %s: it must stay pure", pkg, imp)
			}
		}
	}
}
