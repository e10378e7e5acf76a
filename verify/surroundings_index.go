package verify

// The objects of manifests that surround workloads, indexed. A check looks
// through every Service, PodDisruptionBudget, HorizontalPodAutoscaler and Ingress
// it is given: given all of a large manifest set's, preflight's time grew with
// the square of its size. The index hands each Deployment only the objects that
// can concern it; the checks still decide which do.

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Surroundings holds the Services, PodDisruptionBudgets, HorizontalPodAutoscalers
// and Ingresses of manifests, indexed, as the JSON they were decoded from (a
// third of the memory of the decoded objects) in a JSONStore (which may keep it
// out of memory); Environment decodes the few that can concern a Deployment. The
// zero value is empty, keeps the JSON in memory and is ready; ManifestIndex.Add
// fills it.
type Surroundings struct {
	store JSONStore
	size  int64 // written to store

	services  []storedJSON
	pdbs      []storedJSON
	hpas      []storedJSON // v1: autoscaling/v1's
	ingresses []storedJSON

	// The indexes hold positions in the slices above, in ascending order.
	// servicesByLabel: a Service by one label of its selector, which a pod
	// template must carry to be selected (a Service without a selector selects
	// no pods).
	servicesByLabel positionIndex[scopedLabel]
	// pdbsByLabel: a PDB by one of its matchLabels; pdbsByNamespace: the PDBs
	// without matchLabels, whose selector is evaluated for every template (a PDB
	// without a selector selects no pods).
	pdbsByLabel     positionIndex[scopedLabel]
	pdbsByNamespace positionIndex[string]
	// hpasByTarget: an HPA by the workload it scales.
	hpasByTarget positionIndex[scopedTarget]
	// ingressesByBackend: an Ingress by the Services it routes to;
	// ingressesByNamespace: every Ingress.
	ingressesByBackend   positionIndex[scopedName]
	ingressesByNamespace positionIndex[string]
}

// JSONStore keeps the JSON of the objects Surroundings indexes: written once,
// then read back by position, concurrently, once the writing is done. It is an
// io.Writer and io.ReaderAt (verify does no I/O of its own: cli gives it a spool).
type JSONStore interface {
	Write(p []byte) (n int, err error)
	ReadAt(p []byte, off int64) (n int, err error)
}

// NewSurroundings returns Surroundings that keep the JSON in store.
func NewSurroundings(store JSONStore) Surroundings {
	return Surroundings{store: store}
}

// storedJSON is where an object's JSON is in the store; v1 tells that an HPA's
// is autoscaling/v1's.
type storedJSON struct {
	offset int64
	size   int32
	v1     bool
}

// scopedLabel is a label in a namespace.
type scopedLabel struct{ namespace, key, value string }

// scopedName is an object's name in a namespace.
type scopedName struct{ namespace, name string }

// scopedTarget is a workload's kind and name in a namespace.
type scopedTarget struct{ namespace, kind, name string }

// add indexes a decoded Service, PDB, HPA or Ingress and stores its JSON.
func (s *Surroundings) add(obj Manifest) error {
	if s.store == nil {
		s.store = &memoryStore{}
	}
	n, err := s.store.Write(obj.json)
	if err != nil {
		return fmt.Errorf("storing the manifests: %w", err)
	}
	stored := storedJSON{offset: s.size, size: int32(n), v1: obj.hpaV1}
	s.size += int64(n)
	switch {
	case obj.service != nil:
		s.services = append(s.services, stored)
		sel := obj.service.Spec.Selector
		if key, ok := firstKey(sel); ok {
			s.servicesByLabel.add(scopedLabel{obj.service.Namespace, key, sel[key]}, len(s.services)-1)
		}
	case obj.pdb != nil:
		s.pdbs = append(s.pdbs, stored)
		at := len(s.pdbs) - 1
		switch sel := obj.pdb.Spec.Selector; {
		case sel == nil:
		case len(sel.MatchLabels) > 0:
			key, _ := firstKey(sel.MatchLabels)
			s.pdbsByLabel.add(scopedLabel{obj.pdb.Namespace, key, sel.MatchLabels[key]}, at)
		default:
			s.pdbsByNamespace.add(obj.pdb.Namespace, at)
		}
	case obj.hpa != nil:
		s.hpas = append(s.hpas, stored)
		if ref := obj.hpa.Spec.ScaleTargetRef; ref.Kind == workload.KindDeployment || ref.Kind == KindStatefulSet {
			s.hpasByTarget.add(scopedTarget{obj.hpa.Namespace, ref.Kind, ref.Name}, len(s.hpas)-1)
		}
	case obj.ingress != nil:
		s.ingresses = append(s.ingresses, stored)
		at := len(s.ingresses) - 1
		s.ingressesByNamespace.add(obj.ingress.Namespace, at)
		for _, b := range ingressBackends(obj.ingress) {
			if b.Service != nil {
				s.ingressesByBackend.add(scopedName{obj.ingress.Namespace, b.Service.Name}, at)
			}
		}
	}
	return nil
}

// Environment returns the objects that can concern d, in manifest order, as
// WorkloadEnvironment does.
func (s *Surroundings) Environment(d *appsv1.Deployment, local bool) (Environment, error) {
	return s.WorkloadEnvironment(DeploymentWorkload(d), local)
}

