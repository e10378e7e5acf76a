package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/record"
)

var (
	t0     = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	web    = progress.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	db     = progress.Workload{Kind: "StatefulSet", Namespace: "shop", Name: "db"}
	agent  = progress.Workload{Kind: "DaemonSet", Namespace: "shop", Name: "agent"}
	inShop = func(name, uid string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid), ResourceVersion: "7"}
	}
)

func header(w progress.Workload) progress.Header { return progress.Header{Workload: w, At: t0} }

func objects() []runtime.Object {
	return []runtime.Object{
		&appsv1.Deployment{ObjectMeta: inShop("web", "uid-web")},
		&appsv1.StatefulSet{ObjectMeta: inShop("db", "uid-db")},
		&appsv1.DaemonSet{ObjectMeta: inShop("agent", "uid-agent")},
		&corev1.Pod{ObjectMeta: inShop("web-alive", "uid-web-alive")},
		&corev1.Pod{ObjectMeta: inShop("db-2", "uid-db-2")},
	}
}

// recorded is one Event as a line: its object, reason and message.
func recorded(t *testing.T, c *fake.Clientset) []string {
	t.Helper()
	list, err := c.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, fmt.Sprintf("%s/%s %s: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message))
	}
	slices.Sort(out) // the fake API lists in no particular order
	return out
}

