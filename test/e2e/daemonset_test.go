//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// daemonSet is the app as a DaemonSet that surges on the lab's one node: the
// new pod is ready before the old one goes (no hostPort, so two fit).
func (a app) daemonSet(ns string) (*appsv1.DaemonSet, *corev1.Service) {
	d, svc := a.objects(ns)
	return &appsv1.DaemonSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.DaemonSetSpec{
			Selector: d.Spec.Selector, Template: d.Spec.Template,
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}},
		},
	}, svc
}

// deployDaemonSet creates the app as a DaemonSet and waits until its pods
// are updated and available.
func (l *lab) deployDaemonSet(t *testing.T, ns string, a app) *appsv1.DaemonSet {
	t.Helper()
	ctx := context.Background()
	ds, svc := a.daemonSet(ns)
	if _, err := l.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return l.waitDaemonSet(t, ns, ds.Name, 0)
}

// waitDaemonSet waits until the DaemonSet's pods are updated and available on
// every node it schedules to (want of them; 0: any number but none).
func (l *lab) waitDaemonSet(t *testing.T, ns, name string, want int32) *appsv1.DaemonSet {
	t.Helper()
	var got *appsv1.DaemonSet
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = l.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := got.Status
		return s.ObservedGeneration >= got.Generation && s.DesiredNumberScheduled > 0 && (want == 0 || s.DesiredNumberScheduled == want) &&
			s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberAvailable == s.DesiredNumberScheduled, nil
	})
	if err != nil {
		t.Fatalf("daemonset %s/%s not available: %v (status %+v)", ns, name, err, got.Status)
	}
	return got
}

// The contract app as a DaemonSet: restart clean, no probe error.
func TestDaemonSetRestartClean(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deployDaemonSet(t, ns, app{name: "agent", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=2s"}})
	ip := l.clusterIP(t, ns, "agent")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "ds/agent", "--probe", "http://"+ip+"/", "-o", "json", "--progress=plain", "--timeout=3m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Fatalf("exit %d outcome %q (%s), want 0 succeeded", r.code, rep.Outcome, rep.Message)
	}
	if rep.Kind != "DaemonSet" || len(rep.Pods) != 1 || rep.Summary.Clean != 1 {
		t.Errorf("kind %q pods %+v summary %+v, want the DaemonSet's one old pod, clean", rep.Kind, rep.Pods, rep.Summary)
	}
	if rep.Probe == nil || rep.Probe.Requests == 0 || rep.Probe.Errors != 0 {
		t.Errorf("probe %+v, want traffic and 0 errors", rep.Probe)
	}
}

// A bad release of the DaemonSet (half its answers are 500s): watch rolls it
// back as `kubectl rollout undo` would, exit 4.
func TestDaemonSetBadReleaseRolledBack(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	good := []string{"--mode=contract", "--drain-delay=2s"}
	l.deployDaemonSet(t, ns, app{name: "agent", grace: 30, preStop: true, args: good})
	ip := l.clusterIP(t, ns, "agent")
	l.waitAnswering(t, "http://"+ip+"/")

	quoted, _ := json.Marshal(append(append([]string{}, good...), "--error-rate=0.5"))
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","args":` + string(quoted) + `}]}}}}`
	if _, err := l.client.AppsV1().DaemonSets(ns).Patch(context.Background(), "agent", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := l.run(t, "-n", ns, "watch", "daemonset/agent", "--on-breach=rollback", "--probe", "http://"+ip+"/", "-o", "json", "--progress=plain", "--timeout=3m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 4 || rep.Outcome != "rolled-back" {
		t.Fatalf("exit %d outcome %q (%s), want 4 rolled-back", r.code, rep.Outcome, rep.Message)
	}
	ds, err := l.client.AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " "); args != strings.Join(good, " ") {
		t.Errorf("template args %q after rollback, want the previous release's %q", args, strings.Join(good, " "))
	}
}

// A DaemonSet spanning three of kwok's simulated nodes (lab/kwok), whose
// pods ignore SIGTERM (kwok plays a SIGKILL at the grace deadline): the first
// node's replacement is SIGKILLed, the roll is stopped with updateStrategy
// OnDelete (exit 3, the command that restores RollingUpdate in the report),
// and the nodes not yet rolled keep their pods at the old revision.
func TestDaemonSetStopOnSimulatedNodes(t *testing.T) {
	l := newLab(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// kwok's cold build takes minutes: it runs beside the suite's sequential
	// tests (they mostly wait on pods), and this test after them.
	built := make(chan error, 1)
	go func() {
		out, err := exec.Command("make", "-s", "--no-print-directory", "-C", root, "lab-kwok").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("make lab-kwok: %w\n%s", err, out)
		}
		built <- err
	}()
	t.Parallel()
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	kwok := func(args ...string) {
		t.Helper()
		out, err := exec.Command(filepath.Join(root, "lab/kwok.sh"), append([]string{filepath.Dir(l.kubeconfig)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("lab/kwok.sh %v: %v\n%s", args, err, out)
		}
	}
	kwok("up", "3")
	t.Cleanup(func() { kwok("down") })
	ns := l.namespace(t)
	ctx := context.Background()
	labels := map[string]string{"app": "agents"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agents", Namespace: ns, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"bench.safe-rollout.io/clean-weight": "0", "bench.safe-rollout.io/sigkill-weight": "1"}},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](2),
					NodeSelector:                  map[string]string{"type": "kwok"},
					Tolerations:                   []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers:                    []corev1.Container{{Name: "agent", Image: drainAppImage}},
				},
			},
		},
	}
	if _, err := l.client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitDaemonSet(t, ns, "agents", 3)
	oldHashes := l.podRevisions(t, ns, "agents")

	r := l.run(t, "-n", ns, "restart", "ds/agents", "--skip-preflight", "-o", "json", "--progress=plain", "--timeout=2m")
	var rep stsReport
	decodeJSON(t, r, &rep)
	if r.code != 3 || rep.Outcome != "paused" || rep.Summary.SIGKILLs == 0 {
		t.Fatalf("exit %d outcome %q summary %+v (%s), want 3, paused, a SIGKILL", r.code, rep.Outcome, rep.Summary, rep.Message)
	}
	if !strings.Contains(rep.Message, "OnDelete") || !strings.Contains(rep.Message, "kubectl patch daemonset/agents") {
		t.Errorf("message %q, want the OnDelete stop and the command that restores RollingUpdate", rep.Message)
	}
	after, err := l.client.AppsV1().DaemonSets(ns).Get(ctx, "agents", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		t.Errorf("updateStrategy %s, want OnDelete", after.Spec.UpdateStrategy.Type)
	}
	// Give the controller time to do what it would wrongly do, then look.
	time.Sleep(5 * time.Second)
	old := 0
	for _, hash := range l.podRevisions(t, ns, "agents") {
		for _, was := range oldHashes {
			if hash == was {
				old++
				break
			}
		}
	}
	if old != 2 {
		t.Errorf("%d pods at the old revision (now %v, before %v), want the 2 nodes not yet rolled untouched", old, l.podRevisions(t, ns, "agents"), oldHashes)
	}
}
