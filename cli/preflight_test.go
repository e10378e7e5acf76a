package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

const (
	td        = "testdata/preflight/"
	realWorld = "../verify/testdata/real-world/"
)

// Golden tests: the table and the JSON of manifest sets, read with --local.
func TestPreflightGolden(t *testing.T) {
	tests := []struct {
		golden   string
		args     []string
		wantCode int
	}{
		{"good.wide", []string{"-f", td + "good.yaml", "-o", "wide"}, ExitOK},
		{"good.json", []string{"-f", td + "good.yaml", "-o", "json"}, ExitOK},
		{"mistakes.wide", []string{"-f", td + "mistakes.yaml", "-o", "wide"}, ExitPreflightFailed},
		{"mistakes.json", []string{"-f", td + "mistakes.yaml", "-o", "json"}, ExitPreflightFailed},
		{"sidecar.wide", []string{"-f", td + "sidecar.yaml", "-o", "wide"}, ExitOK},
		{"sidecar.json", []string{"-f", td + "sidecar.yaml", "-o", "json"}, ExitOK},
		{"crd.wide", []string{"-f", td + "crd.yaml", "-o", "wide"}, ExitOK},
		// The worker in dir/nested only warns: no ports and no Service, so no
		// readiness checks, and Recreate is a pause of its work, not an outage.
		{"dir.wide", []string{"-f", td + "dir", "-R", "-o", "wide"}, ExitOK},
		{"dir.json", []string{"-f", td + "dir", "-R", "-o", "json"}, ExitOK},
		{"two-files.wide", []string{"-f", td + "dir/app.yaml", "-f", td + "good.yaml", "-o", "wide"}, ExitOK},
		// The annotations state two inputs; the grace period is short only of the
		// assumed others: a warning.
		{"annotations.wide", []string{"-f", td + "annotations.yaml", "-o", "wide"}, ExitOK},
		{"good-budget-flags.wide", []string{"-f", td + "good.yaml", "--endpoint-propagation", "2s", "--drain-delay", "1s", "--max-request", "30s", "--safety-margin", "500ms", "-o", "wide"}, ExitPreflightFailed},
		{"good-drain-delay-warn.wide", []string{"-f", td + "good.yaml", "--drain-delay=1s", "--max-request=19s", "-o", "wide"}, ExitOK},
		// Skipped objects are listed; the misspelt field warns; the HPA sets the replicas.
		{"legacy.wide", []string{"-f", td + "legacy.yaml", "-o", "wide"}, ExitOK},
		{"legacy.json", []string{"-f", td + "legacy.yaml", "-o", "json"}, ExitOK},
		// StatefulSets: a single primary fails rollout-strategy (no surge), a
		// partition names the ordinals that roll. The table names each TYPE/NAME.
		{"statefulset.wide", []string{"-f", td + "statefulset.yaml", "-o", "wide"}, ExitPreflightFailed},
		{"statefulset.json", []string{"-f", td + "statefulset.yaml", "-o", "json"}, ExitPreflightFailed},
		// DaemonSets: the default swap leaves a hostPort, and a Service with
		// internalTrafficPolicy: Local, without their node's pod for a moment.
		{"daemonset.wide", []string{"-f", td + "daemonset.yaml", "-o", "wide"}, ExitOK},
		{"daemonset.json", []string{"-f", td + "daemonset.yaml", "-o", "json"}, ExitOK},
		// Several kinds at once: every name is TYPE/NAME.
		{"kinds.wide", []string{"-f", td + "good.yaml", "-f", td + "daemonset.yaml", "-o", "wide"}, ExitOK},
		// The default: one row per workload, then the findings that do not
		// pass, a fix shared by several workloads printed once.
		{"good", []string{"-f", td + "good.yaml"}, ExitOK},
		{"mistakes", []string{"-f", td + "mistakes.yaml"}, ExitPreflightFailed},
		{"statefulset", []string{"-f", td + "statefulset.yaml"}, ExitPreflightFailed},
		{"daemonset", []string{"-f", td + "daemonset.yaml"}, ExitOK},
		{"kinds", []string{"-f", td + "good.yaml", "-f", td + "daemonset.yaml"}, ExitOK},
		{"microservices-demo", []string{"-f", td + "microservices-demo.yaml"}, ExitOK},
		// SARIF for CI: each finding on the line of its field.
		{"mistakes.sarif", []string{"-f", td + "mistakes.yaml", "-o", "sarif"}, ExitPreflightFailed},
		{"daemonset.sarif", []string{"-f", td + "daemonset.yaml", "-o", "sarif"}, ExitOK},
		{"microservices-demo.wide", []string{"-f", td + "microservices-demo.yaml", "-o", "wide"}, ExitOK},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight", "--local"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			assertGolden(t, tc.golden, r.stdout)
		})
	}
}

