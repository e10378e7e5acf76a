package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// This file holds what the StatefulSet and DaemonSet writes share: their
// history in ControllerRevisions, and generic siblings of whileGuarded and the
// restart patch (restart.go and rollback.go are written for Deployments only).

// Revisioned is a workload whose controller keeps its history in ControllerRevisions.
type Revisioned interface {
	*appsv1.StatefulSet | *appsv1.DaemonSet
}

// ErrStopRefused means the workload no longer runs the template this rollout
// produced: stopping it would stop someone else's rollout. The error returned
// names the kind and wraps this one.
var ErrStopRefused = errors.New("stop refused: the workload's template changed since the guard started (someone else updated it)")

// ErrOnDelete means the workload's updateStrategy is OnDelete: its controller
// replaces no pod by itself, so there is no rollout to stop (and a StatefulSet
// with OnDelete would not accept a partition).
var ErrOnDelete = errors.New("updateStrategy is OnDelete: the controller replaces no pod by itself, nothing to stop")

// refusedError names the kind a write was refused for and wraps the sentinel
// (ErrStopRefused or ErrRollbackRefused) callers test with errors.Is.
type refusedError struct {
	action, kind string
	sentinel     error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s refused: the %s's template changed since the guard started (someone else updated it)", e.action, e.kind)
}

func (e *refusedError) Unwrap() error { return e.sentinel }

var (
	errStatefulSetStopRefused     = &refusedError{"stop", "StatefulSet", ErrStopRefused}
	errDaemonSetStopRefused       = &refusedError{"stop", "DaemonSet", ErrStopRefused}
	errStatefulSetRollbackRefused = &refusedError{"rollback", "StatefulSet", ErrRollbackRefused}
	errDaemonSetRollbackRefused   = &refusedError{"rollback", "DaemonSet", ErrRollbackRefused}
)

// whileGuardedObject writes a workload of any kind only while it still carries
// guarded, the template this rollout produced: on the copy the guard knows first, on a fresh
// read (get) after any failure; refused once the template changed. Transient
// errors are retried until ctx ends.
func whileGuardedObject[T any](ctx context.Context, obj T, get func(context.Context) (T, error), template func(T) *corev1.PodTemplateSpec,
	guarded *corev1.PodTemplateSpec, refused error, attempt func(error), write func(current T) error) error {
	current, known := obj, true
	return retryTransient(ctx, attempt, func() error {
		if !known {
			fresh, err := get(ctx)
			if err != nil {
				return &rereadError{err}
			}
			current, known = fresh, true
		}
		if !equality.Semantic.DeepEqual(template(current), guarded) {
			return refused
		}
		known = false // any failure re-reads
		return write(current)
	})
}

// rollbackToRevision restores previous's template on obj as `kubectl rollout
// undo` does (the revision's data as a strategic merge patch, made conditional
// on the resourceVersion whose template was checked), while obj still carries
// guarded. patch sends the patch to obj's kind.
func rollbackToRevision[T metav1.Object](ctx context.Context, obj T, get func(context.Context) (T, error), template func(T) *corev1.PodTemplateSpec,
	patch func(ctx context.Context, data []byte) error, kind string, refused error,
	previous *appsv1.ControllerRevision, guarded *corev1.PodTemplateSpec, attempt func(error)) error {
	if previous == nil {
		return fmt.Errorf("%s %s/%s has no previous revision to roll back to", kind, obj.GetNamespace(), obj.GetName())
	}
	err := whileGuardedObject(ctx, obj, get, template, guarded, refused, attempt, func(current T) error {
		data, err := rollbackPatch(previous, current.GetResourceVersion())
		if err != nil {
			return err
		}
		return patch(ctx, data)
	})
	return wrapWrite(err, "rolling back", kind, obj.GetNamespace(), obj.GetName())
}

// wrapWrite wraps a guarded write's error as Rollback does: refusals as they
// are, a failed re-read as such, anything else as the failed action.
func wrapWrite(err error, doing, kind, namespace, name string) error {
	var reread *rereadError
	switch {
	case err == nil, errors.Is(err, ErrStopRefused), errors.Is(err, ErrRollbackRefused):
		return err
	case errors.As(err, &reread):
		return fmt.Errorf("re-reading %s %s/%s: %w", kind, namespace, name, reread.err)
	}
	return fmt.Errorf("%s %s %s/%s: %w", doing, kind, namespace, name, err)
}

// stampRestart sets the restartedAt annotation on a pod template, as kubectl does.
func stampRestart(t *corev1.PodTemplateSpec, now time.Time) {
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[workload.RestartedAtAnnotation] = now.Format(time.RFC3339)
}

