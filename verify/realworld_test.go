package verify

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The verdicts on manifests modelled on widely used charts, injectors and projects
// (testdata/real-world, each file says where it comes from). The table was written
// from the contract, what a user of each workload would expect, before it was run:
// every check of every Deployment is listed, so a status that moves fails the test.

// rw is one expected check: its status, the reason a user would give, and a piece
// of the finding that must be there ("" for none).
type rw struct {
	id, container string
	want          Status
	why           string
	has           string
}

// surroundings are the pod-level checks with --local and a Service in the file,
// everything else fine: the Deployments of this table mostly end that way.
func surroundings(grace, strategy rw) []rw {
	return []rw{
		grace, strategy,
		{CheckService, "", StatusPass, "a Service in the file selects the pods", "selects the pods"},
		{CheckPaused, "", StatusPass, "not paused", ""},
		{CheckRolloutInProgress, "", StatusSkip, "--local: no cluster", ""},
		{CheckPDB, "", StatusSkip, "no PodDisruptionBudget in the file, cluster not read", ""},
	}
}

var (
	gracePass    = rw{CheckGraceBudget, "", StatusPass, "the grace period covers the budget", ">="}
	strategyPass = rw{CheckRolloutStrategy, "", StatusPass, "maxUnavailable rounds to 0: capacity stays up", "keeps at least"}
	singleWarn   = rw{CheckRolloutStrategy, "", StatusWarn, "a single replica: any failure of the new pod is an outage", "single replica"}
)

func checksOf(containers []rw, tail []rw) []rw { return append(containers, tail...) }