// The JSON document is what scripts consume: check its shape and the verdicts
// independently of the golden files.
func TestPreflightJSONShape(t *testing.T) {
	r := runCmd(t, "preflight", "--local", "-f", td+"mistakes.yaml", "-o", "json")
	if r.code != ExitPreflightFailed {
		t.Fatalf("exit code = %d, want 2 (stderr %q)", r.code, r.stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if got := sortedKeys(doc); !reflect.DeepEqual(got, []string{"inputs", "objects", "schemaVersion", "summary", "verdict"}) {
		t.Errorf("top-level keys = %v", got)
	}
	var head struct {
		SchemaVersion int
		Inputs        map[string]float64
		Summary       struct{ Workloads, Findings map[string]int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &head); err != nil {
		t.Fatal(err)
	}
	if head.SchemaVersion != 2 {
		t.Errorf("schemaVersion = %d, want 2", head.SchemaVersion)
	}
	if want := map[string]float64{"endpointPropagationSeconds": 5, "drainDelaySeconds": 5, "maxRequestSeconds": 15, "safetyMarginSeconds": 5}; !reflect.DeepEqual(head.Inputs, want) {
		t.Errorf("inputs = %v, want %v", head.Inputs, want)
	}
	if want := map[string]int{"pass": 0, "warn": 4, "fail": 5}; !reflect.DeepEqual(head.Summary.Workloads, want) {
		t.Errorf("summary.workloads = %v, want %v", head.Summary.Workloads, want)
	}
	var report struct {
		Verdict string
		Objects []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatal(err)
	}
	if report.Verdict != "fail" {
		t.Errorf("verdict = %q, want fail", report.Verdict)
	}
	severity := map[string]int{"pass": 0, "skip": 0, "warn": 1, "fail": 2}
	wantVerdicts := map[string]string{
		// slow-readiness and short-grace only warn: readiness is not what takes a
		// terminating pod out of kube-proxy's rotation, and the grace budget rests on
		// assumed inputs.
		"no-readiness": "fail", "slow-readiness": "warn", "same-probes": "warn", "sleepy-prestop": "warn",
		"endless-sleep": "fail", "short-grace": "warn", "recreate": "fail", "single-no-surge": "fail", "paused": "fail",
	}
	if len(report.Objects) != len(wantVerdicts) {
		t.Fatalf("%d objects, want %d", len(report.Objects), len(wantVerdicts))
	}
	for _, raw := range report.Objects {
		if got := sortedKeys(raw); !reflect.DeepEqual(got, []string{"checks", "kind", "name", "namespace", "source", "verdict"}) {
			t.Errorf("object keys = %v", got)
		}
		var o struct {
			Kind, Namespace, Name, Verdict string
			Checks                         []map[string]any
			Source                         struct {
				File string
				Line int
			}
		}
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		if o.Source.File != td+"mistakes.yaml" || o.Source.Line < 1 {
			t.Errorf("object %s: source %+v", o.Name, o.Source)
		}
		if o.Kind != "Deployment" || o.Namespace != "default" {
			t.Errorf("object %s: kind %q namespace %q", o.Name, o.Kind, o.Namespace)
		}
		if o.Verdict != wantVerdicts[o.Name] {
			t.Errorf("object %s verdict = %q, want %q", o.Name, o.Verdict, wantVerdicts[o.Name])
		}
		worst := "pass"
		for _, c := range o.Checks {
			for k := range c {
				switch k {
				case "id", "status", "container", "message", "fix":
				case "graceSeconds", "budgetSeconds", "recommendedGraceSeconds", "reactionSeconds":
					if _, ok := c[k].(float64); !ok {
						t.Errorf("object %s: %s = %v, want a number", o.Name, k, c[k])
					}
				default:
					t.Errorf("object %s: unexpected check field %q", o.Name, k)
				}
			}
			text := func(k string) string { s, _ := c[k].(string); return s }
			if text("id") == "" || text("message") == "" {
				t.Errorf("object %s: check without id or message: %v", o.Name, c)
			}
			if (text("status") == "warn" || text("status") == "fail") && text("fix") == "" {
				t.Errorf("object %s: %s is %s without a fix", o.Name, text("id"), text("status"))
			}
			if text("id") == "grace-budget" && (c["graceSeconds"] == nil || c["budgetSeconds"] == nil) {
				t.Errorf("object %s: grace-budget without its figures: %v", o.Name, c)
			}
			if severity[text("status")] > severity[worst] {
				worst = text("status")
			}
		}
		if o.Verdict != worst {
			t.Errorf("object %s verdict %q is not its worst check %q", o.Name, o.Verdict, worst)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestPreflightYAMLMatchesJSON(t *testing.T) {
	j := runCmd(t, "preflight", "--local", "-f", td+"sidecar.yaml", "-o", "json")
	y := runCmd(t, "preflight", "--local", "-f", td+"sidecar.yaml", "-o", "yaml")
	if j.code != ExitOK || y.code != ExitOK {
		t.Fatalf("exit codes json %d yaml %d, want 0 (stderr %q %q)", j.code, y.code, j.stderr, y.stderr)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(j.stdout), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(y.stdout), &fromYAML); err != nil {
		t.Fatalf("-o yaml output is not YAML: %v\n%s", err, y.stdout)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("-o yaml and -o json differ:\n%s\n%s", y.stdout, j.stdout)
	}
}

func TestPreflightStrict(t *testing.T) {
	// A 1s drain delay makes readiness-reaction (2s) warn; nothing fails.
	args := []string{"preflight", "--local", "-f", td + "good.yaml", "--drain-delay", "1s", "-o", "wide"}
	loose := runCmd(t, args...)
	if loose.code != ExitOK || !strings.Contains(loose.stdout, "Verdict: warn\n") {
		t.Errorf("without --strict: exit %d, stdout:\n%s", loose.code, loose.stdout)
	}
	strict := runCmd(t, append(args, "--strict")...)
	if strict.code != ExitPreflightFailed || strict.stderr != "" {
		t.Errorf("with --strict: exit %d, stderr %q; want 2 and nothing", strict.code, strict.stderr)
	}
	// The verdict printed agrees with the exit code; the findings are the same.
	wantStrict := strings.Replace(loose.stdout, "Verdict: warn\n", "Verdict: fail (--strict: warnings fail)\n", 1)
	if strict.stdout != wantStrict {
		t.Errorf("--strict output:\n%s\nwant:\n%s", strict.stdout, wantStrict)
	}
	// The summary's row judges the workload as the verdict does.
	summary := runCmd(t, "preflight", "--local", "-f", td+"good.yaml", "--drain-delay", "1s", "--strict")
	if !strings.Contains(summary.stdout, "   fail      0      1      readiness-reaction") {
		t.Errorf("--strict summary:\n%s", summary.stdout)
	}
	j := runCmd(t, append(args, "--strict", "-o", "json")...)
	var doc struct {
		Verdict string
		Strict  bool
		Objects []struct{ Verdict string }
	}
	if err := json.Unmarshal([]byte(j.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if j.code != ExitPreflightFailed || doc.Verdict != "fail" || !doc.Strict || doc.Objects[0].Verdict != "fail" {
		t.Errorf("--strict -o json: exit %d, %+v; want 2 and verdict fail", j.code, doc)
	}
	pass := runCmd(t, "preflight", "--local", "--strict", "-f", td+"good.yaml")
	if pass.code != ExitOK || !strings.Contains(pass.stdout, "Verdict: pass") {
		t.Errorf("--strict on a passing Deployment: exit %d, want 0", pass.code)
	}
	fail := runCmd(t, "preflight", "--local", "--strict", "-f", td+"mistakes.yaml")
	if fail.code != ExitPreflightFailed {
		t.Errorf("--strict on failing Deployments: exit %d, want 2", fail.code)
	}
}

// Budget inputs given as flags are measured numbers: a grace period short of them
// fails; short only of the defaults, it warns.
func TestPreflightStatedBudget(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"--max-request=40s"}, ExitPreflightFailed, "grace-budget          -           fail     terminationGracePeriodSeconds 30 < 55s"},
		{[]string{"--max-request=20s"}, ExitOK, "grace-budget          -           warn     terminationGracePeriodSeconds 30 < 35s"},
		{nil, ExitOK, "grace-budget          -           pass"},
	} {
		r := runCmd(t, append([]string{"preflight", "--local", "-f", td + "good.yaml", "-o", "wide"}, tc.args...)...)
		if r.code != tc.wantCode || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q in:\n%s", tc.args, r.code, tc.wantCode, tc.want, r.stdout)
		}
	}
}

// The real-world manifests read from the command line: the same verdicts as
// verify's table, through the resource builder, and the skipped Deployment said.
func TestPreflightRealWorld(t *testing.T) {
	r := runCmd(t, "preflight", "--local", "-f", realWorld, "-o", "json")
	if r.code != ExitPreflightFailed || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 2 (renamed-port and linkerd-injected fail)", r.code, r.stderr)
	}
	var doc struct {
		Verdict string
		Objects []struct{ Namespace, Name, Verdict string }
		Skipped []map[string]string
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, o := range doc.Objects {
		verdicts[o.Namespace+"/"+o.Name] = o.Verdict
	}
	for name, want := range map[string]string{
		"default/productpage-v1": "pass", "emojivoto/web": "fail", "default/podinfo": "warn", "default/loadgenerator": "warn",
		"default/storefront": "pass", "default/api": "fail", "default/reports": "warn",
	} {
		if verdicts[name] != want {
			t.Errorf("%s verdict = %q, want %q", name, verdicts[name], want)
		}
	}
	if len(doc.Skipped) != 1 || doc.Skipped[0]["name"] != "nginx-deployment" || doc.Skipped[0]["apiVersion"] != "apps/v1beta2" ||
		!strings.HasSuffix(doc.Skipped[0]["source"], "legacy-apps-v1beta2.yaml") || doc.Skipped[0]["reason"] == "" {
		t.Errorf("skipped = %v", doc.Skipped)
	}
	podinfo := runCmd(t, "preflight", "--local", "-f", realWorld+"podinfo.yaml")
	if podinfo.code != ExitOK || !strings.Contains(podinfo.stdout, "Verdict: warn") {
		t.Errorf("podinfo: exit %d, want 0 and a warning:\n%s", podinfo.code, podinfo.stdout)
	}
}

// --local reads no kubeconfig: neither a broken one nor an unknown context stops it.
func TestPreflightLocalReadsNoKubeconfig(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("this: [is not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"missing kubeconfig": {"--kubeconfig", filepath.Join(dir, "missing")},
		"broken kubeconfig":  {"--kubeconfig", broken},
		"unknown context":    {"--context", "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight", "--local", "-f", td + "dir/app.yaml"}, args...)...)
			if r.code != ExitOK || r.stderr != "" || !strings.Contains(r.stdout, "default     web") {
				t.Errorf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
			}
		})
	}
	t.Run("KUBECONFIG", func(t *testing.T) {
		t.Setenv("KUBECONFIG", broken)
		r := runCmd(t, "preflight", "--local", "-f", td+"dir/app.yaml", "-n", "shop", "--kubeconfig", "")
		if r.code != ExitOK || !strings.Contains(r.stdout, "shop        web") {
			t.Errorf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
		}
	})
	t.Run("without --local the broken kubeconfig is an error", func(t *testing.T) {
		r := runCmd(t, "preflight", "-f", td+"dir/app.yaml", "--kubeconfig", broken)
		assertOneErrorLine(t, r)
	})
}

