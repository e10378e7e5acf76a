// Package record tells the cluster what a guard saw (--record-events): a
// Warning Event on the workload, and on the pod while it still exists, for
// every SIGKILL, breach and action, so that `kubectl describe` and every event
// pipeline show them. The kubelet records none when it SIGKILLs a container at
// the grace deadline (kubernetes/kubernetes#67126).
//
// The Recorder is fed the guard's typed progress events; it creates the Events
// on a goroutine of its own, so that a slow API server never delays a pause or
// a rollback. An Event that cannot be created is never the rollout's failure:
// the Recorder warns once and goes on.
package record

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Controller is the Events' source component and reportingController.
const Controller = "kubectl-safe-rollout"

// The Events' reasons, CamelCase as Kubernetes' own.
const (
	ReasonSIGKILL          = "SafeRolloutSIGKILL"
	ReasonBreach           = "SafeRolloutBreach"
	ReasonPaused           = "SafeRolloutPaused"
	ReasonPartitionStopped = "SafeRolloutPartitionStopped"
	ReasonOnDeleteStopped  = "SafeRolloutOnDeleteStopped"
	ReasonRolledBack       = "SafeRolloutRolledBack"
	ReasonForcedRollback   = "SafeRolloutForcedRollback"
	messageLimit           = 1024 // the API server's limit on an Event's message
	instanceLimit          = 128  // and on its reportingInstance
	callTimeout            = 10 * time.Second
	flushTimeout           = 15 * time.Second
)

// Recorder creates the Events; Record may be called from several guards at
// once (a release step). A nil Recorder records nothing.
type Recorder struct {
	client   kubernetes.Interface
	clock    clock.Clock
	warnings io.Writer
	instance string

	mu      sync.Mutex
	pending []progress.Event
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc

	// Owned by the worker goroutine.
	seen       map[string]bool
	grace      map[podKey]time.Duration
	lastBreach map[progress.Workload]string
	disabled   bool // create on events is forbidden: stop asking
	// One warning for a forbidden create, one for any other error.
	warnedForbidden, warnedOther bool
	sequence                     int64
}

type podKey struct {
	workload progress.Workload
	pod      string
}

// New starts a Recorder; instance names this run of the plugin (the host) in
// the Events' reportingInstance. Close flushes it.
func New(client kubernetes.Interface, clk clock.Clock, warnings io.Writer, instance string) *Recorder {
	if instance == "" {
		instance = Controller // the API server requires one
	}
	if len(instance) > instanceLimit {
		instance = instance[:instanceLimit]
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		client: client, clock: clk, warnings: warnings, instance: instance,
		wake: make(chan struct{}, 1), done: make(chan struct{}), ctx: ctx, cancel: cancel,
		seen: map[string]bool{}, grace: map[podKey]time.Duration{}, lastBreach: map[progress.Workload]string{},
	}
	go r.work()
	return r
}

// Record queues what an Event is made of (deletions for their grace period,
// SIGKILLs, breaches, actions); it never blocks on the API.
func (r *Recorder) Record(e progress.Event) {
	if r == nil {
		return
	}
	switch e := e.(type) {
	case progress.ContainerExited:
		if e.Class != progress.ExitSIGKILL || e.Ignored {
			return // an ignored container's SIGKILL is reported, never judged nor announced
		}
	case progress.PodDeleted, progress.BreachDetected, progress.ActionTaken, progress.PodsForceDeleted:
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.pending = append(r.pending, e)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Close creates the Events still queued, for at most flushTimeout, and stops.
func (r *Recorder) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
	case <-r.clock.After(flushTimeout):
		r.cancel()
		<-r.done
	}
	r.cancel()
}

