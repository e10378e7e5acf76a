package watch

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	apiwatch "k8s.io/apimachinery/pkg/watch"
)

// Pod Events are watched from the moment the guard starts, with no cache: an
// informer would list and keep every pod Event of the namespace (make bench:
// 1,000 unrelated Events cost the guard 1 MB of LIST and ~4 MiB of RSS), yet
// the guard only uses Events newer than its start, of pods it follows, which
// the state picks out by name. Reconnects resume from the last version seen.

var podEventsSelector = fields.OneTermEqualSelector("involvedObject.kind", "Pod").String()

// maxEventsBackoff bounds the wait between attempts to re-open the watch.
const maxEventsBackoff = 30 * time.Second

// startPodEvents reads the namespace's current resourceVersion (one LIST of at
// most one Event) and streams the Events that come after it to Changes. A
// missing permission fails here, at once, like an informer's first list.
func (w *Watches) startPodEvents() error {
	rv, err := w.currentEventsVersion()
	if err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			return fmt.Errorf("watching: %w (the guard needs list and watch on it)", err)
		}
		return fmt.Errorf("watching events: %w", err)
	}
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		w.followPodEvents(rv)
	}()
	return nil
}

func (w *Watches) currentEventsVersion() (string, error) {
	list, err := w.client.CoreV1().Events(w.namespace).List(w.ctx, metav1.ListOptions{FieldSelector: podEventsSelector, Limit: 1})
	if err != nil {
		return "", err
	}
	return list.ResourceVersion, nil
}

// followPodEvents re-opens the watch until the context ends; a version too old
// to resume from (410 Gone) restarts from the current one, and the Events in
// between are lost: Events are best effort, in the API server as here.
func (w *Watches) followPodEvents(rv string) {
	backoff := time.Second
	for w.ctx.Err() == nil {
		next, err := w.streamPodEvents(rv)
		if w.ctx.Err() != nil {
			return
		}
		if next != rv {
			backoff = time.Second // it delivered: the connection was good
		}
		rv = next
		if err == nil {
			continue // the server ended the watch (its timeout): resume at once
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			if fresh, ferr := w.currentEventsVersion(); ferr == nil {
				rv = fresh
			}
		}
		select {
		case w.retrying <- Error{Resource: "events", Err: err}:
		default:
		}
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxEventsBackoff)
	}
}

// streamPodEvents delivers one watch's Events; it returns the last version
// seen and why the watch ended (nil: closed by the server).
func (w *Watches) streamPodEvents(rv string) (string, error) {
	wi, err := w.client.CoreV1().Events(w.namespace).Watch(w.ctx, metav1.ListOptions{
		FieldSelector: podEventsSelector, ResourceVersion: rv, AllowWatchBookmarks: true,
	})
	if err != nil {
		return rv, err
	}
	defer wi.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return rv, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv, nil
			}
			switch ev.Type {
			case apiwatch.Error:
				return rv, apierrors.FromObject(ev.Object)
			case apiwatch.Added, apiwatch.Modified:
				e, isEvent := ev.Object.(*corev1.Event)
				if !isEvent {
					continue
				}
				rv = e.ResourceVersion
				e.ManagedFields = nil
				select {
				case w.changes <- Change{Object: e, Resource: "events"}:
				case <-w.ctx.Done():
					return rv, nil
				}
			case apiwatch.Bookmark, apiwatch.Deleted: // a deleted Event is one that expired
				if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
					rv = m.GetResourceVersion()
				}
			}
		}
	}
}
