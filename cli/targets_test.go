package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// newWorkloadServer is the lab server with StatefulSet db and DaemonSet agent
// besides Deployments web and busy.
func newWorkloadServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	s := newLabServer(t)
	db := liveDeployment("db")
	sts := appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", Labels: map[string]string{"app": "db", "tier": "back"}, Generation: 3},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](3), ServiceName: "db", Selector: db.Spec.Selector, Template: db.Spec.Template,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "db-7", UpdateRevision: "db-7"},
	}
	agent := liveDeployment("agent")
	ds := appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "agent", Labels: map[string]string{"app": "agent", "tier": "back"}, Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Selector: agent.Spec.Selector, Template: agent.Spec.Template,
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 4, UpdatedNumberScheduled: 2, NumberAvailable: 4},
	}
	ds.Spec.Template.Spec.Containers[0].Ports[0].HostPort = 8080
	s.lists["/apis/apps/v1/namespaces/default/statefulsets"] = apiList("apps/v1", "StatefulSetList", sts)
	s.lists["/apis/apps/v1/namespaces/default/statefulsets/db"] = sts
	s.lists["/apis/apps/v1/namespaces/default/daemonsets"] = apiList("apps/v1", "DaemonSetList", ds)
	s.lists["/apis/apps/v1/namespaces/default/daemonsets/agent"] = ds
	// The Deployments carry no tier label: -l tier=back lists db and agent only.
	return s
}

// The kinds and names of a JSON report, in order.
func reportedObjects(t *testing.T, stdout string) []string {
	t.Helper()
	var r verify.PreflightReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	return out
}

