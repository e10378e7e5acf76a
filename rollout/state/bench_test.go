package state_test

// Benchmarks of the guard's pure reducer (issue 12): folding watch events into
// pod timelines, classifying exits, and the per-change work of the guard's loop
// over a large rollout. The inputs are built with rollouttest the way the
// engine's watches deliver them: pods through Running/Ready, deletionTimestamp,
// Ready=false, terminated, DELETED; EndpointSlices with their full endpoint list
// at every update (ready/serving/terminating); Killing Events. scripts/bench-go.sh
// runs them.

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/policy"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/progress"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/rollouttest"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/state"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// change is one watch delivery: an object (or its deletion) received at a time.
type change struct {
	obj     any
	deleted bool
	at      time.Time
}

// Condition values shared by every endpoint (the API gives each its own pointer;
// the reducer only reads them).
var (
	yes = ptr.To(true)
	no  = ptr.To(false)
)

// endpoint is one pod's entry in a benchmark EndpointSlice.
type endpoint struct {
	pod                         string
	ref                         *corev1.ObjectReference
	addr                        []string
	ready, serving, terminating bool
}

func newEndpoint(pod string, n int) *endpoint {
	return &endpoint{
		pod:  pod,
		ref:  &corev1.ObjectReference{Kind: "Pod", Namespace: rollouttest.NS, Name: pod, UID: types.UID("uid-" + pod)},
		addr: []string{fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)},
		// A new endpoint starts ready and serving (the slice lists it once the pod is Ready).
		ready: true, serving: true,
	}
}

func cond(b bool) *bool {
	if b {
		return yes
	}
	return no
}

// sliceState is an EndpointSlice as the controller keeps it; snapshot is the
// object a watch delivers: the whole endpoint list, at every update.
type sliceState struct {
	name      string
	endpoints []*endpoint
}

func (s *sliceState) snapshot() *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: rollouttest.NS,
			Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   make([]discoveryv1.Endpoint, 0, len(s.endpoints)),
	}
	for _, e := range s.endpoints {
		out.Endpoints = append(out.Endpoints, discoveryv1.Endpoint{
			Addresses:  e.addr,
			Conditions: discoveryv1.EndpointConditions{Ready: cond(e.ready), Serving: cond(e.serving), Terminating: cond(e.terminating)},
			TargetRef:  e.ref,
		})
	}
	return out
}

func (s *sliceState) find(pod string) *endpoint {
	for _, e := range s.endpoints {
		if e.pod == pod {
			return e
		}
	}
	return nil
}

func (s *sliceState) remove(pod string) {
	for i, e := range s.endpoints {
		if e.pod == pod {
			s.endpoints = append(s.endpoints[:i], s.endpoints[i+1:]...)
			return
		}
	}
}

// Pod states of one old pod's drain, each a new object as the API server sends it.

func deletingPod(p *corev1.Pod, at time.Time) *corev1.Pod {
	p = p.DeepCopy()
	p.DeletionTimestamp = ptr.To(metav1.NewTime(at.Add(30 * time.Second)))
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	return p
}

func unreadyPod(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].Ready = false
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: corev1.ContainersReady, Status: corev1.ConditionFalse}}
	return p
}

func terminatedPod(p *corev1.Pod, code int32, reason string, at time.Time) *corev1.Pod {
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: metav1.NewTime(rollouttest.T0.Add(-time.Hour)), FinishedAt: metav1.NewTime(at)}}
	p.Status.Phase = corev1.PodSucceeded
	return p
}

func pendingPod(name, hash string) *corev1.Pod {
	p := rollouttest.WebPod(name, hash)
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses[0].Ready = false
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	return p
}

func readyPod(name, hash string) *corev1.Pod {
	p := rollouttest.WebPod(name, hash)
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
	return p
}

func killingEvent(pod string, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod + ".182a1b2c3d4e5f60", Namespace: rollouttest.NS, UID: types.UID("ev-" + pod)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: rollouttest.NS, Name: pod, UID: types.UID("uid-" + pod), FieldPath: "spec.containers{app}"},
		Reason:         "Killing", Message: "Stopping container app", Type: corev1.EventTypeNormal, Count: 1,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
	}
}