// Bad input: exit 1, one "error: " line, nothing on stdout.
func TestPreflightBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error line
	}{
		{"missing file", []string{"-f", td + "nope.yaml", "--local"}, []string{td + "nope.yaml", "does not exist"}},
		{"malformed YAML", []string{"-f", td + "malformed.yaml", "--local"}, []string{td + "malformed.yaml", "line 7"}},
		{"malformed YAML in a later document", []string{"-f", td + "malformed-second.yaml", "--local"}, []string{td + "malformed-second.yaml", "line"}},
		{"only a Service", []string{"-f", td + "only-service.yaml", "--local"}, []string{"no Deployment", "only-service.yaml"}},
		{"a Helm chart's template", []string{"-f", td + "helm-chart/templates/deployment.yaml", "--local"},
			[]string{td + "helm-chart/templates/deployment.yaml", "looks like a Helm template", "helm template"}},
		{"a Helm chart's templates directory", []string{"-f", td + "helm-chart/templates", "--local"},
			[]string{"deployment.yaml", "looks like a Helm template", "helm template"}},
		{"only a custom resource", []string{"-f", td + "only-crd.yaml", "--local"}, []string{"no Deployment"}},
		{"only skipped Deployments", []string{"-f", realWorld + "legacy-apps-v1beta2.yaml", "--local"},
			[]string{"no Deployment", "skipped Deployment nginx-deployment (apps/v1beta2)", "removed in Kubernetes 1.16"}},
		{"directory without manifests", []string{"-f", td + "no-manifests", "--local"}, []string{"no-manifests"}},
		{"field of the wrong type", []string{"-f", td + "wrong-type.yaml", "--local"}, []string{"wrong-type.yaml", `Deployment "web"`, "replicas"}},
		{"invalid budget annotation", []string{"-f", td + "bad-annotation.yaml", "--local"},
			[]string{"deployment default/reports", "safe-rollout.io/drain-delay", `"soon"`}},
		{"bad duration", []string{"-f", td + "good.yaml", "--local", "--drain-delay", "abc"}, []string{"--drain-delay", `"abc"`}},
		{"negative duration", []string{"-f", td + "good.yaml", "--local", "--max-request", "-1s"}, []string{"--max-request must not be negative"}},
		{"unknown flag", []string{"--nope"}, []string{"unknown flag: --nope"}},
		{"unknown output format", []string{"-f", td + "good.yaml", "--local", "-o", "xml"}, []string{`"xml"`, "json"}},
		{"--local without -f", []string{"--local"}, []string{"--local", "-f"}},
		{"--local with a live target", []string{"--local", "deploy/web"}, []string{"--local", "-f"}},
		{"no target", nil, []string{"you must specify a Deployment, StatefulSet or DaemonSet", "sts/db"}},
		{"-f and a name", []string{"-f", td + "good.yaml", "deploy/web"}, []string{"not both"}},
		{"-f and a selector matching nothing", []string{"-f", td + "good.yaml", "-l", "app=none", "--local"}, []string{"no Deployment, StatefulSet or DaemonSet"}},
		{"cluster unreachable", []string{"-f", td + "good.yaml"}, []string{"127.0.0.1:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight"}, tc.args...)...)
			assertOneErrorLine(t, r)
			for _, s := range tc.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q does not contain %q", r.stderr, s)
				}
			}
		})
	}
}