func TestPreflightLiveWorkloads(t *testing.T) {
	s := newWorkloadServer(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sts/db"}, "StatefulSet/db"},
		{[]string{"statefulset", "db"}, "StatefulSet/db"},
		{[]string{"statefulsets.apps/db"}, "StatefulSet/db"},
		{[]string{"ds/agent"}, "DaemonSet/agent"},
		{[]string{"daemonset", "agent"}, "DaemonSet/agent"},
		// Several TYPE/NAME arguments: in the order given.
		{[]string{"ds/agent", "deploy/web", "sts/db"}, "DaemonSet/agent Deployment/web StatefulSet/db"},
		// -l alone: Deployments, then StatefulSets, then DaemonSets.
		{[]string{"-l", "tier=back"}, "StatefulSet/db DaemonSet/agent"},
		{[]string{"-l", "app in (web,busy,db,agent)"}, "Deployment/web Deployment/busy StatefulSet/db DaemonSet/agent"},
		{[]string{"ds,sts", "-l", "tier=back"}, "DaemonSet/agent StatefulSet/db"},
		{[]string{"sts", "-l", "tier=back"}, "StatefulSet/db"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCmd(t, append([]string{"preflight", "--kubeconfig", s.Kubeconfig, "-o", "json"}, tc.args...)...)
			if r.stderr != "" {
				t.Fatalf("stderr = %q", r.stderr)
			}
			if got := strings.Join(reportedObjects(t, r.stdout), " "); got != tc.want {
				t.Errorf("objects = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("the live objects are read by kind", func(t *testing.T) {
		r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "sts/db", "ds/agent", "-o", "wide")
		if r.code != ExitOK || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{
			"NAMESPACE   WORKLOAD          CHECK",
			"default     statefulset/db    rollout-in-progress   -           pass     no rollout in progress",
			"default     daemonset/agent   rollout-in-progress   -           warn     rollout in progress: 2 of 4 new pods updated",
			"daemonset/agent   rollout-strategy      -           warn     RollingUpdate with maxSurge 0, maxUnavailable 1 on 4 nodes",
			"statefulset/db    paused                -           skip     StatefulSets cannot be paused",
			"  default daemonset/agent rollout-strategy: a hostPort allows one pod per node",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("a Deployment alone keeps the Deployment table", func(t *testing.T) {
		r := runCmd(t, "preflight", "--kubeconfig", s.Kubeconfig, "-l", "app=web", "-o", "wide")
		if !strings.HasPrefix(r.stdout, "NAMESPACE   DEPLOYMENT   CHECK") {
			t.Errorf("output:\n%s", r.stdout)
		}
	})
}

// A kind that is not a workload is refused in one line, before any object is
// read.
func TestTargetsRefusedBeforeFetching(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"preflight", "deploy/web", "svc/web"}, "services is not supported: only Deployments, StatefulSets and DaemonSets"},
		{[]string{"preflight", "pods", "web-1"}, "pods is not supported"},
		{[]string{"restart", "svc/web"}, "services is not supported: only Deployments, StatefulSets and DaemonSets ("},
		{[]string{"watch", "svc/web"}, "services is not supported"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s := newWorkloadServer(t)
			r := runCmd(t, append(tc.args, "--kubeconfig", s.Kubeconfig)...)
			assertOneErrorLine(t, r)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.want)
			}
			for _, req := range s.requestLog() {
				if strings.Contains(req, "/namespaces/") {
					t.Errorf("an object was read: %s", req)
				}
			}
		})
	}
	t.Run("restart takes a StatefulSet and a DaemonSet", func(t *testing.T) {
		for _, target := range []string{"sts/db", "statefulset/db", "ds/agent"} {
			s := newWorkloadServer(t)
			r := runCmd(t, "restart", target, "--kubeconfig", s.Kubeconfig, "--dry-run=client", "--skip-preflight")
			if r.code != 0 || !strings.Contains(r.stdout, "restarted (client dry run)") {
				t.Errorf("restart %s: exit %d\nstdout %q\nstderr %q", target, r.code, r.stdout, r.stderr)
			}
		}
	})
	t.Run("--all: every workload of the namespace, Deployments first", func(t *testing.T) {
		s := newWorkloadServer(t)
		r := runCmd(t, "restart", "--kubeconfig", s.Kubeconfig, "--all", "--dry-run=client", "--skip-preflight")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], "deployment.apps/") || !strings.HasPrefix(lines[len(lines)-1], "daemonset.apps/") {
			t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		bad := runCmd(t, "restart", "--kubeconfig", s.Kubeconfig, "--all", "deploy/web")
		assertOneErrorLine(t, bad)
	})
	t.Run("restart -f: the live workloads the manifests name, in their order", func(t *testing.T) {
		s := newWorkloadServer(t)
		dir := t.TempDir()
		manifest := `apiVersion: v1
kind: Service
metadata: {name: db}
spec: {selector: {app: db}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
`
		if err := os.WriteFile(dir+"/release.yaml", []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCmd(t, "restart", "--kubeconfig", s.Kubeconfig, "-f", dir+"/release.yaml", "--dry-run=client", "--skip-preflight")
		if r.code != 0 || r.stdout != "daemonset.apps/agent restarted (client dry run)\nstatefulset.apps/db restarted (client dry run)\n" {
			t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		other := runCmd(t, "watch", "--kubeconfig", s.Kubeconfig, "-n", "default", "-f", td+"statefulset.yaml")
		assertOneErrorLine(t, other)
		// kubectl's words (resource.RequireNamespace).
		if want := `error: the namespace from the provided object "data" does not match the namespace "default". You must pass '--namespace=data' to perform this operation.` + "\n"; other.stderr != want {
			t.Errorf("a manifest's namespace other than -n: stderr %q", other.stderr)
		}
	})
	t.Run("restart takes several workloads as one step", func(t *testing.T) {
		s := newWorkloadServer(t)
		r := runCmd(t, "restart", "--kubeconfig", s.Kubeconfig, "-l", "tier=back", "--dry-run=client")
		if r.code != 0 || r.stdout != "statefulset.apps/db restarted (client dry run)\ndaemonset.apps/agent restarted (client dry run)\n" {
			t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "Warning: preflight daemonset/agent rollout-strategy:") {
			t.Errorf("preflight warnings do not name their workload: %q", r.stderr)
		}
	})
}

// Manifests: StatefulSets and DaemonSets are checked, in manifest order, with
// Deployments.
func TestManifestTargetsKinds(t *testing.T) {
	o := TargetOptions{withFiles: true, namespace: "default"}
	o.Filenames = []string{td + "good.yaml", td + "statefulset.yaml", td + "daemonset.yaml"}
	targets, err := o.ReadManifests()
	if err != nil {
		t.Fatal(err)
	}
	defer targets.Close()
	if targets.OnlyDeployments() {
		t.Error("OnlyDeployments with StatefulSets and DaemonSets")
	}
	var got []string
	err = CheckEach(targets, 2, func(w *verify.Workload, _ []string) (string, error) { return w.String(), nil },
		func(s string) error { got = append(got, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "deployment/web statefulset/postgresql statefulset/redis-replicas daemonset/node-exporter daemonset/fluent-bit"
	if strings.Join(got, " ") != want {
		t.Errorf("checked %v, want %s", got, want)
	}
}

// -n against a manifest's namespace, -l with -f and -R, as kubectl has them.
func TestManifestNamespaceSelectorRecursive(t *testing.T) {
	good := filepath.Join("testdata", "preflight", "good.yaml") // deployment web, namespace shop, labels none on the object
	mismatch := `error: the namespace from the provided object "shop" does not match the namespace "bar". You must pass '--namespace=shop' to perform this operation.` + "\n"
	for _, tc := range []struct {
		name       string
		args       []string
		wantStderr string // "" : no error line about it
	}{
		{"preflight -n other than the manifest's", []string{"preflight", "--local", "-f", good, "-n", "bar"}, mismatch},
		{"restart -n other than the manifest's", []string{"restart", "-f", good, "-n", "bar"}, mismatch},
		{"watch -n other than the manifest's", []string{"watch", "-f", good, "-n", "bar"}, mismatch},
		{"preflight -l matching no workload of -f", []string{"preflight", "--local", "-f", good, "-l", "app=none"},
			"error: no Deployment, StatefulSet or DaemonSet (apps/v1) found in [" + good + "]\n"},
		{"restart -l matching no workload of -f", []string{"restart", "-f", good, "-n", "shop", "-l", "app=none"},
			"error: no Deployment, StatefulSet or DaemonSet matching app=none in " + good + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.args...)
			assertOneErrorLine(t, r)
			if r.stderr != tc.wantStderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.wantStderr)
			}
		})
	}
	// The same namespace as the manifest's, and -l keeping the workload: checked.
	if r := runCmd(t, "preflight", "--local", "-f", good, "-n", "shop", "-l", "!absent"); r.code == ExitError || !strings.Contains(r.stdout, "web") {
		t.Errorf("preflight -n shop -l '!absent': exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, cmd := range []string{"preflight", "restart", "watch"} {
		root := NewRootCmd(genericiooptions.NewTestIOStreamsDiscard(), BuildInfo{})
		sub, _, err := root.Find([]string{cmd})
		if err != nil {
			t.Fatal(err)
		}
		if f := sub.Flags().Lookup("recursive"); f == nil || f.DefValue != "false" || f.Shorthand != "R" {
			t.Errorf("%s -R: %+v, want kubectl's default false", cmd, f)
		}
	}
}
