package cli

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

const td = "testdata/preflight/"

// Golden tests: the table and the JSON of manifest sets, read with --local.
func TestPreflightGolden(t *testing.T) {
	tests := []struct {
		golden   string
		args     []string
		wantCode int
	}{
		{"good", []string{"-f", td + "good.yaml"}, ExitOK},
		{"good.json", []string{"-f", td + "good.yaml", "-o", "json"}, ExitOK},
		{"mistakes", []string{"-f", td + "mistakes.yaml"}, ExitPreflightFailed},
		{"mistakes.json", []string{"-f", td + "mistakes.yaml", "-o", "json"}, ExitPreflightFailed},
		{"sidecar", []string{"-f", td + "sidecar.yaml"}, ExitOK},
		{"sidecar.json", []string{"-f", td + "sidecar.yaml", "-o", "json"}, ExitOK},
		{"crd", []string{"-f", td + "crd.yaml"}, ExitOK},
		{"dir", []string{"-f", td + "dir"}, ExitPreflightFailed},
		{"dir.json", []string{"-f", td + "dir", "-o", "json"}, ExitPreflightFailed},
		{"two-files", []string{"-f", td + "dir/app.yaml", "-f", td + "good.yaml"}, ExitOK},
		{"annotations", []string{"-f", td + "annotations.yaml"}, ExitPreflightFailed},
		{"good-budget-flags", []string{"-f", td + "good.yaml", "--endpoint-propagation", "2s", "--drain-delay", "1s", "--max-request", "30s", "--safety-margin", "500ms"}, ExitPreflightFailed},
		{"good-drain-delay-warn", []string{"-f", td + "good.yaml", "--drain-delay=1s", "--max-request=19s"}, ExitOK},
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
	if got := sortedKeys(doc); !reflect.DeepEqual(got, []string{"objects", "verdict"}) {
		t.Errorf("top-level keys = %v", got)
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
		"no-readiness": "fail", "slow-readiness": "fail", "same-probes": "warn", "sleepy-prestop": "warn",
		"endless-sleep": "fail", "short-grace": "fail", "recreate": "fail", "single-no-surge": "fail", "paused": "fail",
	}
	if len(report.Objects) != len(wantVerdicts) {
		t.Fatalf("%d objects, want %d", len(report.Objects), len(wantVerdicts))
	}
	for _, raw := range report.Objects {
		if got := sortedKeys(raw); !reflect.DeepEqual(got, []string{"checks", "kind", "name", "namespace", "verdict"}) {
			t.Errorf("object keys = %v", got)
		}
		var o struct {
			Kind, Namespace, Name, Verdict string
			Checks                         []map[string]string
		}
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
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
				default:
					t.Errorf("object %s: unexpected check field %q", o.Name, k)
				}
			}
			if c["id"] == "" || c["message"] == "" {
				t.Errorf("object %s: check without id or message: %v", o.Name, c)
			}
			if (c["status"] == "warn" || c["status"] == "fail") && c["fix"] == "" {
				t.Errorf("object %s: %s is %s without a fix", o.Name, c["id"], c["status"])
			}
			if severity[c["status"]] > severity[worst] {
				worst = c["status"]
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
	args := []string{"preflight", "--local", "-f", td + "good.yaml", "--drain-delay", "1s"}
	loose := runCmd(t, args...)
	if loose.code != ExitOK || !strings.Contains(loose.stdout, "Verdict: warn") {
		t.Errorf("without --strict: exit %d, stdout:\n%s", loose.code, loose.stdout)
	}
	strict := runCmd(t, append(args, "--strict")...)
	if strict.code != ExitPreflightFailed {
		t.Errorf("with --strict: exit %d, want 2", strict.code)
	}
	if strict.stdout != loose.stdout || strict.stderr != "" {
		t.Errorf("--strict changed the output or wrote to stderr: %q", strict.stderr)
	}
	pass := runCmd(t, "preflight", "--local", "--strict", "-f", td+"good.yaml")
	if pass.code != ExitOK {
		t.Errorf("--strict on a passing Deployment: exit %d, want 0", pass.code)
	}
	fail := runCmd(t, "preflight", "--local", "--strict", "-f", td+"mistakes.yaml")
	if fail.code != ExitPreflightFailed {
		t.Errorf("--strict on failing Deployments: exit %d, want 2", fail.code)
	}
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
		{"only a custom resource", []string{"-f", td + "only-crd.yaml", "--local"}, []string{"no Deployment"}},
		{"directory without manifests", []string{"-f", td + "no-manifests", "--local"}, []string{"no-manifests"}},
		{"field of the wrong type", []string{"-f", td + "wrong-type.yaml", "--local"}, []string{"wrong-type.yaml", "Deployment web", "replicas"}},
		{"invalid budget annotation", []string{"-f", td + "bad-annotation.yaml", "--local"},
			[]string{"deployment default/reports", "safe-rollout.io/drain-delay", `"soon"`}},
		{"bad duration", []string{"-f", td + "good.yaml", "--local", "--drain-delay", "abc"}, []string{"--drain-delay", `"abc"`}},
		{"negative duration", []string{"-f", td + "good.yaml", "--local", "--max-request", "-1s"}, []string{"--max-request must not be negative"}},
		{"unknown flag", []string{"--nope"}, []string{"unknown flag: --nope"}},
		{"unknown output format", []string{"-f", td + "good.yaml", "--local", "-o", "xml"}, []string{`"xml"`, "json"}},
		{"--local without -f", []string{"--local"}, []string{"--local", "-f"}},
		{"--local with a live target", []string{"--local", "deploy/web"}, []string{"--local", "-f"}},
		{"no target", nil, []string{"you must specify a Deployment"}},
		{"-f and a name", []string{"-f", td + "good.yaml", "deploy/web"}, []string{"not both"}},
		{"-f and a selector", []string{"-f", td + "good.yaml", "-l", "app=web"}, []string{"not both"}},
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

// Live targets, against a fake API server.

func liveDeployment(name string) appsv1.Deployment {
	l := map[string]string{"app": name}
	return appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "app",
					Image: "example/web:1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
						PeriodSeconds: 1, FailureThreshold: 1,
					},
					Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("http")},
					}},
				}}},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
	}
}