func TestPreflightLive(t *testing.T) {
	s := newLabServer(t)
	tests := []struct {
		golden   string
		args     []string
		wantCode int
	}{
		{"live-web", []string{"deploy/web"}, ExitOK},
		{"live-web.wide", []string{"deploy/web", "-o", "wide"}, ExitOK},
		{"live-web.wide", []string{"deployment", "web", "-o", "wide"}, ExitOK},
		{"live-web.wide", []string{"deployments.apps/web", "-o", "wide"}, ExitOK},
		{"live-web.wide", []string{"-l", "app=web", "-o", "wide"}, ExitOK},
		{"live-all.json", []string{"-o", "json", "-l", "app in (web,busy)"}, ExitOK},
		// Manifests checked against the cluster: web exists (its live Service is used,
		// the manifests' PDB is added), worker is not deployed yet.
		{"live-dir.wide", []string{"-f", td + "dir", "-R", "-o", "wide"}, ExitOK},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight", "--kubeconfig", s.Kubeconfig}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			assertGolden(t, tc.golden, r.stdout)
		})
	}
	t.Run("strict", func(t *testing.T) {
		// web has no PDB: a warning, which --strict turns into a failure.
		r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "deploy/web", "--strict")
		if r.code != ExitPreflightFailed || r.stderr != "" {
			t.Errorf("exit code = %d, stderr %q; want 2 and nothing", r.code, r.stderr)
		}
	})
}