// podLifecycle is one old pod's drain as the guard receives it: listed Running
// and Ready with its endpoint, deleted, its endpoint terminating, the Killing
// Event, Ready=false, serving=false, its container's clean exit, its endpoint
// removed, and the DELETED event.
func podLifecycle() []change {
	const name = "web-aaa-1"
	at := rollouttest.At
	running := readyPod(name, "aaa")
	slice := &sliceState{name: "web-x1y2z", endpoints: []*endpoint{newEndpoint(name, 1)}}
	var out []change
	add := func(t float64, obj any, deleted bool) { out = append(out, change{obj, deleted, at(t)}) }

	add(0, running, false)
	add(0, slice.snapshot(), false)
	deleting := deletingPod(running, at(1))
	add(1, deleting, false)
	slice.endpoints[0].ready, slice.endpoints[0].terminating = false, true
	add(1.05, slice.snapshot(), false)
	add(1.1, killingEvent(name, at(1)), false)
	unready := unreadyPod(deleting)
	add(2, unready, false)
	slice.endpoints[0].serving = false
	add(2.05, slice.snapshot(), false)
	exited := terminatedPod(unready, 0, "Completed", at(12))
	add(12, exited, false)
	slice.endpoints = nil
	add(12.1, slice.snapshot(), false)
	add(12.2, exited, true)
	return out
}

func fold(r *state.Rollout, changes []change) (events int) {
	for _, c := range changes {
		events += len(r.Apply(c.obj, c.deleted, c.at))
	}
	return events
}

