package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
)

const completionKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:1"}
- name: prod
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: admin
  user: {token: x}
contexts:
- name: lab
  context: {cluster: lab, user: admin, namespace: shop}
- name: prod
  context: {cluster: prod, user: admin}
current-context: lab
`

// complete runs `kubectl-safe_rollout __complete args...` against a fake cluster and
// returns the completions and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(completionKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	dep := func(ns, name string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	nsObj := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent"}}
	client := fake.NewClientset(
		dep("shop", "web"), dep("shop", "api"), dep("shop", "worker"), dep("other", "batch"), sts, ds,
		nsObj("shop"), nsObj("other"), nsObj("kube-system"),
	)
	fakeClients := func(*genericclioptions.ConfigFlags, time.Duration) (kubernetes.Interface, error) { return client, nil }

	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	root := newRootCmd(streams, BuildInfo{}, Deps{Clients: fakeClients, Clock: clock.RealClock{}})
	root.SetArgs(append([]string{"__complete"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	directive := lines[len(lines)-1]
	var got []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t") // drop descriptions
		got = append(got, name)
	}
	return got, directive
}

func TestCompletion(t *testing.T) {
	const noFile = ":4" // cobra.ShellCompDirectiveNoFileComp
	tests := []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{""}, []string{"help", "preflight", "rehearse", "restart", "version", "watch"}, noFile},
		{[]string{"re"}, []string{"rehearse", "restart"}, noFile},
		{[]string{"rehearse", "deploy/"}, []string{"deploy/api", "deploy/web", "deploy/worker"}, noFile},
		// Workloads of the kubeconfig's namespace, as TYPE/NAME: Deployments,
		// StatefulSets, DaemonSets.
		{[]string{"restart", ""}, []string{"deployment/api", "deployment/web", "deployment/worker", "statefulset/db", "daemonset/agent"}, noFile},
		{[]string{"restart", "st"}, []string{"statefulset/db"}, noFile},
		{[]string{"restart", "sts/"}, []string{"sts/db"}, noFile},
		{[]string{"watch", "ds/a"}, []string{"ds/agent"}, noFile},
		{[]string{"restart", "d"}, []string{"deployment/api", "deployment/web", "deployment/worker", "daemonset/agent"}, noFile},
		{[]string{"restart", "statefulset", ""}, []string{"db"}, noFile},
		{[]string{"restart", "deployment/w"}, []string{"deployment/web", "deployment/worker"}, noFile},
		{[]string{"watch", "deploy/"}, []string{"deploy/api", "deploy/web", "deploy/worker"}, noFile},
		{[]string{"preflight", "dep"}, []string{"deployment/api", "deployment/web", "deployment/worker"}, noFile},
		{[]string{"restart", "-n", "other", ""}, []string{"deployment/batch"}, noFile},
		{[]string{"restart", "--namespace=other", "deploy/"}, []string{"deploy/batch"}, noFile},
		// TYPE NAME
		{[]string{"restart", "deployment", "w"}, []string{"web", "worker"}, noFile},
		// restart and watch take one Deployment; preflight several.
		{[]string{"restart", "deploy/web", ""}, nil, noFile},
		{[]string{"preflight", "deploy/web", "deploy/"}, []string{"deploy/api", "deploy/worker"}, noFile},
		{[]string{"restart", "pods/"}, nil, noFile},
		{[]string{"restart", "-l", "app=web", ""}, nil, noFile},
		// Flag values.
		{[]string{"restart", "-n", ""}, []string{"kube-system", "other", "shop"}, noFile},
		{[]string{"preflight", "--namespace", "o"}, []string{"other"}, noFile},
		{[]string{"restart", "--context", ""}, []string{"lab", "prod"}, noFile},
		{[]string{"restart", "-o", ""}, []string{"json", "yaml"}, noFile},
		{[]string{"preflight", "--output", ""}, []string{"json", "yaml"}, noFile},
		{[]string{"watch", "--progress", ""}, []string{"auto", "plain", "none"}, noFile},
		{[]string{"restart", "--on-breach", ""}, []string{"pause", "rollback", "none", "auto"}, noFile},
		// --dry-run alone means client, as in kubectl: its value comes after "=".
		{[]string{"restart", "--dry-run="}, []string{"none", "client", "server"}, noFile},
		{[]string{"version", ""}, nil, noFile},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, directive := complete(t, tt.args...)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
			if directive != tt.directive {
				t.Errorf("directive %s, want %s", directive, tt.directive)
			}
		})
	}
}

func TestCompletionFlags(t *testing.T) {
	// Flags complete too, with kubectl's connection flags among them.
	got, _ := complete(t, "restart", "--")
	for _, want := range []string{"--namespace", "--kubeconfig", "--context", "--output", "--progress", "--dry-run", "--timeout", "--skip-preflight"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("%s missing from flag completions %q", want, got)
		}
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRootCmd(genericiooptions.NewTestIOStreamsDiscard(), BuildInfo{})
	for _, cmd := range append(root.Commands(), root) {
		if cmd.Hidden || cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		if !strings.Contains(cmd.Example, "kubectl safe-rollout") {
			t.Errorf("%s: no kubectl-style example", cmd.CommandPath())
		}
	}
}