func TestPreflightLiveErrors(t *testing.T) {
	s := newLabServer(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unsupported kind", []string{"svc/x"}, []string{"services is not supported", "only Deployments"}},
		{"unsupported kind, TYPE NAME", []string{"pods", "x"}, []string{"pods is not supported"}},
		{"unknown resource", []string{"foo/x"}, []string{`"foo"`}},
		{"not found", []string{"deploy/missing"}, []string{`deployments.apps "missing" not found`}},
		{"selector matches nothing", []string{"-l", "app=nothing"}, []string{"no Deployments, StatefulSets or DaemonSets found in namespace default matching app=nothing"}},
		{"type and selector match nothing", []string{"sts", "-l", "app=nothing"}, []string{"no StatefulSets found in namespace default matching app=nothing"}},
		{"unsupported kind among supported ones", []string{"deploy/web", "svc/x"}, []string{"services is not supported", "only Deployments, StatefulSets and DaemonSets"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight", "--kubeconfig", s.Kubeconfig}, tc.args...)...)
			assertOneErrorLine(t, r)
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
		})
	}
	t.Run("unsupported kind is refused before fetching it", func(t *testing.T) {
		s := newLabServer(t)
		runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "svc/x")
		for _, req := range s.requestLog() {
			if strings.Contains(req, "/services") {
				t.Errorf("the Service was fetched: %s", req)
			}
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		s := newLabServer(t)
		s.forbidden["/api/v1/namespaces/default/services"] = true
		r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "deploy/web")
		assertOneErrorLine(t, r)
		if !strings.Contains(r.stderr, "listing services in default") || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
}

// The cluster's HorizontalPodAutoscaler sets the replicas; a Role that may not list
// them gets a preflight that says so, not an error.
func TestPreflightLiveHPA(t *testing.T) {
	const path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
	strategy := func(t *testing.T, s *fakeAPIServer) (int, string) {
		t.Helper()
		r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "deploy/web", "-o", "wide")
		if r.stderr != "" {
			t.Errorf("stderr = %q", r.stderr)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Contains(line, "rollout-strategy") {
				return r.code, line
			}
		}
		t.Fatalf("no rollout-strategy row in:\n%s", r.stdout)
		return 0, ""
	}
	t.Run("read", func(t *testing.T) {
		s := newLabServer(t)
		hpa := autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
				MinReplicas:    ptr.To[int32](4), MaxReplicas: 8,
			},
		}
		s.lists[path] = apiList("autoscaling/v2", "HorizontalPodAutoscalerList", hpa)
		if code, line := strategy(t, s); code != ExitOK || !strings.Contains(line, "replicas 4 (minReplicas of HorizontalPodAutoscaler web)") {
			t.Errorf("exit %d, row %q", code, line)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		s := newLabServer(t)
		s.forbidden[path] = true
		if code, line := strategy(t, s); code != ExitOK || !strings.Contains(line, "(HorizontalPodAutoscalers not read: horizontalpodautoscalers is forbidden") {
			t.Errorf("exit %d, row %q", code, line)
		}
	})
}