// twoWayPatch is the strategic merge patch from before to after, as kubectl
// computes the restart patch from the object and its stamped copy.
func twoWayPatch(before, after, dataStruct any) ([]byte, error) {
	beforeJSON, err := json.Marshal(before)
	if err != nil {
		return nil, fmt.Errorf("encoding workload: %w", err)
	}
	afterJSON, err := json.Marshal(after)
	if err != nil {
		return nil, fmt.Errorf("encoding workload: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(beforeJSON, afterJSON, dataStruct)
	if err != nil {
		return nil, fmt.Errorf("computing restart patch: %w", err)
	}
	return patch, nil
}

// revisionedMeta is the object metadata, selector and template of a Revisioned workload.
func revisionedMeta[W Revisioned](obj W) (metav1.Object, *metav1.LabelSelector, *corev1.PodTemplateSpec) {
	switch o := any(obj).(type) {
	case *appsv1.StatefulSet:
		return o, o.Spec.Selector, &o.Spec.Template
	case *appsv1.DaemonSet:
		return o, o.Spec.Selector, &o.Spec.Template
	}
	return nil, nil, nil // unreachable: Revisioned admits only the two
}

// ControllerRevisions lists the workload's own ControllerRevisions as kubectl
// does: by the workload's selector, keeping those it controls.
func ControllerRevisions[W Revisioned](ctx context.Context, client kubernetes.Interface, obj W) ([]*appsv1.ControllerRevision, error) {
	m, selector, _ := revisionedMeta(obj)
	if m == nil {
		return nil, errors.New("not a StatefulSet or DaemonSet")
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("selector of %s/%s: %w", m.GetNamespace(), m.GetName(), err)
	}
	list, err := client.AppsV1().ControllerRevisions(m.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing controller revisions of %s/%s: %w", m.GetNamespace(), m.GetName(), err)
	}
	var out []*appsv1.ControllerRevision
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], m) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// ownRevisions keeps the revisions obj controls, newest first.
func ownRevisions(obj metav1.Object, revisions []*appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if r != nil && metav1.IsControlledBy(r, obj) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Revision > out[j].Revision })
	return out
}

// currentRevision is the Revision of the template the workload runs, once its
// controller has observed the current generation: for a StatefulSet the
// revision its status names, for a DaemonSet the newest (its controller
// records the template's revision before it updates the status).
func currentRevision[W Revisioned](obj W, own []*appsv1.ControllerRevision) (int64, bool) {
	switch o := any(obj).(type) {
	case *appsv1.StatefulSet:
		if o.Status.ObservedGeneration < o.Generation || o.Status.UpdateRevision == "" {
			return 0, false
		}
		for _, r := range own {
			if r.Name == o.Status.UpdateRevision {
				return r.Revision, true
			}
		}
	case *appsv1.DaemonSet:
		if o.Status.ObservedGeneration >= o.Generation && len(own) > 0 {
			return own[0].Revision, true
		}
	}
	return 0, false
}

// PreviousRevision is the ControllerRevision to roll back to from the rollout to
// guarded. Once the controller has caught up, that is the highest Revision below
// the current one, as `kubectl rollout undo` picks it; before (right after a
// restart) the status and history are stale, so it is the newest revision whose
// template is not guarded, as RollbackTarget does for Deployments. Nil if none.
func PreviousRevision[W Revisioned](obj W, revisions []*appsv1.ControllerRevision, guarded *corev1.PodTemplateSpec) *appsv1.ControllerRevision {
	m, _, _ := revisionedMeta(obj)
	if m == nil {
		return nil
	}
	own := ownRevisions(m, revisions)
	if current, ok := currentRevision(obj, own); ok {
		for _, r := range own {
			if r.Revision < current {
				return r
			}
		}
		return nil
	}
	for _, r := range own {
		if t, err := workload.RevisionTemplate(r); err == nil && !equality.Semantic.DeepEqual(t, guarded) {
			return r
		}
	}
	return nil
}

// rollbackPatch is the revision's data, which `kubectl rollout undo` sends as a
// strategic merge patch, made conditional on resourceVersion, the version whose
// template was checked.
func rollbackPatch(r *appsv1.ControllerRevision, resourceVersion string) ([]byte, error) {
	raw, err := workload.RevisionData(r)
	if err != nil {
		return nil, err
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(raw, &patch); err != nil {
		return nil, fmt.Errorf("decoding controller revision %s: %w", r.Name, err)
	}
	if _, ok := patch["spec"]; !ok {
		return nil, fmt.Errorf("controller revision %s records no spec", r.Name)
	}
	// The controllers record only spec.template; metadata carries the precondition alone.
	meta, err := json.Marshal(map[string]string{"resourceVersion": resourceVersion})
	if err != nil {
		return nil, err
	}
	patch["metadata"] = meta
	return json.Marshal(patch)
}