// BenchmarkApplyPodLifecycle folds one old pod's full drain (10 watch changes)
// into a fresh Rollout: New's empty maps included.
func BenchmarkApplyPodLifecycle(b *testing.B) {
	changes := podLifecycle()
	d := rollouttest.WebDeployment(2, 2, "2", rollouttest.CompleteStatus())
	if n := fold(state.New(workload.Deployment{Deployment: d}, rollouttest.T0), changes); n != 7 {
		b.Fatalf("%d progress events, want 7 (deleted, not ready, Killing, not serving, exited, removed, gone)", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		fold(state.New(workload.Deployment{Deployment: d}, rollouttest.T0), changes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
}

// rolloutScenario is a Deployment of replicas pods rolling from web-aaa (revision
// 1) to web-bbb (revision 2) in waves of surge pods, as the guard's watches
// deliver it: the initial lists, then for each wave the new pods created and
// Ready, the slices listing them, the Deployment's and ReplicaSets' status, the
// old pods deleted, terminating in the slices, Killing Events, Ready=false,
// serving=false, exited (every 50th with 143 after draining), removed from the
// slices and DELETED. perSlice endpoints per EndpointSlice (the controller's
// --max-endpoints-per-slice, 100 by default); a slice update is delivered once
// per wave step with the whole endpoint list.
type rolloutScenario struct {
	replicas, surge, perSlice int
}

func (s rolloutScenario) String() string {
	return fmt.Sprintf("pods=%d/perSlice=%d", s.replicas, s.perSlice)
}

func (s rolloutScenario) deployment(status appsv1.DeploymentStatus) *appsv1.Deployment {
	d := rollouttest.WebDeployment(2, 2, "2", status)
	d.Spec.Replicas = ptr.To(int32(s.replicas))
	return d
}

func (s rolloutScenario) replicaSet(hash, revision string, replicas, ready int) *appsv1.ReplicaSet {
	rs := rollouttest.WebReplicaSet(hash, revision)
	rs.Spec.Replicas = ptr.To(int32(replicas))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: int32(replicas), ReadyReplicas: int32(ready), AvailableReplicas: int32(ready)}
	return rs
}

func (s rolloutScenario) changes() []change {
	var out []change
	now := rollouttest.T0
	tick := func() time.Time { now = now.Add(20 * time.Millisecond); return now }
	add := func(obj any, deleted bool) { out = append(out, change{obj, deleted, tick()}) }

	oldName := func(i int) string { return fmt.Sprintf("web-aaa-%05d", i) }
	newName := func(i int) string { return fmt.Sprintf("web-bbb-%05d", i) }
	slices := make([]*sliceState, (s.replicas+s.perSlice-1)/s.perSlice)
	for k := range slices {
		slices[k] = &sliceState{name: fmt.Sprintf("web-%05d", k)}
	}
	sliceOf := func(i int) *sliceState { return slices[i/s.perSlice] }

	// The initial lists.
	add(s.deployment(appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: int32(s.replicas), UpdatedReplicas: 0}), false)
	add(s.replicaSet("aaa", "1", s.replicas, s.replicas), false)
	add(s.replicaSet("bbb", "2", 0, 0), false)
	old := make([]*corev1.Pod, s.replicas)
	for i := range s.replicas {
		old[i] = readyPod(oldName(i), "aaa")
		add(old[i], false)
		sliceOf(i).endpoints = append(sliceOf(i).endpoints, newEndpoint(oldName(i), i))
	}
	for _, sl := range slices {
		add(sl.snapshot(), false)
	}

	for from := 0; from < s.replicas; from += s.surge {
		wave := make([]int, 0, s.surge)
		for i := from; i < min(from+s.surge, s.replicas); i++ {
			wave = append(wave, i)
		}
		touched := map[*sliceState]bool{}
		for _, i := range wave {
			touched[sliceOf(i)] = true
		}
		sendSlices := func() {
			for _, sl := range slices {
				if touched[sl] {
					add(sl.snapshot(), false)
				}
			}
		}
		updated := from + len(wave)
		// New pods: created, then Running and Ready, then in the slices.
		for _, i := range wave {
			add(pendingPod(newName(i), "bbb"), false)
		}
		for _, i := range wave {
			add(readyPod(newName(i), "bbb"), false)
			sliceOf(i).endpoints = append(sliceOf(i).endpoints, newEndpoint(newName(i), s.replicas+i))
		}
		sendSlices()
		add(s.replicaSet("bbb", "2", updated, updated), false)
		add(s.deployment(appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: int32(s.replicas + len(wave)),
			UpdatedReplicas: int32(updated), ReadyReplicas: int32(s.replicas + len(wave)), AvailableReplicas: int32(s.replicas)}), false)
		// Old pods: deleted, terminating in the slices, Killing, not ready, not serving.
		deletedAt := now
		for _, i := range wave {
			old[i] = deletingPod(old[i], now)
			add(old[i], false)
		}
		add(s.replicaSet("aaa", "1", s.replicas-updated, s.replicas-from), false)
		for _, i := range wave {
			e := sliceOf(i).find(oldName(i))
			e.ready, e.terminating = false, true
		}
		sendSlices()
		for _, i := range wave {
			add(killingEvent(oldName(i), deletedAt), false)
		}
		for _, i := range wave {
			old[i] = unreadyPod(old[i])
			add(old[i], false)
			sliceOf(i).find(oldName(i)).serving = false
		}
		sendSlices()
		// Exits, endpoints removed, pods gone.
		for _, i := range wave {
			code, reason := int32(0), "Completed"
			if i%50 == 0 {
				code, reason = 143, "Error"
			}
			old[i] = terminatedPod(old[i], code, reason, now)
			add(old[i], false)
			sliceOf(i).remove(oldName(i))
		}
		sendSlices()
		for _, i := range wave {
			add(old[i], true)
		}
	}
	add(s.replicaSet("aaa", "1", 0, 0), false)
	add(s.deployment(appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: int32(s.replicas), UpdatedReplicas: int32(s.replicas),
		ReadyReplicas: int32(s.replicas), AvailableReplicas: int32(s.replicas)}), false)
	return out
}

func (s rolloutScenario) start() *state.Rollout {
	return state.New(workload.Deployment{Deployment: s.deployment(appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: int32(s.replicas)})}, rollouttest.T0)
}

// checkScenario folds the scenario once and checks it ends as a finished
// rollout whose every old pod exited and went.
func checkScenario(b *testing.B, s rolloutScenario, changes []change) {
	b.Helper()
	r := s.start()
	fold(r, changes)
	if msg, done, err := r.Status(2); !done || err != nil {
		b.Fatalf("%s: Status = %q, %v, %v after the whole rollout", s, msg, done, err)
	}
	olds := r.OldTimelines()
	if len(olds) != s.replicas {
		b.Fatalf("%s: %d old timelines, want %d", s, len(olds), s.replicas)
	}
	for _, t := range olds {
		if exit, ok := t.Exit(); !ok || !exit.Exit.Clean() || t.Gone.IsZero() || t.NotServing.IsZero() {
			b.Fatalf("%s: old pod %s: exit %+v, gone %s, not serving %s; want a clean, drained exit", s, t.Name, exit, t.Gone, t.NotServing)
		}
	}
}