var realWorld = []struct {
	file        string
	deployments map[string][]rw
	skipped     []string // "Kind name apiVersion"
}{
	{file: "istio-injected.yaml", deployments: map[string][]rw{"productpage-v1": checksOf([]rw{
		{CheckReadinessProbe, "productpage", StatusPass, "httpGet /health", ""},
		{CheckReadinessReaction, "productpage", StatusPass, "1s × 3 + 1s = 4s, inside the 5s drain delay", "within 4s"},
		{CheckReadinessLiveness, "productpage", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "productpage", StatusPass, "httpGet /drain triggers draining", "triggers draining"},
		{CheckReadinessProbe, "istio-proxy", StatusPass, "the mesh proxy's own readiness", "mesh proxy"},
		{CheckReadinessReaction, "istio-proxy", StatusPass, "2s × 30 + 3s never decides when the app stops getting traffic: the app's 4s does", "as soon as productpage fails readiness (up to 4s)"},
		{CheckReadinessLiveness, "istio-proxy", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "istio-proxy", StatusPass, "Istio keeps Envoy forwarding 5s after SIGTERM, as long as the 5s drain delay", "Istio's default terminationDrainDuration"},
	}, surroundings(gracePass, strategyPass))}},

	{file: "linkerd-injected.yaml", deployments: map[string][]rw{"web": checksOf([]rw{
		{CheckReadinessProbe, "linkerd-proxy", StatusPass, "the mesh proxy's own readiness", "mesh proxy"},
		{CheckReadinessReaction, "linkerd-proxy", StatusPass, "the proxy's timing is judged separately", "judged separately"},
		{CheckReadinessLiveness, "linkerd-proxy", StatusPass, "/live and /ready differ", "separate"},
		{CheckPreStopHook, "linkerd-proxy", StatusWarn, "no proxy-wait-before-exit: the proxy stops with the app", "no preStop wait"},
		{CheckReadinessProbe, "web-svc", StatusFail, "the Service targets 8080 and web-svc has no readinessProbe", "no readinessProbe"},
		{CheckReadinessReaction, "web-svc", StatusSkip, "nothing to time", ""},
		{CheckReadinessLiveness, "web-svc", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "web-svc", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(gracePass, singleWarn))}},

	{file: "spring-boot.yaml", deployments: map[string][]rw{"orders": checksOf([]rw{
		{CheckReadinessProbe, "app", StatusPass, "actuator readiness group", "/actuator/health/readiness"},
		{CheckReadinessReaction, "app", StatusPass, "3s × 3 + 1s = 10s, inside the 10s preStop sleep", "inside the 10s drain delay"},
		{CheckReadinessLiveness, "app", StatusPass, "liveness and readiness groups differ", "separate"},
		{CheckPreStopHook, "app", StatusWarn, "sleep 10 only sleeps", "only sleeps"},
	}, surroundings(rw{CheckGraceBudget, "", StatusPass, "45s >= 5 + 10 + 15 + 5", "45 >= 35s"}, strategyPass))}},

	{file: "nginx-prestop.yaml", deployments: map[string][]rw{
		"nginx-quit": checksOf([]rw{
			{CheckReadinessProbe, "nginx", StatusPass, "httpGet /", ""},
			{CheckReadinessReaction, "nginx", StatusWarn, "5s × 3 + 3s = 18s, slower than the 5s drain delay", "slower than the 5s drain delay"},
			{CheckReadinessLiveness, "nginx", StatusPass, "tcpSocket liveness, httpGet readiness", ""},
			{CheckPreStopHook, "nginx", StatusPass, "nginx -s quit signals nginx to drain", "triggers draining"},
		}, surroundings(gracePass, strategyPass)),
		"nginx-sleep-quit": checksOf([]rw{
			{CheckReadinessProbe, "nginx", StatusPass, "httpGet /", ""},
			{CheckReadinessReaction, "nginx", StatusWarn, "18s, slower than the 5s drain delay", "slower than the 5s drain delay"},
			{CheckReadinessLiveness, "nginx", StatusPass, "tcpSocket liveness, httpGet readiness", ""},
			{CheckPreStopHook, "nginx", StatusPass, "sleeps 5s, then nginx -s quit", "triggers draining"},
		}, surroundings(gracePass, strategyPass)),
	}},

	{file: "node-app.yaml", deployments: map[string][]rw{"node-api": checksOf([]rw{
		{CheckReadinessProbe, "api", StatusPass, "httpGet /healthcheck", ""},
		{CheckReadinessReaction, "api", StatusPass, "2s × 1 + 1s = 3s", "within 3s"},
		{CheckReadinessLiveness, "api", StatusPass, "/healthz is not /healthcheck", "separate"},
		{CheckPreStopHook, "api", StatusWarn, "no preStop hook: terminus flips readiness only at SIGTERM", "no preStop hook"},
	}, surroundings(gracePass, strategyPass))}},

	{file: "cloud-sql-proxy-native.yaml", deployments: map[string][]rw{"orders-api": checksOf([]rw{
		{CheckReadinessProbe, "app", StatusPass, "httpGet /ready", ""},
		{CheckReadinessReaction, "app", StatusPass, "2s × 2 + 1s = 5s", "within 5s"},
		{CheckReadinessLiveness, "app", StatusPass, "/live is not /ready", "separate"},
		{CheckPreStopHook, "app", StatusPass, "httpGet /drain", "triggers draining"},
		{CheckReadinessProbe, "cloud-sql-proxy", StatusSkip, "a native sidecar no Service targets serves nothing", "native sidecar"},
		{CheckReadinessReaction, "cloud-sql-proxy", StatusSkip, "not serving", "not serving traffic"},
		{CheckReadinessLiveness, "cloud-sql-proxy", StatusPass, "liveness only", ""},
		{CheckPreStopHook, "cloud-sql-proxy", StatusSkip, "not serving, and the kubelet stops it after the app", "not serving traffic"},
	}, surroundings(gracePass, strategyPass))}},

	{file: "helm-create-hpa.yaml", deployments: map[string][]rw{"web": checksOf([]rw{
		{CheckReadinessProbe, "web", StatusPass, "httpGet /", ""},
		{CheckReadinessReaction, "web", StatusWarn, "defaults 10 × 3 + 1 = 31s ≥ 30s, but only serving-aware proxies wait for readiness since 1.26", "Kubernetes 1.26"},
		{CheckReadinessLiveness, "web", StatusWarn, "liveness = readiness (httpGet / on http)", "same handler"},
		{CheckPreStopHook, "web", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(gracePass, rw{CheckRolloutStrategy, "", StatusPass, "the HPA's minReplicas 2, not the unset spec.replicas", "replicas 2 (minReplicas of HorizontalPodAutoscaler web)"}))}},

	{file: "loadgenerator.yaml", deployments: map[string][]rw{"loadgenerator": {
		{CheckReadinessProbe, "main", StatusSkip, "no ports, no Service: a worker", "a worker"},
		{CheckReadinessReaction, "main", StatusSkip, "a worker", "a worker"},
		{CheckReadinessLiveness, "main", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "main", StatusSkip, "a worker has nothing to drain", "a worker"},
		{CheckGraceBudget, "", StatusWarn, "5s is short only of assumed inputs", "short only by the assumed"},
		singleWarn,
		{CheckService, "", StatusSkip, "no Service, as a worker", ""},
		{CheckPaused, "", StatusPass, "not paused", ""},
		{CheckRolloutInProgress, "", StatusSkip, "--local", ""},
		{CheckPDB, "", StatusSkip, "none in the file", ""},
	}}},

	{file: "podinfo.yaml", deployments: map[string][]rw{"podinfo": checksOf([]rw{
		{CheckReadinessProbe, "podinfod", StatusPass, "exec podcli check /readyz", ""},
		{CheckReadinessReaction, "podinfod", StatusWarn, "10 × 3 + 5 = 35s ≥ 30s: a warning, it rolls with 0 errors (kube-proxy does not wait for readiness)", "35s"},
		{CheckReadinessLiveness, "podinfod", StatusPass, "/healthz is not /readyz", "separate"},
		{CheckPreStopHook, "podinfod", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(gracePass, rw{CheckRolloutStrategy, "", StatusPass, "the HPA's minReplicas 2, maxUnavailable 0", "replicas 2 (minReplicas of HorizontalPodAutoscaler podinfo)"}))}},

	{file: "shell-prestop.yaml", deployments: map[string][]rw{
		"drain-touch": checksOf([]rw{
			{CheckReadinessProbe, "app", StatusPass, "exec probe reading /tmp/drain", ""},
			{CheckReadinessReaction, "app", StatusPass, "3s, inside the 20s the hook sleeps", "inside the 20s drain delay"},
			{CheckReadinessLiveness, "app", StatusPass, "no livenessProbe", ""},
			{CheckPreStopHook, "app", StatusPass, "touching the file the probe reads fails readiness: draining", "touches /tmp/drain, which the readinessProbe reads"},
		}, surroundings(rw{CheckGraceBudget, "", StatusPass, "45 >= 5 + 20 + 15 + 5", "45 >= 45s"}, strategyPass)),
		"sleep-or-true": checksOf([]rw{
			{CheckReadinessProbe, "app", StatusPass, "httpGet /ready", ""},
			{CheckReadinessReaction, "app", StatusPass, "5s inside 20s", ""},
			{CheckReadinessLiveness, "app", StatusPass, "no livenessProbe", ""},
			{CheckPreStopHook, "app", StatusWarn, "sleep 20 || true only sleeps", "only sleeps"},
		}, surroundings(rw{CheckGraceBudget, "", StatusPass, "45 >= 45 with the 20s sleep", "20s drain delay"}, strategyPass)),
		"env-sleep": checksOf([]rw{
			{CheckReadinessProbe, "app", StatusPass, "httpGet /ready", ""},
			{CheckReadinessReaction, "app", StatusPass, "5s inside 20s", ""},
			{CheckReadinessLiveness, "app", StatusPass, "no livenessProbe", ""},
			{CheckPreStopHook, "app", StatusWarn, "env runs sleep: only sleeps", "exec /usr/bin/env sleep 20 only sleeps"},
		}, surroundings(rw{CheckGraceBudget, "", StatusPass, "45 >= 45 with the 20s sleep", "20s drain delay"}, strategyPass)),
		"sleep-default": checksOf([]rw{
			{CheckReadinessProbe, "app", StatusPass, "httpGet /ready", ""},
			{CheckReadinessReaction, "app", StatusPass, "5s inside 20s", ""},
			{CheckReadinessLiveness, "app", StatusPass, "no livenessProbe", ""},
			{CheckPreStopHook, "app", StatusWarn, "sleeps ${DRAIN:-20}, counted as 20s", "counted as 20s, the default"},
		}, surroundings(rw{CheckGraceBudget, "", StatusWarn, "30 < 45, but the 20s sleep fits: short only of assumed inputs", "short only by the assumed"}, strategyPass)),
	}},

	{file: "nginx-exporter.yaml", deployments: map[string][]rw{"storefront": checksOf([]rw{
		{CheckReadinessProbe, "nginx", StatusPass, "httpGet /healthz", ""},
		{CheckReadinessReaction, "nginx", StatusPass, "5s", "within 5s"},
		{CheckReadinessLiveness, "nginx", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "nginx", StatusPass, "nginx -s quit", "triggers draining"},
		{CheckReadinessProbe, "exporter", StatusSkip, "the Service targets http only: the metrics port serves no traffic", "no Service targets its ports"},
		{CheckReadinessReaction, "exporter", StatusSkip, "not serving", ""},
		{CheckReadinessLiveness, "exporter", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "exporter", StatusSkip, "not serving", ""},
	}, surroundings(gracePass, strategyPass))}},

	{file: "legacy-apps-v1beta2.yaml", skipped: []string{"Deployment nginx-deployment apps/v1beta2"}},

	{file: "typo-field.yaml", deployments: map[string][]rw{"reports": checksOf([]rw{
		{CheckUnknownFields, "", StatusWarn, "terminationGracePeriodSecond is dropped: the pods get 30s, not 90s", "did you mean spec.template.spec.terminationGracePeriodSeconds?"},
		{CheckReadinessProbe, "app", StatusPass, "httpGet /ready", ""},
		{CheckReadinessReaction, "app", StatusPass, "5s inside the 20s sleep", ""},
		{CheckReadinessLiveness, "app", StatusPass, "/live is not /ready", ""},
		{CheckPreStopHook, "app", StatusWarn, "sleep 20 only sleeps", "only sleeps"},
	}, surroundings(rw{CheckGraceBudget, "", StatusWarn, "the default 30 < 45: short only of assumed inputs", "terminationGracePeriodSeconds 30 < 45s"}, strategyPass))}},

	{file: "memcached-tcp.yaml", deployments: map[string][]rw{"memcached": checksOf([]rw{
		{CheckReadinessProbe, "memcached", StatusWarn, "tcpSocket cannot reflect draining", "cannot reflect draining"},
		{CheckReadinessReaction, "memcached", StatusWarn, "5 × 6 + 3 = 33s ≥ 30s", "33s"},
		{CheckReadinessLiveness, "memcached", StatusWarn, "liveness = readiness (tcpSocket memcache)", "same handler"},
		{CheckPreStopHook, "memcached", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(gracePass, singleWarn))}},

	{file: "renamed-port.yaml", deployments: map[string][]rw{"api": checksOf([]rw{
		{CheckReadinessProbe, "api", StatusFail, "port http is not declared any more: the kubelet fails the probe", "names port http, which the container does not declare"},
		{CheckReadinessReaction, "api", StatusSkip, "the probe cannot run", "cannot run"},
		{CheckReadinessLiveness, "api", StatusFail, "port http is not declared: restarts forever", "names port http"},
		{CheckPreStopHook, "api", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(gracePass, strategyPass))}},

	{file: "ingress-nginx.yaml", deployments: map[string][]rw{"ingress-nginx-controller": checksOf([]rw{
		{CheckReadinessProbe, "controller", StatusPass, "httpGet /healthz:10254", ""},
		{CheckReadinessReaction, "controller", StatusWarn, "31s, slower than the 5s drain delay (but well inside 300s)", "slower than the 5s drain delay"},
		{CheckReadinessLiveness, "controller", StatusWarn, "liveness = readiness (/healthz:10254)", "same handler"},
		{CheckPreStopHook, "controller", StatusPass, "/wait-shutdown is the controller's own drain", "triggers draining"},
	}, surroundings(rw{CheckGraceBudget, "", StatusPass, "300s", "300 >= 30s"}, singleWarn))}},

	{file: "aws-alb-2048.yaml", deployments: map[string][]rw{"deployment-2048": checksOf([]rw{
		{CheckReadinessProbe, "app-2048", StatusFail, "the Service targets port 80 and the container has no readinessProbe", "no readinessProbe"},
		{CheckReadinessReaction, "app-2048", StatusSkip, "nothing to time", ""},
		{CheckReadinessLiveness, "app-2048", StatusPass, "no livenessProbe", ""},
		{CheckPreStopHook, "app-2048", StatusWarn, "no preStop hook", "no preStop hook"},
	}, surroundings(rw{CheckGraceBudget, "", StatusWarn, "the ALB's assumed 30s deregistration needs 55s: an assumption warns",
		"30s endpoint propagation (assumed: AWS ALB)"}, strategyPass))}},
}

func TestRealWorldManifests(t *testing.T) {
	dir := filepath.Join("testdata", "real-world")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	var listed []string
	for _, tc := range realWorld {
		listed = append(listed, tc.file)
	}
	if !slices.Equal(files, slices.Sorted(slices.Values(listed))) {
		t.Fatalf("files %v, table %v: every file has its row", files, listed)
	}
	if len(files) < 15 {
		t.Errorf("%d real-world manifests, want at least 15", len(files))
	}
	for _, tc := range realWorld {
		t.Run(tc.file, func(t *testing.T) {
			m := readManifests(t, filepath.Join(dir, tc.file))
			var skipped []string
			for _, s := range m.Skipped {
				skipped = append(skipped, s.Kind+" "+s.Name+" "+s.APIVersion)
				if s.Reason == "" || s.Source == "" {
					t.Errorf("skipped %s without reason or source: %+v", s.Name, s)
				}
			}
			if !slices.Equal(skipped, tc.skipped) {
				t.Errorf("skipped = %q, want %q", skipped, tc.skipped)
			}
			if len(m.Deployments) != len(tc.deployments) {
				t.Errorf("%d Deployments, want %d", len(m.Deployments), len(tc.deployments))
			}
			for _, d := range m.Deployments {
				want, ok := tc.deployments[d.Name]
				if !ok {
					t.Errorf("Deployment %s is not in the table", d.Name)
					continue
				}
				budget, err := DefaultGraceBudget().WithAnnotations(d.Annotations)
				if err != nil {
					t.Fatal(err)
				}
				env := Environment{Local: true, Services: m.Services, PDBs: m.PDBs, HPAs: m.HPAs, Ingresses: m.Ingresses, UnknownFields: m.UnknownFields(d)}
				compareChecks(t, d.Name, CheckDeployment(d, budget, env).Checks, want)
			}
		})
	}
}

func compareChecks(t *testing.T, name string, got []Check, want []rw) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d checks, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		if i >= len(got) {
			break
		}
		g := got[i]
		if g.ID != w.id || g.Container != w.container {
			t.Errorf("%s check %d = %s (%s), want %s (%s)", name, i, g.ID, g.Container, w.id, w.container)
			continue
		}
		if g.Status != w.want {
			t.Errorf("%s %s (%s) = %s, want %s: %s\n\tfinding: %s", name, w.id, w.container, g.Status, w.want, w.why, g.Message)
		}
		if w.has != "" && !strings.Contains(g.Message, w.has) {
			t.Errorf("%s %s (%s): finding %q does not contain %q", name, w.id, w.container, g.Message, w.has)
		}
		checkFixPresence(t, g)
	}
}

// readManifests decodes a multi-document YAML file the way cli hands objects over:
// the "default" namespace for objects without one.
func readManifests(t *testing.T, path string) Manifests {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifests
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if err := m.Add(u, path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}
