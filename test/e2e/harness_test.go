//go:build e2e

// Package e2e runs the plugin binary against the project's lab cluster
// (make lab-up). Each test works in a namespace of its own, deleted afterwards.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

const drainAppImage = "safe-rollout.local/drain-app:dev"

type lab struct {
	kubeconfig string
	plugin     string
	client     kubernetes.Interface
}

func newLab(t *testing.T) *lab {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{
		kubeconfig: envOr("KUBECONFIG_LAB", filepath.Join(root, ".lab/kubeconfig")),
		plugin:     envOr("SAFE_ROLLOUT_BIN", filepath.Join(root, "bin/kubectl-safe_rollout")),
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", l.kubeconfig)
	if err != nil {
		t.Fatalf("lab kubeconfig %s: %v (run make lab-up)", l.kubeconfig, err)
	}
	if l.client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.plugin); err != nil {
		t.Fatalf("plugin binary: %v (run make build)", err)
	}
	return l
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// namespace creates a namespace for one test and deletes it when the test ends.
func (l *lab) namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("e2e-%s-%d", strings.Trim(name, "-"), time.Now().UnixNano()%100000)
	ctx := context.Background()
	if _, err := l.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace's default ServiceAccount must exist before pods can be created.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := l.client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("namespace %s: no default ServiceAccount: %v", name, err)
	}
	t.Cleanup(func() {
		_ = l.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	return name
}

// app describes a drain-app Deployment + Service.
type app struct {
	name     string
	replicas int32
	grace    int64
	args     []string
	preStop  bool
	strategy appsv1.DeploymentStrategy
	// sidecars run beside the app container (the drain-app image, no ports).
	sidecars []corev1.Container
	// mutate changes the Deployment last: the configurations a check is
	// calibrated on (no readinessProbe, a preStop sleep, annotations).
	mutate func(*appsv1.Deployment)
}

func (a app) objects(ns string) (*appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{"app": a.name}
	if a.replicas == 0 {
		a.replicas = 3
	}
	if a.strategy.Type == "" {
		a.strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
		}}
	}
	c := corev1.Container{
		Name:            "app",
		Image:           drainAppImage,
		ImagePullPolicy: corev1.PullNever,
		Args:            a.args,
		// X-Served-By: <pod name> on every answer (--probe-identity-header).
		Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "grpc", ContainerPort: 9090}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health/ready", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health/live", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 10, FailureThreshold: 3,
		},
	}
	if a.preStop {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/admin/drain", Port: intstr.FromInt32(8080)}}}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &a.replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: a.strategy,
			Template: corev1.PodTemplateSpec{
				// The lab's Prometheus scrapes the drain-app's /metrics (lab/prometheus-sd.sh).
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}},
				Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &a.grace, Containers: append([]corev1.Container{c}, a.sidecars...)},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
			{Name: "grpc", Port: 9090, TargetPort: intstr.FromInt32(9090)},
		}},
	}
	if a.mutate != nil {
		a.mutate(d)
	}
	return d, svc
}

// deploy creates the app and waits until every replica is available.
func (l *lab) deploy(t *testing.T, ns string, a app) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	d, svc := a.objects(ns)
	if _, err := l.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return l.waitAvailable(t, ns, a.name)
}

func (l *lab) waitAvailable(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		d, err = l.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s not available: %v (status %+v)", ns, name, err, d.Status)
	}
	return d
}

// result is one run of the plugin.
type result struct {
	code   int
	stdout string
	stderr string
}

// run runs the plugin as the lab's admin.
func (l *lab) run(t *testing.T, args ...string) result {
	t.Helper()
	return l.runWithEnv(t, l.kubeconfig, nil, args...)
}

// runWith runs the plugin with the given kubeconfig instead of the lab's admin one.
func (l *lab) runWith(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	return l.runWithEnv(t, kubeconfig, nil, args...)
}

// runWithEnv is runWith with extra environment variables.
func (l *lab) runWithEnv(t *testing.T, kubeconfig string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.plugin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	// No discovery cache shared with other runs: each run discovers as this user.
	cmd.Env = append(append(os.Environ(), "HOME="+t.TempDir()), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running plugin: %v", err)
	}
	t.Logf("%s kubectl safe-rollout %s (--kubeconfig %s) -> exit %d\nstderr:\n%s", strings.Join(env, " "), strings.Join(args, " "), kubeconfig, r.code, r.stderr)
	return r
}