func TestRecorderEvents(t *testing.T) {
	sigkill := func(pod, container string) progress.ContainerExited {
		return progress.ContainerExited{Header: header(web), Pod: pod, Container: container, ExitCode: 137, Reason: "Error",
			After: 5100 * time.Millisecond, Class: progress.ExitSIGKILL}
	}
	deleted := func(pod string) progress.PodDeleted {
		return progress.PodDeleted{Header: header(web), Pod: pod, Grace: 5 * time.Second}
	}
	breach := progress.BreachDetected{Header: header(web), Budget: "sigkills", Pod: "web-alive",
		Message: "1 container SIGKILLed at the grace deadline (budget 0)"}
	tests := []struct {
		name   string
		events []progress.Event
		want   []string
	}{{
		name:   "a SIGKILLed pod that is gone: the workload's Event only",
		events: []progress.Event{deleted("web-gone"), sigkill("web-gone", "app")},
		want: []string{
			"Deployment/web SafeRolloutSIGKILL: pod web-gone: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion, terminationGracePeriodSeconds 5; the kubelet records no Event for it",
		},
	}, {
		name:   "a SIGKILLed pod that still exists: on the pod too",
		events: []progress.Event{deleted("web-alive"), sigkill("web-alive", "app")},
		want: []string{
			"Deployment/web SafeRolloutSIGKILL: pod web-alive: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion, terminationGracePeriodSeconds 5; the kubelet records no Event for it",
			"Pod/web-alive SafeRolloutSIGKILL: pod web-alive: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion, terminationGracePeriodSeconds 5; the kubelet records no Event for it",
		},
	}, {
		name: "one Event per SIGKILLed pod, whatever its containers and the replays",
		events: []progress.Event{sigkill("web-gone", "app"), sigkill("web-gone", "istio-proxy"), sigkill("web-gone", "app"),
			sigkill("web-other", "app")},
		want: []string{
			"Deployment/web SafeRolloutSIGKILL: pod web-gone: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion; the kubelet records no Event for it",
			"Deployment/web SafeRolloutSIGKILL: pod web-other: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion; the kubelet records no Event for it",
		},
	}, {
		name: "an ignored container's SIGKILL is no Event, and does not hide the app's",
		events: func() []progress.Event {
			proxy := sigkill("web-gone", "istio-proxy")
			proxy.Ignored = true // --ignore-container istio-proxy
			lone := sigkill("web-other", "istio-proxy")
			lone.Ignored = true
			return []progress.Event{proxy, sigkill("web-gone", "app"), lone}
		}(),
		want: []string{
			"Deployment/web SafeRolloutSIGKILL: pod web-gone: container app SIGKILLed at the grace deadline: exit code 137 (Error) 5.1s after the deletion; the kubelet records no Event for it",
		},
	}, {
		name: "clean and unclean exits are no Events",
		events: []progress.Event{
			progress.ContainerExited{Header: header(web), Pod: "web-alive", Container: "app", ExitCode: 143, Class: progress.ExitCleanSignal},
			progress.ContainerExited{Header: header(web), Pod: "web-alive", Container: "app", ExitCode: 1, Class: progress.ExitUnclean},
			progress.StatusChanged{Header: header(web), Message: "1 of 2 updated"},
		},
	}, {
		name: "a breach and the pause, once each",
		events: []progress.Event{breach, breach, progress.ActionTaken{Header: header(web), Action: progress.ActionPaused,
			Detail: "paused the rollout (resume: kubectl rollout resume deployment/web -n shop)"}},
		want: []string{
			"Deployment/web SafeRolloutBreach: budget sigkills breached: 1 container SIGKILLed at the grace deadline (budget 0)",
			"Pod/web-alive SafeRolloutBreach: budget sigkills breached: 1 container SIGKILLed at the grace deadline (budget 0)",
			"Deployment/web SafeRolloutPaused: paused the rollout (resume: kubectl rollout resume deployment/web -n shop) after a breach: 1 container SIGKILLed at the grace deadline (budget 0)",
		},
	}, {
		name: "a rollback",
		events: []progress.Event{progress.ActionTaken{Header: header(web), Action: progress.ActionRolledBack, Revision: "1",
			Detail: "rolled back to the template of revision 1 (kubectl rollout history deployment/web -n shop)"}},
		want: []string{
			"Deployment/web SafeRolloutRolledBack: rolled back to the template of revision 1 (kubectl rollout history deployment/web -n shop)",
		},
	}, {
		name: "a StatefulSet's partition stop, a DaemonSet's OnDelete stop",
		events: []progress.Event{
			progress.ActionTaken{Header: header(db), Action: progress.ActionPaused, Detail: "stopped the roll with partition 2"},
			progress.ActionTaken{Header: header(agent), Action: progress.ActionPaused, Detail: "stopped the roll with updateStrategy OnDelete"},
		},
		want: []string{
			"StatefulSet/db SafeRolloutPartitionStopped: stopped the roll with partition 2",
			"DaemonSet/agent SafeRolloutOnDeleteStopped: stopped the roll with updateStrategy OnDelete",
		},
	}, {
		name: "a forced rollback: on the StatefulSet and on each deleted pod still there",
		events: []progress.Event{
			progress.PodsForceDeleted{Header: header(db), Pods: []string{"db-2", "db-3"}},
			progress.ActionTaken{Header: header(db), Action: progress.ActionRolledBack, Revision: "4", Detail: "rolled back to the template of revision 4"},
		},
		want: []string{
			"StatefulSet/db SafeRolloutForcedRollback: forced rollback: deleted pods db-2, db-3 of the broken revision, which were not ready",
			"Pod/db-2 SafeRolloutForcedRollback: deleted by the forced rollback of statefulset/db: not ready in the broken revision",
			"StatefulSet/db SafeRolloutRolledBack: rolled back to the template of revision 4",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(objects()...)
			var warnings bytes.Buffer
			r := record.New(c, clocktesting.NewFakeClock(t0), &warnings, "ci-runner-1")
			for _, e := range tc.events {
				r.Record(e)
			}
			r.Close()
			got := recorded(t, c)
			slices.Sort(tc.want)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if warnings.Len() > 0 {
				t.Errorf("warnings: %s", warnings.String())
			}
		})
	}
}

