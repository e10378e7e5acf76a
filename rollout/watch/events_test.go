package watch

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

func podEvent(name, pod, kind string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "shop", Name: pod},
		Reason:         "Killing",
	}
}

func startWatches(t *testing.T, client *fake.Clientset) (*Watches, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	w, err := Start(ctx, client, Target{Workload: workload.Deployment{Deployment: d}, Selector: labels.SelectorFromSet(labels.Set{"app": "web"})})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.Stop() })
	return w, cancel
}

// nextEvent waits for the next Event on Changes, skipping other objects.
func nextEvent(t *testing.T, w *Watches) *corev1.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-w.Changes:
			if e, ok := c.Object.(*corev1.Event); ok {
				if c.Resource != "events" {
					t.Errorf("resource = %q, want events", c.Resource)
				}
				return e
			}
		case <-timeout:
			t.Fatal("no Event delivered")
			return nil
		}
	}
}

func TestPodEventsFromTheStartOnly(t *testing.T) {
	client := fake.NewClientset(podEvent("before", "web-1", "Pod"))
	w, _ := startWatches(t, client)
	<-w.Synced(context.Background())
	ctx := context.Background()
	for _, e := range []*corev1.Event{podEvent("after", "web-1", "Pod")} {
		if _, err := client.CoreV1().Events("shop").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := nextEvent(t, w); got.Name != "after" {
		t.Errorf("first Event delivered = %s, want after (one from before the start is never used)", got.Name)
	}
	// the watch asks for pod Events only, from the version the LIST returned
	var watched, listed bool
	for _, a := range client.Actions() {
		if a.GetResource().Resource != "events" {
			continue
		}
		switch a := a.(type) {
		case k8stesting.ListAction:
			listed = true
			if a.GetListRestrictions().Fields.String() != podEventsSelector {
				t.Errorf("LIST fields = %q", a.GetListRestrictions().Fields)
			}
		case k8stesting.WatchAction:
			watched = true
			if a.GetWatchRestrictions().Fields.String() != podEventsSelector {
				t.Errorf("WATCH fields = %q", a.GetWatchRestrictions().Fields)
			}
		}
	}
	if !listed || !watched {
		t.Errorf("events listed %v, watched %v; want both", listed, watched)
	}
}

func TestPodEventsForbiddenFailsAtStart(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", nil)
	})
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Start(ctx, client, Target{Workload: workload.Deployment{Deployment: d}, Selector: labels.Everything()})
	if err == nil || !apierrors.IsForbidden(err) {
		t.Fatalf("Start = %v, want a forbidden error", err)
	}
}

func TestPodEventsWatchReopensAfterAnError(t *testing.T) {
	client := fake.NewClientset()
	failures := 1
	client.PrependWatchReactor("events", func(k8stesting.Action) (bool, apiwatch.Interface, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewInternalError(context.DeadlineExceeded)
		}
		return false, nil, nil
	})
	w, _ := startWatches(t, client)
	select {
	case e := <-w.Retrying:
		if e.Resource != "events" {
			t.Errorf("retrying resource = %q", e.Resource)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the failed watch was not reported")
	}
	// after the backoff (1 s) the watch is open again and delivers
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := client.CoreV1().Events("shop").Create(context.Background(), podEvent("late", "web-1", "Pod"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-w.Changes:
			if e, ok := c.Object.(*corev1.Event); ok && e.Name == "late" {
				return
			}
		case <-time.After(500 * time.Millisecond):
		}
		_ = client.CoreV1().Events("shop").Delete(context.Background(), "late", metav1.DeleteOptions{})
	}
	t.Fatal("no Event after the watch was re-opened")
}
