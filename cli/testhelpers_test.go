package cli

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cmdResult is what one in-process run of the command tree produced.
type cmdResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs the real cobra tree with args and returns the exit code and output.
// Unless args already name one, a kubeconfig is given that points at a closed
// port, so no test ever reads the developer's kubeconfig or reaches a real cluster.
func runCmd(t *testing.T, args ...string) cmdResult {
	t.Helper()
	if !hasFlag(args, "--kubeconfig") {
		args = append(args, "--kubeconfig", writeKubeconfig(t, "https://127.0.0.1:1", nil))
	}
	if !hasFlag(args, "--cache-dir") {
		args = append(args, "--cache-dir", t.TempDir())
	}
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams, BuildInfo{})
	root.SetArgs(args)
	code := Execute(root, streams)
	return cmdResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// writeKubeconfig writes a kubeconfig for server whose context namespace is "default".
func writeKubeconfig(t *testing.T, server string, caPEM []byte) string {
	t.Helper()
	cluster := "    server: " + server + "\n"
	if caPEM != nil {
		cluster += "    certificate-authority-data: " + base64.StdEncoding.EncodeToString(caPEM) + "\n"
	} else {
		cluster += "    insecure-skip-tls-verify: true\n"
	}
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n" + cluster +
		"users:\n- name: test\n  user:\n    token: test-token\n" +
		"contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: default\n" +
		"current-context: test\n"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertGolden compares got with testdata/preflight/<name>.golden; -update rewrites it.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "preflight", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./cli/ -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cli/ -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// assertOneErrorLine checks the bad-input contract: exit 1, nothing on stdout,
// exactly one "error: ..." line on stderr.
func assertOneErrorLine(t *testing.T, r cmdResult) {
	t.Helper()
	if r.code != ExitError {
		t.Errorf("exit code = %d, want %d", r.code, ExitError)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "error: ") || !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want exactly one line starting with \"error: \"", r.stderr)
	}
}

// fakeAPIServer is a TLS API server that knows just enough for the preflight
// command: discovery for core/v1 and apps/v1, Deployments, and the lists the
// cluster checks read in the "default" namespace.
type fakeAPIServer struct {
	*httptest.Server
	Kubeconfig string

	mu          sync.Mutex
	deployments []appsv1.Deployment
	lists       map[string]any // URL path -> list object
	forbidden   map[string]bool
	requests    []string
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	s := &fakeAPIServer{lists: map[string]any{}, forbidden: map[string]bool{}}
	for path, kind := range map[string][2]string{
		"/api/v1/namespaces/default/services":                              {"v1", "ServiceList"},
		"/api/v1/namespaces/default/pods":                                  {"v1", "PodList"},
		"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices":      {"discovery.k8s.io/v1", "EndpointSliceList"},
		"/apis/policy/v1/namespaces/default/poddisruptionbudgets":          {"policy/v1", "PodDisruptionBudgetList"},
		"/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers": {"autoscaling/v2", "HorizontalPodAutoscalerList"},
		"/apis/networking.k8s.io/v1/namespaces/default/ingresses":          {"networking.k8s.io/v1", "IngressList"},
		"/apis/apps/v1/namespaces/default/statefulsets":                    {"apps/v1", "StatefulSetList"},
		"/apis/apps/v1/namespaces/default/daemonsets":                      {"apps/v1", "DaemonSetList"},
	} {
		s.lists[path] = apiList(kind[0], kind[1])
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	s.Kubeconfig = writeKubeconfig(t, s.URL, ca)
	return s
}

func apiList(apiVersion, kind string, items ...any) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{}, "items": items}
}