// lockedBuffer is a bytes.Buffer safe to read while the plugin writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a plugin run in the background.
type running struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan result
}

// signal sends sig to the running plugin.
func (r *running) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling the plugin: %v", err)
	}
}

// start runs the plugin in the background with the lab's admin kubeconfig.
func (l *lab) start(t *testing.T, args ...string) *running {
	t.Helper()
	return l.startWith(t, l.kubeconfig, args...)
}

// startWith runs the plugin in the background with another kubeconfig.
func (l *lab) startWith(t *testing.T, kubeconfig string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, l.plugin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out bytes.Buffer
	r := &running{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan result, 1)}
	cmd.Stdout, cmd.Stderr = &out, r.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting plugin: %v", err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		res := result{stdout: out.String(), stderr: r.stderr.String()}
		if exitErr, ok := err.(*exec.ExitError); ok {
			res.code = exitErr.ExitCode()
		} else if err != nil {
			res.code = -1
		}
		r.done <- res
	}()
	return r
}

// waitStderr waits until the plugin printed want on stderr.
func (r *running) waitStderr(t *testing.T, want string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return strings.Contains(r.stderr.String(), want), nil
	})
	if err != nil {
		t.Fatalf("the plugin never printed %q; stderr:\n%s", want, r.stderr.String())
	}
}

// rolloutReport is the part of the JSON report the tests assert on.
type rolloutReport struct {
	Outcome      string `json:"outcome"`
	Message      string `json:"message"`
	FromRevision string `json:"fromRevision"`
	ToRevision   string `json:"toRevision"`
	Pods         []struct {
		Name                     string   `json:"name"`
		ExitCode                 *int32   `json:"exitCode"`
		Reason                   string   `json:"reason"`
		Exit                     string   `json:"exit"`
		SIGKILL                  bool     `json:"sigkill"`
		ServingFalseBeforeExit   bool     `json:"servingFalseBeforeExit"`
		SecondsToNotReady        *float64 `json:"secondsToNotReady"`
		SecondsToNotServing      *float64 `json:"secondsToNotServing"`
		SecondsToEndpointRemoval *float64 `json:"secondsToEndpointRemoval"`
		TerminationSeconds       *float64 `json:"terminationSeconds"`
		GraceSeconds             float64  `json:"graceSeconds"`
		Verdict                  string   `json:"verdict"`
		SeenAfterWatchGap        bool     `json:"seenAfterWatchGap"`
	} `json:"pods"`
	Propagation struct {
		Samples int      `json:"samples"`
		P50     *float64 `json:"p50"`
		P95     *float64 `json:"p95"`
		Max     *float64 `json:"max"`
	} `json:"propagation"`
	RecommendedGraceSeconds *int64 `json:"recommendedGraceSeconds"`
	WatchGaps               []struct {
		Resource string     `json:"resource"`
		From     time.Time  `json:"from"`
		To       *time.Time `json:"to"`
	} `json:"watchGaps"`
	Revisions []struct {
		Revision string `json:"revision"`
		Followed bool   `json:"followed"`
	} `json:"revisions"`
	Breaches []struct {
		Budget string `json:"budget"`
		Action string `json:"action"`
		Pod    string `json:"pod"`
	} `json:"breaches"`
}

// decodeJSON reads the plugin's JSON report from the command's stdout.
func decodeJSON(t *testing.T, r result, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), into); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r.stdout)
	}
}

func decodeReport(t *testing.T, r result) rolloutReport {
	t.Helper()
	var rep rolloutReport
	decodeJSON(t, r, &rep)
	return rep
}

// revisions lists the Deployment's ReplicaSets by revision, as `kubectl rollout history` does.
func (l *lab) revisions(t *testing.T, ns string, d *appsv1.Deployment) map[string]*appsv1.ReplicaSet {
	t.Helper()
	sel := metav1.FormatLabelSelector(d.Spec.Selector)
	list, err := l.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		rs := &list.Items[i]
		out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
	}
	return out
}

// waitAnswering waits until a Service answers from the host: kube-proxy programs
// a new Service's rules a little after its EndpointSlices are ready.
func (l *lab) waitAnswering(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	ok := 0
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			ok = 0
			return false, nil
		}
		ok++
		return ok >= 5, nil
	})
	if err != nil {
		t.Fatalf("%s does not answer: %v", url, err)
	}
}