func (r *Recorder) work() {
	defer close(r.done)
	for range r.wake {
		r.mu.Lock()
		batch, closed := r.pending, r.closed
		r.pending = nil
		r.mu.Unlock()
		for _, e := range batch {
			r.handle(e)
		}
		if closed {
			r.mu.Lock()
			empty := len(r.pending) == 0
			r.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// handle turns one progress event into its Events, once.
func (r *Recorder) handle(e progress.Event) {
	w := e.Source()
	switch e := e.(type) {
	case progress.PodDeleted:
		r.grace[podKey{w, e.Pod}] = e.Grace
	case progress.ContainerExited:
		if r.once("sigkill", w, e.Pod) {
			r.emit(w, e.Pod, ReasonSIGKILL, "Guard", sigkillMessage(e, r.grace[podKey{w, e.Pod}]))
		}
	case progress.BreachDetected:
		r.lastBreach[w] = e.Message
		if r.once("breach", w, e.Budget) {
			r.emit(w, e.Pod, ReasonBreach, "Guard", fmt.Sprintf("budget %s breached: %s", e.Budget, e.Message))
		}
	case progress.PodsForceDeleted:
		if !r.once("forced", w, strings.Join(e.Pods, ",")) {
			return
		}
		msg := fmt.Sprintf("forced rollback: deleted pods %s of the broken revision, which were not ready", strings.Join(e.Pods, ", "))
		r.emit(w, "", ReasonForcedRollback, "Delete", msg)
		for _, pod := range e.Pods {
			r.emitPod(w, pod, ReasonForcedRollback, "Delete", "deleted by the forced rollback of "+strings.ToLower(w.Kind)+"/"+w.Name+": not ready in the broken revision")
		}
	case progress.ActionTaken:
		if !r.once("action", w, e.Action) {
			return
		}
		reason, action := actionReason(w.Kind, e.Action)
		msg := e.Detail
		if msg == "" {
			msg = e.Action
		}
		if b := r.lastBreach[w]; b != "" {
			msg += " after a breach: " + b
		}
		r.emit(w, "", reason, action, msg)
	}
}

// once tells whether the Event keyed by what, w and name is new.
func (r *Recorder) once(what string, w progress.Workload, name string) bool {
	key := what + "/" + w.Kind + "/" + w.Namespace + "/" + w.Name + "/" + name
	if r.seen[key] {
		return false
	}
	r.seen[key] = true
	return true
}

// actionReason names an action's Event: the stop --on-breach=pause means
// depends on the kind (pause does not exist for StatefulSets and DaemonSets).
func actionReason(kind, action string) (reason, verb string) {
	switch {
	case action == progress.ActionRolledBack:
		return ReasonRolledBack, "Rollback"
	case kind == workload.KindStatefulSet:
		return ReasonPartitionStopped, "Stop"
	case kind == workload.KindDaemonSet:
		return ReasonOnDeleteStopped, "Stop"
	}
	return ReasonPaused, "Pause"
}

// sigkillMessage says which container was SIGKILLed, with its exit code, when
// and the grace period (unknown when the guard missed the deletion).
func sigkillMessage(e progress.ContainerExited, grace time.Duration) string {
	msg := fmt.Sprintf("pod %s: container %s SIGKILLed at the grace deadline: exit code %d", e.Pod, e.Container, e.ExitCode)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	msg += fmt.Sprintf(" %.1fs after the deletion", e.After.Seconds())
	if grace > 0 {
		msg += fmt.Sprintf(", terminationGracePeriodSeconds %d", int64(grace.Seconds()))
	}
	return msg + "; the kubelet records no Event for it"
}

// emit records an Event on the workload and, when pod is named and the pod
// object still exists, on the pod.
func (r *Recorder) emit(w progress.Workload, pod, reason, action, msg string) {
	if r.disabled {
		return
	}
	ref := r.workloadRef(w)
	r.create(ref, reason, action, msg)
	if pod != "" {
		r.emitPod(w, pod, reason, action, msg)
	}
}

// emitPod records an Event on the pod if it still exists: an Event about a
// pod that is gone would only show in event pipelines, under a name that may
// already belong to its replacement (a StatefulSet's).
func (r *Recorder) emitPod(w progress.Workload, pod, reason, action, msg string) {
	if r.disabled {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	// list, not get: the Role grants list on pods (the guard's informer), not get.
	pods, err := r.client.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod).String()})
	if err != nil {
		r.warn(fmt.Errorf("cannot look up pod %s for its Event: %w", pod, err))
		return
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Name == pod {
			r.create(corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: p.Namespace, Name: p.Name,
				UID: p.UID, ResourceVersion: p.ResourceVersion}, reason, action, msg)
			return
		}
	}
}

// workloadRef is the workload's reference with its UID and resourceVersion
// (kubectl describe selects Events by the UID); without them when it cannot be
// read (deleted meanwhile).
func (r *Recorder) workloadRef(w progress.Workload) corev1.ObjectReference {
	ref := corev1.ObjectReference{APIVersion: "apps/v1", Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	var meta metav1.Object
	var err error
	apps := r.client.AppsV1()
	switch w.Kind {
	case workload.KindStatefulSet:
		meta, err = apps.StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	case workload.KindDaemonSet:
		meta, err = apps.DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	default:
		meta, err = apps.Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	}
	if err != nil {
		if !apierrors.IsNotFound(err) {
			r.warn(fmt.Errorf("cannot read %s/%s for its Event: %w", strings.ToLower(w.Kind), w.Name, err))
		}
		return ref
	}
	ref.UID, ref.ResourceVersion = meta.GetUID(), meta.GetResourceVersion()
	return ref
}

// create writes one core/v1 Event. core/v1 rather than events.k8s.io/v1: both
// are one storage and `kubectl describe` shows either (it lists core/v1 Events
// by involvedObject), but core/v1 keeps the Role to the rule on "" events the
// guard already needs (list, watch) and is what older event exporters read.
func (r *Recorder) create(ref corev1.ObjectReference, reason, action, msg string) {
	if r.disabled {
		return
	}
	if len(msg) > messageLimit {
		msg = msg[:messageLimit-3] + "..."
	}
	now := r.clock.Now()
	r.sequence++
	ev := &corev1.Event{
		// As client-go's recorder names them, with a sequence: two Events at
		// one clock reading must not collide.
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x.%d", ref.Name, now.UnixNano(), r.sequence), Namespace: ref.Namespace},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             msg,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: Controller, Host: r.instance},
		FirstTimestamp:      metav1.NewTime(now),
		LastTimestamp:       metav1.NewTime(now),
		Count:               1,
		EventTime:           metav1.NewMicroTime(now),
		Action:              action,
		ReportingController: Controller,
		ReportingInstance:   r.instance,
	}
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	_, err := r.client.CoreV1().Events(ref.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	switch {
	case apierrors.IsForbidden(err):
		r.disabled = true
		if !r.warnedForbidden {
			r.warnedForbidden = true
			fmt.Fprintf(r.warnings, "--record-events: cannot create Events: %v (needs create on events); going on\n", err)
		}
	case err != nil:
		r.warn(fmt.Errorf("cannot create Events: %w", err))
	}
}

// warn tells the user once that Events may be missing; the rollout goes on
// as if --record-events had not been given.
func (r *Recorder) warn(err error) {
	if r.warnedOther {
		return
	}
	r.warnedOther = true
	if r.ctx.Err() != nil {
		fmt.Fprintf(r.warnings, "--record-events: the API did not take the last Events within %s of the end; going on\n", flushTimeout)
		return
	}
	fmt.Fprintf(r.warnings, "--record-events: %v; going on\n", err)
}