// TestRecorderEventFields: what kubectl describe and event pipelines select
// and show: the object with its UID and resourceVersion, Warning, the source.
func TestRecorderEventFields(t *testing.T) {
	c := fake.NewClientset(objects()...)
	r := record.New(c, clocktesting.NewFakeClock(t0), &bytes.Buffer{}, "ci-runner-1")
	r.Record(progress.ContainerExited{Header: header(web), Pod: "web-alive", Container: "app", ExitCode: 137, Class: progress.ExitSIGKILL})
	r.Close()
	list, err := c.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d Events, want 2", len(list.Items))
	}
	names := map[string]bool{}
	for _, e := range list.Items {
		names[e.Name] = true
		want := corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: "uid-web", ResourceVersion: "7"}
		if e.InvolvedObject.Kind == "Pod" {
			want = corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web-alive", UID: "uid-web-alive", ResourceVersion: "7"}
		}
		if e.InvolvedObject != want {
			t.Errorf("involvedObject %+v, want %+v", e.InvolvedObject, want)
		}
		if e.Type != corev1.EventTypeWarning || e.Source.Component != "kubectl-safe-rollout" || e.Source.Host != "ci-runner-1" ||
			e.ReportingController != "kubectl-safe-rollout" || e.ReportingInstance != "ci-runner-1" || e.Action == "" || e.Count != 1 {
			t.Errorf("event %s: type %q, source %+v, reporting %q/%q, action %q, count %d", e.Name, e.Type, e.Source,
				e.ReportingController, e.ReportingInstance, e.Action, e.Count)
		}
		if !e.FirstTimestamp.Time.Equal(t0) || !e.LastTimestamp.Time.Equal(t0) || !e.EventTime.Time.Equal(t0) {
			t.Errorf("event %s timestamps %s %s %s, want %s", e.Name, e.FirstTimestamp, e.LastTimestamp, e.EventTime, t0)
		}
	}
	if len(names) != 2 {
		t.Errorf("Event names collide: %v", names)
	}
}

// TestRecorderErrors: no permission to create Events warns once and stops
// asking; any other error warns once and keeps trying. Neither is an error of
// the rollout (Record and Close return nothing).
func TestRecorderErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "",
		errors.New(`User "system:serviceaccount:shop:deployer" cannot create resource "events" in API group "" in the namespace "shop"`))
	tests := []struct {
		name        string
		err         error
		wantCreates int
		wantWarning string
	}{{
		name:        "forbidden",
		err:         forbidden,
		wantCreates: 1,
		wantWarning: `--record-events: cannot create Events: events is forbidden: User "system:serviceaccount:shop:deployer" cannot create resource "events" in API group "" in the namespace "shop" (needs create on events); going on` + "\n",
	}, {
		name:        "any other error",
		err:         apierrors.NewInternalError(errors.New("etcdserver: request timed out")),
		wantCreates: 4,
		wantWarning: "--record-events: cannot create Events: Internal error occurred: etcdserver: request timed out; going on\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(objects()...)
			creates := 0
			c.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
				creates++
				return true, nil, tc.err
			})
			var warnings bytes.Buffer
			r := record.New(c, clocktesting.NewFakeClock(t0), &warnings, "ci-runner-1")
			for _, pod := range []string{"web-a", "web-b", "web-c"} {
				r.Record(progress.ContainerExited{Header: header(web), Pod: pod, Container: "app", ExitCode: 137, Class: progress.ExitSIGKILL})
			}
			r.Record(progress.ActionTaken{Header: header(web), Action: progress.ActionPaused, Detail: "paused the rollout"})
			r.Close()
			if creates != tc.wantCreates {
				t.Errorf("%d creates, want %d", creates, tc.wantCreates)
			}
			if warnings.String() != tc.wantWarning {
				t.Errorf("warnings:\n%q\nwant:\n%q", warnings.String(), tc.wantWarning)
			}
		})
	}
}

// TestRecorderConcurrentGuards: a release step's guards record at once.
func TestRecorderConcurrentGuards(t *testing.T) {
	c := fake.NewClientset(objects()...)
	r := record.New(c, clocktesting.NewFakeClock(t0), &bytes.Buffer{}, "ci-runner-1")
	done := make(chan struct{})
	for _, w := range []progress.Workload{web, db, agent} {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 20 {
				r.Record(progress.ContainerExited{Header: header(w), Pod: fmt.Sprintf("%s-x%d", w.Name, i%10), Container: "app", ExitCode: 137, Class: progress.ExitSIGKILL})
			}
		}()
	}
	for range 3 {
		<-done
	}
	r.Close()
	if got := len(recorded(t, c)); got != 30 {
		t.Errorf("%d Events, want 30 (one per SIGKILLed pod)", got)
	}
	r.Record(progress.ContainerExited{Header: header(web), Pod: "late", Container: "app", ExitCode: 137, Class: progress.ExitSIGKILL})
}

func TestNilRecorder(t *testing.T) {
	var r *record.Recorder
	r.Record(progress.ContainerExited{Header: header(web), Pod: "web-1", Class: progress.ExitSIGKILL})
	r.Close()
}