// BenchmarkApply500Pods folds a whole 500-replica rollout (waves of 25, about
// 4,150 watch changes) into a fresh Rollout; ns/change is the cost of one
// change. perSlice=100 is the EndpointSlice controller's default; perSlice=1000
// (its maximum) puts every endpoint in one slice, delivered whole at each update.
func BenchmarkApply500Pods(b *testing.B) {
	for _, s := range []rolloutScenario{{500, 25, 100}, {500, 25, 1000}} {
		b.Run(fmt.Sprintf("perSlice=%d", s.perSlice), func(b *testing.B) {
			changes := s.changes()
			checkScenario(b, s, changes)
			b.ReportAllocs()
			for b.Loop() {
				fold(s.start(), changes)
			}
			b.ReportMetric(float64(len(changes)), "changes/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
		})
	}
}

// BenchmarkGuardStep is what the guard's loop does for every watch change: fold
// it, ask Status (old pods still terminating?), then gather the observations
// the breach limits are checked against (old timelines, new pods' failures) and
// evaluate the limits. Status and the observations walk every timeline, so the
// cost of one change grows with the rollout's size: ns/change at 100, 500 and
// 1000 replicas shows how.
func BenchmarkGuardStep(b *testing.B) {
	limits := policy.BreachLimits{MaxSIGKILLs: 0, MaxUncleanExits: -1, MaxNewPodRestarts: 0, MaxGraceUsage: 0.9, MaxProbeErrors: 0, MaxProbeErrorRate: -1}
	for _, s := range []rolloutScenario{{100, 25, 100}, {500, 25, 100}, {1000, 25, 100}} {
		b.Run(fmt.Sprintf("pods=%d", s.replicas), func(b *testing.B) {
			changes := s.changes()
			checkScenario(b, s, changes)
			already := map[string]bool{}
			b.ReportAllocs()
			for b.Loop() {
				r := s.start()
				for _, c := range changes {
					r.Apply(c.obj, c.deleted, c.at)
					if _, done, _ := r.Status(2); done {
						continue
					}
					obs := policy.ObserveDrains(r.OldTimelines())
					for _, f := range r.NewPodFailures() {
						obs.NewPodRestarts += f.Count()
					}
					if breaches := limits.Evaluate(obs, already, c.at); len(breaches) > 0 {
						b.Fatalf("breaches %+v in a clean rollout", breaches)
					}
				}
			}
			b.ReportMetric(float64(len(changes)), "changes/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
		})
	}
}

// BenchmarkStatus asks the Status of a finished 500-replica rollout (1,000
// timelines): what the guard's loop asks after every change.
func BenchmarkStatus(b *testing.B) {
	s := rolloutScenario{500, 25, 100}
	r := s.start()
	fold(r, s.changes())
	b.ReportAllocs()
	for b.Loop() {
		if _, done, err := r.Status(2); !done || err != nil {
			b.Fatal("not done")
		}
	}
}

// BenchmarkClassifyExit classifies one terminated container, per kind of exit.
func BenchmarkClassifyExit(b *testing.B) {
	deletion := rollouttest.T0
	grace := 30 * time.Second
	term := func(code int32, reason string, after time.Duration) *corev1.ContainerStateTerminated {
		return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(deletion.Add(after))}
	}
	cases := []struct {
		name    string
		term    *corev1.ContainerStateTerminated
		drained bool
		want    progress.ExitClass
	}{
		{"clean", term(0, "Completed", 12*time.Second), true, progress.ExitClean},
		{"sigkill-at-deadline", term(137, "Error", grace), true, progress.ExitSIGKILL},
		{"signal-after-drain", term(143, "Error", 5*time.Second), true, progress.ExitCleanSignal},
		{"died-without-drain", term(2, "Error", time.Second), false, progress.ExitUnclean},
		{"oom-killed", term(137, "OOMKilled", 3*time.Second), false, progress.ExitOOMKilled},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if got := state.ClassifyExit(tc.term, deletion, grace, tc.drained); got != tc.want {
				b.Fatalf("ClassifyExit = %s, want %s", got, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				state.ClassifyExit(tc.term, deletion, grace, tc.drained)
			}
		})
	}
}
