//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// shopLabel marks the workloads of the release step the examples guard.
func shopLabel(d *appsv1.Deployment) { d.Labels["app.kubernetes.io/part-of"] = "shop" }

// releaseManifests writes the app's next release (its Deployment and
// Service) as one YAML file, the way a release step applies it.
func releaseManifests(t *testing.T, ns string, a app) string {
	t.Helper()
	d, svc := a.objects(ns)
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	svc.APIVersion, svc.Kind = "v1", "Service"
	var buf bytes.Buffer
	for _, obj := range []any{d, svc} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	path := filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The release script of docs/release-steps.md, run as written: kubectl finds
// the plugin on PATH, the lab's kubeconfig is the user's. A clean release
// exits 0; when the old pods die without draining, watch's default
// (--on-breach=auto: a release that changed more than restartedAt) rolls it
// back, exit 4; the JSON report is kept either way.
func TestReleaseScriptAsWritten(t *testing.T) {
	script, err := filepath.Abs("../../examples/release-step/release.sh")
	if err != nil {
		t.Fatal(err)
	}
	assertInDoc(t, script)
	tests := []struct {
		name     string
		before   []string
		wantCode int
		wantOut  string
		outcome  string
	}{
		{"clean", []string{"--mode=contract", "--drain-delay=1s"}, 0, "released: every rollout completed", "succeeded"},
		{"old pods die without draining", []string{"--mode=naive"}, 4, "rolled back to the previous revision", "rolled-back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			ns := l.namespace(t)
			l.deploy(t, ns, app{name: "shop", replicas: 2, grace: 30, preStop: tc.before[0] != "--mode=naive", args: tc.before, mutate: shopLabel})
			manifests := releaseManifests(t, ns, app{name: "shop", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}, mutate: shopLabel})
			reportFile := filepath.Join(t.TempDir(), "report.json")

			cmd := exec.Command("sh", script, ns, manifests)
			labBin := filepath.Join(filepath.Dir(l.kubeconfig), "bin")
			cmd.Env = append(os.Environ(), "KUBECONFIG="+l.kubeconfig, "REPORT="+reportFile, "HOME="+t.TempDir(),
				"PATH="+filepath.Dir(l.plugin)+":"+labBin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			code := 0
			if exitErr, ok := err.(*exec.ExitError); ok {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			t.Logf("release.sh -> exit %d\n%s", code, out)
			if code != tc.wantCode || !strings.Contains(string(out), tc.wantOut) {
				t.Fatalf("exit %d, want %d and %q", code, tc.wantCode, tc.wantOut)
			}
			raw, err := os.ReadFile(reportFile)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Outcome string `json:"outcome"`
			}
			if err := json.Unmarshal(raw, &rep); err != nil || rep.Outcome != tc.outcome {
				t.Errorf("report %s: outcome %q (%v), want %q", reportFile, rep.Outcome, err, tc.outcome)
			}
		})
	}
}

// The hook Job of docs/release-steps.md, created as written (the plugin's own
// image, the ServiceAccount bound to deploy/rbac.yaml's Role): after an
// upgrade it guards the rollout in the cluster and completes; its log is the
// JSON report.
func TestHookJobAsWritten(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	ctx := context.Background()
	path, err := filepath.Abs("../../examples/release-step/hook-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	assertInDoc(t, path)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(raw, &job); err != nil {
		t.Fatal(err)
	}
	// What the comments in the file tell the user to run.
	role := loadRole(t, ns)
	if _, err := l.client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := job.Spec.Template.Spec.ServiceAccountName
	if _, err := l.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}}
	if _, err := l.client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.deploy(t, ns, app{name: "shop", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=1s"}, mutate: shopLabel})
	l.patchArgs(t, ns, "shop", "--mode=contract", "--drain-delay=2s") // the upgrade
	if _, err := l.client.BatchV1().Jobs(ns).Create(ctx, &job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := l.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = pods.Items[0]
		return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed, nil
	})
	if err != nil {
		t.Fatalf("the hook Job's pod did not finish: %v (status %+v)", err, pod.Status)
	}
	logs, err := l.client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hook Job log:\n%s", logs)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("hook Job pod %s, want Succeeded", pod.Status.Phase)
	}
	var rep struct {
		Outcome    string `json:"outcome"`
		Deployment string `json:"deployment"`
	}
	if json.Unmarshal(logs, &rep) != nil || rep.Outcome != "succeeded" || rep.Deployment != "shop" {
		t.Errorf("log has no JSON report of deployment shop, succeeded: %+v", rep)
	}
}

// assertInDoc checks that docs/release-steps.md shows the file as it is.
func assertInDoc(t *testing.T, path string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(filepath.Dir(path), "../../docs/release-steps.md"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, body) {
		t.Errorf("docs/release-steps.md does not show %s as it is", filepath.Base(path))
	}
}