// WorkloadEnvironment returns the objects that can concern w, in manifest
// order: what its checks conclude from them is what they would conclude from
// all. local is true when no cluster is read: then an Ingress concerns w only
// if it routes to one of the Services here. Against a cluster, Services only
// the cluster has can be routed to, so every Ingress of w's namespace is kept.
func (s *Surroundings) WorkloadEnvironment(w *Workload, local bool) (Environment, error) {
	env := Environment{Local: local}
	ns := w.Namespace
	var services, pdbs, hpas, ingresses []int32
	if ns == "" {
		// A workload without a namespace sees every namespace's objects.
		services, pdbs, hpas, ingresses = all(len(s.services)), all(len(s.pdbs)), all(len(s.hpas)), all(len(s.ingresses))
	} else {
		var byService, byPDB [][]int32
		for key, value := range w.Template.Labels {
			for _, scope := range []string{ns, ""} {
				byService = append(byService, s.servicesByLabel.get(scopedLabel{scope, key, value}))
				byPDB = append(byPDB, s.pdbsByLabel.get(scopedLabel{scope, key, value}))
			}
		}
		services = inOrder(byService...)
		pdbs = inOrder(append(byPDB, s.pdbsByNamespace.get(ns), s.pdbsByNamespace.get(""))...)
		hpas = inOrder(s.hpasByTarget.get(scopedTarget{ns, w.Kind, w.Name}), s.hpasByTarget.get(scopedTarget{"", w.Kind, w.Name}))
		if !local {
			ingresses = inOrder(s.ingressesByNamespace.get(ns), s.ingressesByNamespace.get(""))
		}
	}
	var err error
	if env.Services, err = decodeAt[corev1.Service](s, s.services, services); err != nil {
		return Environment{}, err
	}
	if env.PDBs, err = decodeAt[policyv1.PodDisruptionBudget](s, s.pdbs, pdbs); err != nil {
		return Environment{}, err
	}
	for _, i := range hpas {
		h, err := s.hpa(s.hpas[i])
		if err != nil {
			return Environment{}, err
		}
		env.HPAs = append(env.HPAs, h)
	}
	if ns != "" && local {
		var byBackend [][]int32
		for _, svc := range matchingServices(w, env.Services) {
			byBackend = append(byBackend, s.ingressesByBackend.get(scopedName{ns, svc.Name}), s.ingressesByBackend.get(scopedName{"", svc.Name}))
		}
		ingresses = inOrder(byBackend...)
	}
	if env.Ingresses, err = decodeAt[networkingv1.Ingress](s, s.ingresses, ingresses); err != nil {
		return Environment{}, err
	}
	return env, nil
}

// read returns an object's JSON from the store.
func (s *Surroundings) read(at storedJSON) ([]byte, error) {
	b := make([]byte, at.size)
	if _, err := s.store.ReadAt(b, at.offset); err != nil {
		return nil, fmt.Errorf("reading the stored manifests: %w", err)
	}
	return b, nil
}

func (s *Surroundings) hpa(at storedJSON) (autoscalingv2.HorizontalPodAutoscaler, error) {
	raw, err := s.read(at)
	if err != nil {
		return autoscalingv2.HorizontalPodAutoscaler{}, err
	}
	if !at.v1 {
		var v2 autoscalingv2.HorizontalPodAutoscaler
		err := decodeJSON(raw, &v2)
		return v2, err
	}
	var v1 autoscalingv1.HorizontalPodAutoscaler
	if err := decodeJSON(raw, &v1); err != nil {
		return autoscalingv2.HorizontalPodAutoscaler{}, err
	}
	return *hpaFromV1(&v1), nil
}

// decodeAt decodes the objects at the given positions; nil for none.
func decodeAt[T any](s *Surroundings, stored []storedJSON, at []int32) ([]T, error) {
	if len(at) == 0 {
		return nil, nil
	}
	out := make([]T, len(at))
	for i, pos := range at {
		raw, err := s.read(stored[pos])
		if err != nil {
			return nil, err
		}
		if err := decodeJSON(raw, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errPastStore is a read beyond what was written: a bug, never an input's fault.
var errPastStore = errors.New("read past the end of the JSON store")

// memoryStore is the JSONStore of the zero Surroundings.
type memoryStore struct{ b []byte }

func (m *memoryStore) Write(p []byte) (int, error) {
	m.b = append(m.b, p...)
	return len(p), nil
}

func (m *memoryStore) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.b)) {
		return 0, errPastStore
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, errPastStore
	}
	return n, nil
}

// positionIndex maps keys to positions of objects through the keys' hashes:
// it keeps none of the objects' strings. Keys of one hash would share their
// positions, which only hands the checks an object they find does not concern
// the Deployment. The zero value is empty and ready.
type positionIndex[K comparable] struct {
	seed      maphash.Seed
	positions map[uint64][]int32
}

func (x *positionIndex[K]) add(key K, at int) {
	if x.positions == nil {
		x.seed, x.positions = maphash.MakeSeed(), map[uint64][]int32{}
	}
	h := maphash.Comparable(x.seed, key)
	x.positions[h] = append(x.positions[h], int32(at))
}

// get returns the positions of key, ascending.
func (x *positionIndex[K]) get(key K) []int32 {
	if x.positions == nil {
		return nil // and no seed to hash with
	}
	return x.positions[maphash.Comparable(x.seed, key)]
}

// inOrder merges lists of positions: each once, ascending, so that the objects
// keep their manifest order.
func inOrder(lists ...[]int32) []int32 {
	var at []int32
	for _, l := range lists {
		at = append(at, l...)
	}
	slices.Sort(at)
	return slices.Compact(at)
}

// all returns the positions 0 to n-1.
func all(n int) []int32 {
	at := make([]int32, n)
	for i := range at {
		at[i] = int32(i)
	}
	return at
}

// firstKey returns the smallest key of a label map: any of its labels would do
// as an index key; the smallest makes the choice the same on every run.
func firstKey(m map[string]string) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	first, ok := "", false
	for k := range m {
		if !ok || k < first {
			first, ok = k, true
		}
	}
	return first, true
}