// An ALB Ingress routing to the Deployment's Service raises the assumed endpoint
// propagation (a warning: it is an assumption); a flag overrides it; a Role that
// may not list Ingresses gets a preflight that says so.
func TestPreflightLiveIngress(t *testing.T) {
	const path = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
	budget := func(t *testing.T, s *fakeAPIServer, extra ...string) (int, string) {
		t.Helper()
		r := runCmd(t, append([]string{"preflight", "--kubeconfig", s.Kubeconfig, "deploy/web", "-o", "wide"}, extra...)...)
		if r.stderr != "" {
			t.Errorf("stderr = %q", r.stderr)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Contains(line, "grace-budget") {
				return r.code, line
			}
		}
		t.Fatalf("no grace-budget row in:\n%s", r.stdout)
		return 0, ""
	}
	alb := networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
		},
	}
	t.Run("alb", func(t *testing.T) {
		s := newLabServer(t)
		s.lists[path] = apiList("networking.k8s.io/v1", "IngressList", alb)
		code, line := budget(t, s)
		if code != ExitOK || !strings.Contains(line, "warn") ||
			!strings.Contains(line, "30s endpoint propagation (assumed: AWS ALB)") ||
			!strings.Contains(line, "Ingress web (to Service web): ingressClassName: alb") {
			t.Errorf("exit %d, row %q", code, line)
		}
	})
	t.Run("flag overrides", func(t *testing.T) {
		s := newLabServer(t)
		s.lists[path] = apiList("networking.k8s.io/v1", "IngressList", alb)
		if code, line := budget(t, s, "--endpoint-propagation=5s"); code != ExitOK || !strings.Contains(line, "pass") || strings.Contains(line, "ALB") {
			t.Errorf("exit %d, row %q", code, line)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		s := newLabServer(t)
		s.forbidden[path] = true
		if code, line := budget(t, s); code != ExitOK || !strings.Contains(line, "(Ingresses not read: ingresses is forbidden") {
			t.Errorf("exit %d, row %q", code, line)
		}
	})
}

// The YAML error should name the line in the file, not in the document.
func TestPreflightMalformedLineCountsFromTheFileStart(t *testing.T) {
	r := runCmd(t, "preflight", "--local", "-f", td+"malformed-second.yaml")
	assertOneErrorLine(t, r)
	if !strings.Contains(r.stderr, "line 14") {
		t.Errorf("stderr = %q, want the error at line 14 of the file", r.stderr)
	}
}

// A preStop script of several lines stays on its table row, its newlines
// shown as \n.
func TestPreflightMultiLinePreStopKeepsItsRow(t *testing.T) {
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx
        ports: [{containerPort: 80}]
        readinessProbe:
          httpGet: {path: /ready, port: 80}
          periodSeconds: 1
          failureThreshold: 1
        lifecycle:
          preStop:
            exec:
              command:
              - /bin/sh
              - -c
              - |
                nginx -s quit
                sleep 3
`
	path := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "preflight", "--local", "-f", path, "-o", "wide")
	var row string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "prestop-hook") {
			row = line
		}
	}
	if !strings.Contains(row, `preStop exec /bin/sh -c nginx -s quit\nsleep 3\n triggers draining`) {
		t.Errorf("prestop-hook row %q in:\n%s", row, r.stdout)
	}
}
