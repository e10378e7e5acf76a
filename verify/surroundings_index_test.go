package verify

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// surroundingsDocs are the objects around the Deployments of the index's tests:
// namespaces a and b, objects without a namespace, selectors of every shape.
const surroundingsDocs = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
        - {name: app, image: web:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - {name: app, image: api:1, ports: [{containerPort: 9000}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: b}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: app, image: web:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: a}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - {name: worker, image: worker:1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: app, image: web:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-front, namespace: a}
spec: {selector: {tier: front, app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: a}
spec: {selector: {tier: front}, ports: [{port: 81, targetPort: 8081}]}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: a}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: back, namespace: a}
spec: {selector: {app: web, tier: back}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: b}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: everywhere}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata:
  name: api-lb
  namespace: a
  annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip}
spec: {type: LoadBalancer, selector: {app: api}, ports: [{port: 80, targetPort: 9000}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: a}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api-expr, namespace: a}
spec: {maxUnavailable: 1, selector: {matchExpressions: [{key: app, operator: In, values: [api]}]}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: all, namespace: a}
spec: {maxUnavailable: 1, selector: {}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: no-selector, namespace: a}
spec: {maxUnavailable: 1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: b}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api-everywhere}
spec: {minAvailable: 1, selector: {matchLabels: {app: api}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: a}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 4, maxReplicas: 9}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: sts, namespace: a}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web}, minReplicas: 2, maxReplicas: 9}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web-v1, namespace: b}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 1, maxReplicas: 3}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api-everywhere}
spec: {scaleTargetRef: {kind: Deployment, name: api}, minReplicas: 2, maxReplicas: 3}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: alb, namespace: a}
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: rules, namespace: a, annotations: {alb.ingress.kubernetes.io/scheme: internal}}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: nothing, port: {number: 80}}}}
          - {path: /api, pathType: Prefix, backend: {service: {name: api-lb, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: alb, namespace: b}
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: nowhere, namespace: a}
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: nothing, port: {number: 80}}}
`

// readBoth reads YAML documents into Manifests (every object in memory) and a
// ManifestIndex.
func readBoth(t *testing.T, docs, source string) (*Manifests, *ManifestIndex) {
	t.Helper()
	var m Manifests
	var x ManifestIndex
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(docs), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return &m, &x
		}
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := m.Add(u, source); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		obj, err := DecodeManifest(u, source)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Deployment() == nil {
			if err := x.Add(obj); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSurroundingsEnvironment(t *testing.T) {
	m, x := readBoth(t, surroundingsDocs, "surroundings.yaml")
	deployment := func(ns, name string) *appsv1.Deployment {
		for _, d := range m.Deployments {
			if d.Namespace == ns && d.Name == name {
				return d
			}
		}
		t.Fatalf("no Deployment %s/%s", ns, name)
		return nil
	}
	tests := []struct {
		name, ns, deployment string
		local                bool
		// The names of the objects handed over, in manifest order: those that
		// can concern the Deployment; the checks decide which do.
		services, pdbs, hpas, ingresses string
	}{
		{name: "labels pick the Services and PDBs; the HPA by target; the Ingress by Service", ns: "a", deployment: "web", local: true,
			services: "web web-front front back everywhere", pdbs: "web api-expr all", hpas: "web", ingresses: "alb"},
		{name: "another Deployment of the namespace", ns: "a", deployment: "api", local: true,
			services: "api-lb", pdbs: "api-expr all api-everywhere", hpas: "api-everywhere", ingresses: "rules"},
		{name: "no Service, no Ingress", ns: "a", deployment: "worker", local: true,
			pdbs: "api-expr all"},
		{name: "another namespace", ns: "b", deployment: "web", local: true,
			services: "web everywhere", pdbs: "web", hpas: "web-v1", ingresses: "alb"},
		{name: "against a cluster every Ingress of the namespace: the cluster's Services may be routed to", ns: "a", deployment: "worker",
			pdbs: "api-expr all", ingresses: "alb rules nowhere"},
		{name: "without a namespace, everything", ns: "", deployment: "web", local: true,
			services: "web web-front front headless back web everywhere api-lb",
			pdbs:     "web api-expr all no-selector web api-everywhere", hpas: "web sts web-v1 api-everywhere", ingresses: "alb rules alb nowhere"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := x.Environment(deployment(tc.ns, tc.deployment), tc.local)
			if err != nil {
				t.Fatal(err)
			}
			if env.Local != tc.local {
				t.Errorf("Local = %v, want %v", env.Local, tc.local)
			}
			for _, c := range []struct{ what, got, want string }{
				{"Services", joinNames(env.Services, func(o corev1.Service) string { return o.Name }), tc.services},
				{"PDBs", joinNames(env.PDBs, func(o policyv1.PodDisruptionBudget) string { return o.Name }), tc.pdbs},
				{"HPAs", joinNames(env.HPAs, func(o autoscalingv2.HorizontalPodAutoscaler) string { return o.Name }), tc.hpas},
				{"Ingresses", joinNames(env.Ingresses, func(o networkingv1.Ingress) string { return o.Name }), tc.ingresses},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// The checks conclude from the index's Environment what they conclude from
// every object of the manifests.
func TestSurroundingsEnvironmentChecksAsAllObjects(t *testing.T) {
	sets := map[string]string{"surroundings.yaml": surroundingsDocs}
	dir := filepath.Join("testdata", "real-world")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sets[e.Name()] = string(b)
		all = append(all, string(b))
	}
	// Every real-world file together: Services and Ingresses of one file near
	// another's Deployments.
	sets["all real-world files"] = strings.Join(all, "\n---\n")
	for name, docs := range sets {
		t.Run(name, func(t *testing.T) {
			m, x := readBoth(t, docs, name)
			if len(m.Deployments) == 0 {
				t.Skip("no apps/v1 Deployment")
			}
			for _, d := range m.Deployments {
				for _, local := range []bool{true, false} {
					budget, err := DefaultGraceBudget().WithAnnotations(d.Annotations)
					if err != nil {
						t.Fatal(err)
					}
					full := Environment{Local: local, Services: m.Services, PDBs: m.PDBs, HPAs: m.HPAs, Ingresses: m.Ingresses}
					indexed, err := x.Environment(d, local)
					if err != nil {
						t.Fatal(err)
					}
					want, got := CheckDeployment(d, budget, full), CheckDeployment(d, budget, indexed)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s/%s (local %v): checks from the index\n%+v\nwant, from every object,\n%+v", d.Namespace, d.Name, local, got, want)
					}
				}
			}
		})
	}
}

// The JSON of a Deployment read back is the Deployment decoded first.
func TestDecodeDeploymentJSON(t *testing.T) {
	docs := []string{typoDeployment, surroundingsDocs}
	for _, e := range []string{"podinfo.yaml", "istio-injected.yaml", "spring-boot.yaml", "typo-field.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "real-world", e))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	n := 0
	for _, doc := range docs {
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096)
		for {
			u := &unstructured.Unstructured{}
			err := dec.Decode(&u.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			obj, err := DecodeManifest(u, "f.yaml")
			if err != nil {
				t.Fatal(err)
			}
			dm := obj.Deployment()
			if dm == nil {
				continue
			}
			n++
			again, err := DecodeDeploymentJSON(dm.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, dm.Deployment) {
				t.Errorf("%s: decoded again\n%+v\nwant\n%+v", dm.Deployment.Name, again, dm.Deployment)
			}
		}
	}
	if n < 8 {
		t.Errorf("%d Deployments decoded, want the documents' 8 or more", n)
	}
	if _, err := DecodeDeploymentJSON([]byte(`{"spec": {"replicas": "three"}}`)); err == nil {
		t.Error("a field of the wrong type decoded")
	}
}

func TestManifestIndexAdd(t *testing.T) {
	var x ManifestIndex
	for _, doc := range []string{
		"apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: old, namespace: ns}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ns}",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {selector: {app: web}}",
	} {
		obj, err := DecodeManifest(object(t, doc), "f.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if obj.Deployment() != nil {
			t.Fatalf("%q read as an apps/v1 Deployment", doc)
		}
		if err := x.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	if len(x.Skipped) != 1 || x.Skipped[0].Name != "old" || x.Skipped[0].Source != "f.yaml" {
		t.Errorf("skipped = %+v, want old", x.Skipped)
	}
	env, err := x.Environment(deployment(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Services) != 1 || env.Services[0].Name != "web" {
		t.Errorf("Services = %+v, want web", env.Services)
	}
	if _, err := DecodeManifest(object(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: oops}"), "f.yaml"); err == nil ||
		!strings.Contains(err.Error(), `Service "web"`) {
		t.Errorf("error = %v, want one naming Service %q", err, "web")
	}
}

// failingStore fails to keep anything.
type failingStore struct{}

func (failingStore) Write([]byte) (int, error)         { return 0, errors.New("disk full") }
func (failingStore) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// The JSON goes to the store given; a store that fails fails the Add.
func TestSurroundingsStore(t *testing.T) {
	svc, err := DecodeManifest(object(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {selector: {app: web}}"), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store := &memoryStore{}
	x := ManifestIndex{Surroundings: NewSurroundings(store)}
	if err := x.Add(svc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(store.b, []byte(`"name":"web"`)) {
		t.Errorf("store holds %q, want the Service's JSON", store.b)
	}
	env, err := x.Environment(deployment(), true)
	if err != nil || len(env.Services) != 1 {
		t.Errorf("Environment = %+v, %v; want the Service", env.Services, err)
	}

	failing := ManifestIndex{Surroundings: NewSurroundings(failingStore{})}
	if err := failing.Add(svc); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Add = %v, want the store's error", err)
	}
}

func TestMemoryStoreReadAt(t *testing.T) {
	m := &memoryStore{}
	for _, s := range []string{"abc", "defg"} {
		if _, err := m.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		off     int64
		n       int
		want    string
		wantErr bool
	}{
		{0, 3, "abc", false},
		{3, 4, "defg", false},
		{5, 2, "fg", false},
		{5, 3, "fg", true},
		{8, 1, "", true},
		{-1, 1, "", true},
	}
	for _, tc := range tests {
		b := make([]byte, tc.n)
		n, err := m.ReadAt(b, tc.off)
		if string(b[:n]) != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ReadAt(%d bytes at %d) = %q, %v; want %q (error %v)", tc.n, tc.off, b[:n], err, tc.want, tc.wantErr)
		}
	}
}

func TestInOrder(t *testing.T) {
	tests := []struct {
		lists [][]int32
		want  []int32
	}{
		{nil, nil},
		{[][]int32{nil, {}}, nil},
		{[][]int32{{3}, {1, 4}, {3, 9}}, []int32{1, 3, 4, 9}},
	}
	for _, tc := range tests {
		if got := inOrder(tc.lists...); !slices.Equal(got, tc.want) {
			t.Errorf("inOrder(%v) = %v, want %v", tc.lists, got, tc.want)
		}
	}
}

func TestFirstKey(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string
		ok     bool
	}{
		{nil, "", false},
		{map[string]string{"app": "web"}, "app", true},
		{map[string]string{"tier": "front", "app": "web", "team": "x"}, "app", true},
	}
	for _, tc := range tests {
		if got, ok := firstKey(tc.labels); got != tc.want || ok != tc.ok {
			t.Errorf("firstKey(%v) = %q, %v; want %q, %v", tc.labels, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPositionIndex(t *testing.T) {
	var zero positionIndex[scopedLabel]
	if got := zero.get(scopedLabel{"a", "app", "web"}); got != nil {
		t.Errorf("empty index: %v", got)
	}
	var x positionIndex[scopedLabel]
	for at, key := range []scopedLabel{{"a", "app", "web"}, {"a", "app", "api"}, {"a", "app", "web"}, {"", "app", "web"}, {"b", "app", "web"}} {
		x.add(key, at)
	}
	tests := []struct {
		key  scopedLabel
		want []int32
	}{
		{scopedLabel{"a", "app", "web"}, []int32{0, 2}},
		{scopedLabel{"a", "app", "api"}, []int32{1}},
		{scopedLabel{"", "app", "web"}, []int32{3}},
		{scopedLabel{"b", "app", "web"}, []int32{4}},
		{scopedLabel{"b", "app", "api"}, nil},
		{scopedLabel{"a", "ap", "pweb"}, nil},
	}
	for _, tc := range tests {
		if got := x.get(tc.key); !slices.Equal(got, tc.want) {
			t.Errorf("get(%+v) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// An HPA is handed to the workload of the kind and name it scales.
func TestSurroundingsHPAByKind(t *testing.T) {
	var x ManifestIndex
	for _, doc := range []string{
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: db, namespace: ns}\n" +
			"spec: {scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web}, minReplicas: 2, maxReplicas: 5}",
	} {
		obj, err := DecodeManifest(object(t, doc), "f.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	if env, err := x.Environment(deployment(), true); err != nil || len(env.HPAs) != 0 {
		t.Errorf("Deployment web got HPAs %+v, %v; want none", env.HPAs, err)
	}
	s := statefulSet(func(s *appsv1.StatefulSet) { s.Name = "web" })
	if env, err := x.WorkloadEnvironment(StatefulSetWorkload(s), true); err != nil || len(env.HPAs) != 1 {
		t.Errorf("StatefulSet web got HPAs %+v, %v; want db", env.HPAs, err)
	}
}

// joinNames is the objects' names, space-separated.
func joinNames[T any](objs []T, name func(T) string) string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, name(o))
	}
	return strings.Join(out, " ")
}
