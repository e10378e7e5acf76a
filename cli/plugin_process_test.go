package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
)

// asPluginEnv makes the test binary behave as the plugin (kubectl-safe_rollout)
// against a fake cluster, so that scripts that run the plugin can be tested.
const asPluginEnv = "SAFE_ROLLOUT_TEST_AS_PLUGIN"

func TestMain(m *testing.M) {
	switch os.Getenv(asPluginEnv) {
	case "1":
		os.Exit(runAsPlugin(os.Args[1:]))
	case "real":
		// The plugin as main builds it: real clients, klog as the process has it.
		streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
		os.Exit(Execute(NewRootCmd(streams, BuildInfo{}), streams))
	}
	os.Exit(m.Run())
}

// runAsPlugin runs the command tree with args against a fake cluster holding
// Deployments web and worker in namespace shop.
func runAsPlugin(args []string) int {
	client := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "worker"}},
	)
	clients := func(*genericclioptions.ConfigFlags, time.Duration) (kubernetes.Interface, error) { return client, nil }
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := newRootCmd(streams, BuildInfo{}, Deps{Clients: clients, Clock: clock.RealClock{}})
	root.SetArgs(args)
	return Execute(root, streams)
}

// kubectl (>= 1.26) completes `kubectl safe-rollout ...` by running
// kubectl_complete-safe_rollout with the words after the plugin's name: the
// repository's script must hand them to the plugin next to it.
func TestCompletionScript(t *testing.T) {
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join("..", "kubectl_complete-safe_rollout"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl_complete-safe_rollout"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "kubectl-safe_rollout")); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "config")
	if err := os.WriteFile(kubeconfig, []byte(completionKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// As kubectl runs it: from PATH, with an empty PATH entry for the plugin
	// elsewhere, so only the copy next to the script can answer.
	cmd := exec.Command(filepath.Join(dir, "kubectl_complete-safe_rollout"), "restart", "deploy/w")
	cmd.Env = append(os.Environ(), asPluginEnv+"=1", "KUBECONFIG="+kubeconfig, "PATH=/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl_complete-safe_rollout restart deploy/w: %v\n%s", err, out)
	}
	if want := "deploy/web\ndeploy/worker\n:4\n"; !strings.HasPrefix(string(out), want) {
		t.Errorf("completions:\n%s\nwant them to start with:\n%s", out, want)
	}
}

// There is no `completion` command: cobra's would register a command named
// safe-rollout, which does not exist (kubectl runs the plugin as
// `kubectl safe-rollout`); completion goes through kubectl_complete-safe_rollout.
func TestNoCompletionCommand(t *testing.T) {
	r := runCmd(t, "completion", "bash")
	assertOneErrorLine(t, r)
	if !strings.Contains(r.stderr, `unknown command "completion"`) {
		t.Errorf("stderr = %q, want an unknown command", r.stderr)
	}
}

// An unreachable cluster gives one error line on the process's stderr: no klog
// lines from client-go's discovery before it. With manifests, preflight says
// that --local needs no cluster. The kubeconfig points at a closed loopback port.
func TestUnreachableClusterOneErrorLine(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := writeKubeconfig(t, "https://127.0.0.1:1", nil)
	manifest := filepath.Join("testdata", "preflight", "good.yaml")
	tests := []struct {
		args      []string
		wantLocal bool
	}{
		{[]string{"preflight", "deploy/web"}, false},
		{[]string{"preflight", "-f", manifest}, true},
		{[]string{"preflight", "-f", manifest, "--local"}, false}, // succeeds or fails on its own: no cluster
		{[]string{"restart", "deploy/web"}, false},
		{[]string{"restart", "-f", manifest, "-n", "shop"}, false}, // restart has no --local
		{[]string{"watch", "deploy/web"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(self, append(tt.args, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir())...)
			cmd.Env = append(os.Environ(), asPluginEnv+"=real")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if slices.Contains(tt.args, "--local") {
				if strings.Contains(stderr.String(), "127.0.0.1:1") {
					t.Errorf("--local reached for the cluster: %s", stderr.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("exit 0 without a cluster; stdout %q", stdout.String())
			}
			got := stderr.String()
			if !strings.HasPrefix(got, "error: ") || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr = %q, want exactly one line starting with \"error: \"", got)
			}
			if !strings.Contains(got, "127.0.0.1:1") || !strings.Contains(got, "connection refused") {
				t.Errorf("stderr = %q, want the address and why it failed", got)
			}
			if hint := strings.Contains(got, "add --local"); hint != tt.wantLocal {
				t.Errorf("stderr = %q: --local suggested %v, want %v", got, hint, tt.wantLocal)
			}
		})
	}
}