// newLabServer serves Deployment web (2 pods behind Service web, no PDB) and
// Deployment busy (mid-rollout, no Service).
func newLabServer(t *testing.T) *fakeAPIServer {
	s := newFakeAPIServer(t)
	s.addDeployment(liveDeployment("web"))
	busy := liveDeployment("busy")
	busy.Status.UpdatedReplicas = 1
	busy.Status.Replicas = 3
	s.addDeployment(busy)
	svc := corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}},
	}
	s.lists["/api/v1/namespaces/default/services"] = apiList("v1", "ServiceList", svc)
	var pods []any
	for _, n := range []string{"web-1", "web-2", "busy-1"} {
		app := strings.TrimSuffix(strings.TrimSuffix(n, "-1"), "-2")
		pods = append(pods, corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n, Labels: map[string]string{"app": app}},
		})
	}
	s.lists["/api/v1/namespaces/default/pods"] = apiList("v1", "PodList", pods...)
	slice := discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-x1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"}},
			{Addresses: []string{"10.0.0.2"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-2"}},
		},
	}
	s.lists["/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"] = apiList("discovery.k8s.io/v1", "EndpointSliceList", slice)
	return s
}

func TestPreflightLive(t *testing.T) {
	s := newLabServer(t)
	tests := []struct {
		golden   string
		args     []string
		wantCode int
	}{
		{"live-web", []string{"deploy/web"}, ExitOK},
		{"live-web", []string{"deployment", "web"}, ExitOK},
		{"live-web", []string{"deployments.apps/web"}, ExitOK},
		{"live-web", []string{"-l", "app=web"}, ExitOK},
		{"live-all.json", []string{"-o", "json", "-l", "app in (web,busy)"}, ExitOK},
		// Manifests checked against the cluster: web exists (its live Service is used,
		// the manifests' PDB is added), worker is not deployed yet.
		{"live-dir", []string{"-f", td + "dir"}, ExitPreflightFailed},
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
		{"selector matches nothing", []string{"-l", "app=nothing"}, []string{"no Deployments found in namespace default matching app=nothing"}},
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

// The YAML error should name the line in the file, not in the document.
func TestPreflightMalformedLineCountsFromTheFileStart(t *testing.T) {
	r := runCmd(t, "preflight", "--local", "-f", td+"malformed-second.yaml")
	assertOneErrorLine(t, r)
	if !strings.Contains(r.stderr, "line 14") {
		t.Errorf("stderr = %q, want the error at line 14 of the file", r.stderr)
	}
}
