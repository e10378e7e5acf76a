package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// FuzzManifestsAdd: no manifest makes the decoder panic, and a rejection is one
// line that names the object (cli prints it as "error: ...").
func FuzzManifestsAdd(f *testing.F) {
	// The real-world manifests, one document each, and the shapes that broke before.
	files, err := filepath.Glob(filepath.Join("testdata", "real-world", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed manifests in testdata/real-world: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			f.Add([]byte(doc))
		}
	}
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec: {terminationGracePeriodSecond: 90, containers: [{name: app, readinesProbe: {}}]}",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: two}",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: app, ports: [{containerPort: 1e12}]}]}}}",
		"apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec: {minReplicas: -1, maxReplicas: 0}",
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: pdb}\nspec: {minAvailable: 50%}",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: http}]}",
		`{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": null}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil || u.Object == nil {
			return // not an object: the YAML reader in cli rejects it before us
		}
		var m Manifests
		err := m.Add(u, "fuzz.yaml")
		if err == nil {
			return
		}
		if msg := err.Error(); strings.TrimSpace(msg) == "" || strings.ContainsAny(msg, "\r\n") {
			t.Errorf("error is not one line: %q", msg)
		}
		if len(m.Deployments)+len(m.Services)+len(m.PDBs)+len(m.HPAs)+len(m.Skipped) != 0 {
			t.Errorf("rejected object kept: %+v", m)
		}
	})
}