const (
	discoveryAPI  = `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`
	discoveryAPIs = `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}`
	discoveryV1   = `{"kind":"APIResourceList","groupVersion":"v1","resources":[` +
		`{"name":"services","singularName":"service","namespaced":true,"kind":"Service","verbs":["get","list"],"shortNames":["svc"]},` +
		`{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]}]}`
	discoveryAppsV1 = `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[` +
		`{"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["get","list"],"shortNames":["deploy"]},` +
		`{"name":"statefulsets","singularName":"statefulset","namespaced":true,"kind":"StatefulSet","verbs":["get","list"],"shortNames":["sts"]},` +
		`{"name":"daemonsets","singularName":"daemonset","namespaced":true,"kind":"DaemonSet","verbs":["get","list"],"shortNames":["ds"]}]}`
)

func (s *fakeAPIServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	ns, name, isDeployments := deploymentPath(r.URL.Path)
	switch p := r.URL.Path; {
	case r.Method != http.MethodGet:
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method not allowed")
	case s.forbidden[p]:
		writeStatus(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(`%s is forbidden: User "test" cannot list it`, filepath.Base(p)))
	case p == "/api":
		_, _ = w.Write([]byte(discoveryAPI))
	case p == "/apis":
		_, _ = w.Write([]byte(discoveryAPIs))
	case p == "/api/v1":
		_, _ = w.Write([]byte(discoveryV1))
	case p == "/apis/apps/v1":
		_, _ = w.Write([]byte(discoveryAppsV1))
	case strings.HasPrefix(p, "/api/v1/namespaces/") && s.hasNamespace(strings.TrimPrefix(p, "/api/v1/namespaces/")):
		// kubectl asks whether the namespace exists when a Deployment is not found.
		_ = json.NewEncoder(w).Encode(corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: strings.TrimPrefix(p, "/api/v1/namespaces/")},
		})
	case isDeployments && name == "":
		sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		var items []any
		for _, d := range s.deployments {
			if d.Namespace == ns && sel.Matches(labels.Set(d.Labels)) {
				items = append(items, d)
			}
		}
		_ = json.NewEncoder(w).Encode(apiList("apps/v1", "DeploymentList", items...))
	case isDeployments:
		for _, d := range s.deployments {
			if d.Namespace == ns && d.Name == name {
				_ = json.NewEncoder(w).Encode(d)
				return
			}
		}
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("deployments.apps %q not found", name))
	default:
		if l, ok := s.lists[p]; ok {
			_ = json.NewEncoder(w).Encode(selectItems(l, r.URL.Query().Get("labelSelector")))
			return
		}
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

// selectItems returns a list with the items the label selector matches; any
// other object as it is.
func selectItems(obj any, selector string) any {
	l, ok := obj.(map[string]any)
	if !ok || selector == "" {
		return obj
	}
	items, ok := l["items"].([]any)
	sel, err := labels.Parse(selector)
	if !ok || err != nil {
		return obj
	}
	kept := []any{}
	for _, item := range items {
		raw, _ := json.Marshal(item)
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if json.Unmarshal(raw, &meta) == nil && sel.Matches(labels.Set(meta.Metadata.Labels)) {
			kept = append(kept, item)
		}
	}
	out := map[string]any{}
	for k, v := range l {
		out[k] = v
	}
	out["items"] = kept
	return out
}

var deploymentURL = regexp.MustCompile(`^/apis/apps/v1/namespaces/([^/]+)/deployments(?:/([^/]+))?$`)

// deploymentPath splits a Deployments URL path into its namespace and name ("" for the list).
func deploymentPath(p string) (ns, name string, ok bool) {
	m := deploymentURL.FindStringSubmatch(p)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: metav1.StatusReason(reason), Code: int32(code),
	})
}

// hasNamespace tells whether a Deployment lives in ns; "default" always exists.
func (s *fakeAPIServer) hasNamespace(ns string) bool {
	return ns == "default" || slices.ContainsFunc(s.deployments, func(d appsv1.Deployment) bool { return d.Namespace == ns })
}

// addDeployment stores d (TypeMeta filled in) as a live Deployment, in "default"
// unless it names its namespace.
func (s *fakeAPIServer) addDeployment(d appsv1.Deployment) {
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	if d.Namespace == "" {
		d.Namespace = "default"
	}
	s.deployments = append(s.deployments, d)
}

func (s *fakeAPIServer) requestLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
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
