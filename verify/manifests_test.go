package verify

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// object parses one YAML manifest into the unstructured object cli hands over.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

const typoDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSecond: 90
      containers:
        - name: app
          image: web:1
          readinesProbe: {httpGet: {path: /ready, port: 8080}}
          Ports: [{containerPort: 8080}]
`

func TestManifestsAdd(t *testing.T) {
	var m Manifests
	for _, doc := range []string{
		typoDeployment,
		"apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: old, namespace: ns}\nspec: {}",
		"apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: older, namespace: ns}",
		"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: pdb, namespace: ns}",
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ns}",
		"apiVersion: apps/v1beta2\nkind: StatefulSet\nmetadata: {name: old-db, namespace: ns}",
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ns}\nspec: {template: {spec: {hostNetwrk: true}}}",
		"apiVersion: apps.kruise.io/v1beta1\nkind: StatefulSet\nmetadata: {name: kruise-db, namespace: ns}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ns}",
		"apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: ns}\n" +
			"spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 3, maxReplicas: 5}",
		"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api, namespace: ns}\n" +
			"spec: {scaleTargetRef: {kind: Deployment, name: api}, maxReplicas: 5}",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {selector: {app: web}}",
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: ns}\nspec: {ingressClassName: alb}",
		"apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: legacy, namespace: ns}",
	} {
		if err := m.Add(object(t, doc), "f.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.Deployments) != 1 || len(m.Services) != 1 || len(m.HPAs) != 2 || len(m.PDBs) != 0 || len(m.Ingresses) != 1 {
		t.Fatalf("got %d Deployments, %d Services, %d HPAs, %d PDBs, %d Ingresses; want 1, 1, 2, 0, 1",
			len(m.Deployments), len(m.Services), len(m.HPAs), len(m.PDBs), len(m.Ingresses))
	}
	var workloads []string
	for _, w := range m.Workloads {
		workloads = append(workloads, w.String())
	}
	if got := strings.Join(workloads, " "); got != "deployment/web statefulset/db daemonset/agent" {
		t.Errorf("workloads = %s", got)
	}
	if got := m.WorkloadUnknownFields(m.Workloads[2]); !slices.Equal(got, []string{"spec.template.spec.hostNetwrk"}) {
		t.Errorf("DaemonSet unknown fields = %v", got)
	}
	wantUnknown := "spec.template.spec.containers[0].Ports spec.template.spec.containers[0].readinesProbe spec.template.spec.terminationGracePeriodSecond"
	got := m.UnknownFields(m.Deployments[0])
	if strings.Join(slices.Sorted(slices.Values(got)), " ") != wantUnknown {
		t.Errorf("unknown fields = %v, want %s", got, wantUnknown)
	}
	if m.Deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds != nil {
		t.Error("the misspelt field was decoded")
	}
	if h := m.HPAs[0]; h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 3 || h.Spec.ScaleTargetRef.Name != "web" {
		t.Errorf("autoscaling/v1 HPA converted to %+v", h.Spec)
	}
	var skipped []string
	for _, s := range m.Skipped {
		skipped = append(skipped, s.Kind+" "+s.APIVersion+" "+s.Name+" "+s.Namespace+" "+s.Source)
		if s.Reason == "" {
			t.Errorf("%s %s skipped without a reason", s.Kind, s.Name)
		}
	}
	want := "Deployment apps/v1beta2 old ns f.yaml|Deployment extensions/v1beta1 older ns f.yaml|PodDisruptionBudget policy/v1beta1 pdb ns f.yaml|StatefulSet apps/v1beta2 old-db ns f.yaml|StatefulSet apps.kruise.io/v1beta1 kruise-db ns f.yaml|Ingress extensions/v1beta1 legacy ns f.yaml"
	if got := strings.Join(skipped, "|"); got != want {
		t.Errorf("skipped = %s\nwant %s", got, want)
	}
	if !strings.Contains(m.Skipped[0].Reason, "removed in Kubernetes 1.16") {
		t.Errorf("reason = %q", m.Skipped[0].Reason)
	}
	if r := m.Skipped[3].Reason; !strings.Contains(r, "apps/v1beta2 StatefulSets are no longer served") {
		t.Errorf("reason = %q", r)
	}
	if r := m.Skipped[4].Reason; r != "not an apps/v1 StatefulSet: only apps/v1 StatefulSets are checked" {
		t.Errorf("reason = %q", r)
	}
}

// A field of the wrong type stays an error that names the field.
func TestManifestsWrongType(t *testing.T) {
	var m Manifests
	err := m.Add(object(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}"), "f.yaml")
	if err == nil || !strings.Contains(err.Error(), `Deployment "web"`) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("error = %v, want one naming Deployment %q and spec.replicas", err, "web")
	}
}

func TestSuggestField(t *testing.T) {
	for path, want := range map[string]string{
		"spec.template.spec.terminationGracePeriodSecond":        "spec.template.spec.terminationGracePeriodSeconds",
		"spec.template.spec.containers[0].readinesProbe":         "spec.template.spec.containers[0].readinessProbe",
		"spec.template.spec.containers[1].Ports":                 "spec.template.spec.containers[1].ports",
		"spec.replica":                                           "spec.replicas",
		"metadata.annotation":                                    "metadata.annotations",
		"spec.template.spec.containers[0].lifecycle.prestop":     "spec.template.spec.containers[0].lifecycle.preStop",
		"spec.somethingElse":                                     "",
		"spec.nope.replicas":                                     "",
		"spec.template.metadata.labels.app":                      "", // a map: any key is allowed
		"spec.template.spec.containers[0].ports[0].containerPor": "spec.template.spec.containers[0].ports[0].containerPort",
	} {
		if got := suggestField(reflect.TypeFor[appsv1.Deployment](), path); got != want {
			t.Errorf("suggestField(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestUnknownFieldsCheck(t *testing.T) {
	env := localEnv
	env.UnknownFields = []string{"spec.template.spec.terminationGracePeriodSecond", "spec.foo"}
	runCheckCases(t, CheckUnknownFields, []checkCase{
		{name: "typo", dep: deployment(), env: &env, want: StatusWarn,
			contains: []string{"unknown field spec.template.spec.terminationGracePeriodSecond (did you mean spec.template.spec.terminationGracePeriodSeconds?)",
				"unknown field spec.foo:", "runs with the defaults instead"},
			fixHas: "rename spec.template.spec.terminationGracePeriodSecond → spec.template.spec.terminationGracePeriodSeconds"},
	})
	if r := CheckDeployment(deployment(), DefaultGraceBudget(), localEnv); r.Checks[0].ID == CheckUnknownFields {
		t.Error("unknown-fields reported without unknown fields")
	}
}

func TestRolloutStrategyWithHPA(t *testing.T) {
	hpa := func(ns, kind, name string, min *int32) autoscalingv2.HorizontalPodAutoscaler {
		return autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-hpa"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: kind, Name: name}, MinReplicas: min, MaxReplicas: 10,
			},
		}
	}
	env := func(h ...autoscalingv2.HorizontalPodAutoscaler) *Environment {
		return &Environment{Local: true, HPAs: h}
	}
	runCheckCases(t, CheckRolloutStrategy, []checkCase{
		{name: "minReplicas replaces spec.replicas", dep: deployment(withReplicas(1)), env: env(hpa("ns", "Deployment", "web", ptr.To[int32](3))),
			want: StatusPass, contains: []string{"replicas 3 (minReplicas of HorizontalPodAutoscaler web-hpa), maxSurge 1"}},
		{name: "minReplicas defaults to 1", dep: deployment(), env: env(hpa("ns", "Deployment", "web", nil)), want: StatusWarn,
			contains: []string{"replicas 1 (minReplicas of HorizontalPodAutoscaler web-hpa)", "single replica"}, fixHas: "minReplicas to 2"},
		{name: "an HPA of another Deployment", dep: deployment(withReplicas(1)), env: env(hpa("ns", "Deployment", "api", ptr.To[int32](3))), want: StatusWarn},
		{name: "an HPA of a StatefulSet of that name", dep: deployment(withReplicas(1)), env: env(hpa("ns", "StatefulSet", "web", ptr.To[int32](3))), want: StatusWarn},
		{name: "an HPA in another namespace", dep: deployment(withReplicas(1)), env: env(hpa("other", "Deployment", "web", ptr.To[int32](3))), want: StatusWarn},
		{name: "replicas 0 turns the HPA off", dep: deployment(withReplicas(0)), env: env(hpa("ns", "Deployment", "web", ptr.To[int32](3))), want: StatusSkip},
		{name: "unread HPAs are said", dep: deployment(), env: &Environment{HPAsUnread: "forbidden"}, want: StatusPass,
			contains: []string{"(HorizontalPodAutoscalers not read: forbidden; spec.replicas used)"}},
	})
}

func TestRecreateWorker(t *testing.T) {
	recreate := func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	runCheckCases(t, CheckRolloutStrategy, []checkCase{
		{name: "a worker pauses", dep: deployment(recreate, withContainers(sidecar("worker"))), want: StatusWarn,
			contains: []string{"the worker processes nothing during each rollout"}, fixHas: "never run at once"},
		{name: "a serving pod goes dark", dep: deployment(recreate), want: StatusFail, contains: []string{"the Service has no endpoints"}},
	})
}
