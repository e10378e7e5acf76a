package cli

import (
	"testing"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// Documents start after their separator; a workload's line is its first key,
// a finding's line the field it is about, or the document's first line when
// the field is missing.
func TestManifestLines(t *testing.T) {
	yamlText := `# leading comment
apiVersion: v1
kind: Service
metadata: {name: web}
---
# the web Deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  strategy:
    type: Recreate
  template:
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: app
        image: x
        readinessProbe:
          httpGet: {path: /ready, port: 80}
      - name: sidecar
        image: y
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
`
	docs := splitDocuments([]byte(yamlText))
	if len(docs) != 3 || docs[0].line != 1 || docs[1].line != 6 || docs[2].line != 26 {
		t.Fatalf("documents start at %v", docs)
	}
	m := &manifestLines{documents: map[manifestObjectKey]manifestDocument{}}
	m.addFile("k8s/app.yaml", []byte(yamlText))
	if got := m.source("Deployment", "shop", "web"); got == nil || *got != (verify.ObjectSource{File: "k8s/app.yaml", Line: 7}) {
		t.Errorf("web source = %+v", got)
	}
	// No namespace in the document: found in the namespace it was checked in.
	if got := m.source("StatefulSet", "default", "db"); got == nil || got.Line != 26 {
		t.Errorf("db source = %+v", got)
	}
	if got := m.source("Service", "default", "web"); got != nil {
		t.Errorf("a Service is not indexed: %+v", got)
	}
	d, _ := m.find("Deployment", "shop", "web")
	for _, tc := range []struct {
		check verify.Check
		want  int
	}{
		{verify.Check{ID: verify.CheckReadinessProbe, Container: "app"}, 21},
		{verify.Check{ID: verify.CheckReadinessProbe, Container: "sidecar"}, 23},
		{verify.Check{ID: verify.CheckPreStopHook, Container: "app"}, 19},
		{verify.Check{ID: verify.CheckGraceBudget}, 17},
		{verify.Check{ID: verify.CheckRolloutStrategy}, 13},
		{verify.Check{ID: verify.CheckPaused}, 7},
		{verify.Check{ID: verify.CheckPDB}, 7},
	} {
		if got := d.checkLine(tc.check); got != tc.want {
			t.Errorf("%s (%s): line %d, want %d", tc.check.ID, tc.check.Container, got, tc.want)
		}
	}
}
