package verify

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"
)

// Builders for the other kinds: a StatefulSet shaped like Bitnami's PostgreSQL
// chart (3 replicas, OrderedReady, headless Service), a DaemonSet shaped like
// node-exporter (hostNetwork, hostPort 9100).

type stsOpt func(*appsv1.StatefulSet)

type dsOpt func(*appsv1.DaemonSet)

var dbLabels = map[string]string{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/component": "primary"}

func statefulSet(opts ...stsOpt) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:       ptr.To[int32](3),
			ServiceName:    "db-hl",
			Selector:       &metav1.LabelSelector{MatchLabels: dbLabels},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: dbLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Containers:                    []corev1.Container{goodContainer("postgresql")},
				},
			},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func stsReplicas(n int32) stsOpt { return func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To(n) } }

func stsRolling(partition *int32, maxUnavailable *intstr.IntOrString) stsOpt {
	return func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition, MaxUnavailable: maxUnavailable}
	}
}

var nodeLabels = map[string]string{"app.kubernetes.io/name": "node-exporter"}

func daemonSet(opts ...dsOpt) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "node-exporter", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: nodeLabels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: nodeLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Containers:                    []corev1.Container{goodContainer("node-exporter")},
				},
			},
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func dsRolling(surge, unavailable string) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		ru := &appsv1.RollingUpdateDaemonSet{}
		if surge != "" {
			ru.MaxSurge = intOrStr(surge)
		}
		if unavailable != "" {
			ru.MaxUnavailable = intOrStr(unavailable)
		}
		ds.Spec.UpdateStrategy.RollingUpdate = ru
	}
}

func dsHostPort(port int32) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: port, HostPort: port}}
	}
}

func localService(name string, labels map[string]string, internal bool) corev1.Service {
	svc := verifytest.Service("ns", name, labels)
	if internal {
		svc.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	} else {
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	return svc
}

// workloadCase runs CheckWorkload and looks at one check.
type workloadCase struct {
	name     string
	w        *Workload
	env      *Environment // localEnv when nil
	want     Status
	contains []string
	fixHas   string
	// exact, when set, is the whole message.
	exact string
}

func runWorkloadCases(t *testing.T, id string, cases []workloadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := localEnv
			if tc.env != nil {
				env = *tc.env
			}
			r := CheckWorkload(tc.w, DefaultGraceBudget(), env)
			if r.Kind != tc.w.Kind {
				t.Errorf("report kind = %q, want %q", r.Kind, tc.w.Kind)
			}
			got := findCheck(t, r, id, "")
			if got.Status != tc.want {
				t.Errorf("%s status = %q, want %q (message %q)", id, got.Status, tc.want, got.Message)
			}
			if tc.exact != "" && got.Message != tc.exact {
				t.Errorf("%s message\n got %q\nwant %q", id, got.Message, tc.exact)
			}
			for _, s := range tc.contains {
				if !strings.Contains(got.Message, s) {
					t.Errorf("%s message %q does not contain %q", id, got.Message, s)
				}
			}
			if tc.fixHas != "" && !strings.Contains(got.Fix, tc.fixHas) {
				t.Errorf("%s fix %q does not contain %q", id, got.Fix, tc.fixHas)
			}
			checkFixPresence(t, got)
		})
	}
}

func sts(opts ...stsOpt) *Workload { return StatefulSetWorkload(statefulSet(opts...)) }

func ds(opts ...dsOpt) *Workload { return DaemonSetWorkload(daemonSet(opts...)) }

func TestStatefulSetStrategy(t *testing.T) {
	hpa := autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db"}}
	hpa.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{Kind: KindStatefulSet, Name: "db"}
	hpa.Spec.MinReplicas = ptr.To[int32](1)
	deploymentHPA := hpa
	deploymentHPA.Spec.ScaleTargetRef.Kind = "Deployment"
	runWorkloadCases(t, CheckRolloutStrategy, []workloadCase{
		{name: "default: one at a time", w: sts(), want: StatusPass,
			exact: "RollingUpdate with replicas 3, podManagementPolicy OrderedReady, maxUnavailable 1 keeps at least 2 of 3 pods available: " +
				"one pod at a time, highest ordinal first, each down until its replacement is ready (a StatefulSet never surges)"},
		{name: "OnDelete", w: sts(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }),
			want: StatusFail, exact: "updateStrategy OnDelete: a restart changes nothing until each pod is deleted by hand", fixHas: "RollingUpdate"},
		{name: "single replica", w: sts(stsReplicas(1)), want: StatusFail,
			contains: []string{"the only pod (db-0) is deleted before its replacement starts"}, fixHas: "at least 2 replicas"},
		{name: "scaled to 0", w: sts(stsReplicas(0)), want: StatusSkip, contains: []string{"replicas 0"}},
		{name: "partition", w: sts(stsReplicas(5), stsRolling(ptr.To[int32](3), nil)), want: StatusPass,
			contains: []string{"keeps at least 4 of 5 pods available", "partition 3: only ordinals >= 3 of 0..4 roll: db-3, db-4 (db-0, db-1, db-2 keep the old revision)"}},
		{name: "partition of many", w: sts(stsReplicas(12), stsRolling(ptr.To[int32](2), nil)), want: StatusPass,
			contains: []string{"only ordinals >= 2 of 0..11 roll: db-2 .. db-11 (db-0, db-1 keep the old revision)"}},
		{name: "partition >= replicas", w: sts(stsRolling(ptr.To[int32](3), nil)), want: StatusWarn,
			exact:  "RollingUpdate with replicas 3 and partition 3: no ordinal of 0..2 is >= 3, so no pod rolls: a restart changes nothing",
			fixHas: "lower updateStrategy.rollingUpdate.partition"},
		{name: "ordinals start", w: sts(func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1} }, stsRolling(ptr.To[int32](1), nil)),
			want: StatusPass, contains: []string{"only ordinals >= 2 of 1..3 roll: db-2, db-3 (db-1 keeps the old revision)"}},
		{name: "Parallel without maxUnavailable", w: sts(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }),
			want: StatusPass, contains: []string{"podManagementPolicy Parallel, maxUnavailable 1 keeps at least 2 of 3 pods", "Parallel changes scaling only, not updates"}},
		{name: "Parallel with maxUnavailable", w: sts(stsReplicas(5), stsRolling(nil, intOrStr("2")), func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }),
			want: StatusPass, contains: []string{"maxUnavailable 2 keeps at least 3 of 5 pods", "up to 2 pods at a time", "MaxUnavailableStatefulSet feature"}},
		{name: "OrderedReady with maxUnavailable: counted, may not apply", w: sts(stsReplicas(5), stsRolling(nil, intOrStr("40%"))),
			want: StatusPass, contains: []string{"maxUnavailable 2 keeps at least 3 of 5 pods", "OrderedReady may still replace them one at a time"}},
		{name: "maxUnavailable of every pod", w: sts(stsRolling(nil, intOrStr("100%")), func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }),
			want: StatusFail, contains: []string{"available pods can drop to 0"}, fixHas: "lower updateStrategy.rollingUpdate.maxUnavailable"},
		{name: "invalid maxUnavailable", w: sts(stsRolling(nil, intOrStr("lots"))), want: StatusFail, contains: []string{"invalid rollingUpdate: maxUnavailable"}},
		{name: "minReadySeconds", w: sts(func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 }), want: StatusPass,
			contains: []string{"ready for minReadySeconds 10"}},
		{name: "HPA minReplicas", w: sts(), env: &Environment{Local: true, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa}}, want: StatusFail,
			contains: []string{"replicas 1 (minReplicas of HorizontalPodAutoscaler db)"}, fixHas: "minReplicas to 2"},
		{name: "a Deployment's HPA of the same name", w: sts(), env: &Environment{Local: true, HPAs: []autoscalingv2.HorizontalPodAutoscaler{deploymentHPA}},
			want: StatusPass, contains: []string{"replicas 3,"}},
	})
}

func TestDaemonSetStrategy(t *testing.T) {
	live := func(nodes int32) *Environment {
		l := daemonSet()
		l.Status.DesiredNumberScheduled = nodes
		return &Environment{Live: DaemonSetWorkload(l)}
	}
	runWorkloadCases(t, CheckRolloutStrategy, []workloadCase{
		{name: "defaults, no node-local traffic", w: ds(), want: StatusPass,
			exact: "RollingUpdate with maxSurge 0, maxUnavailable 1: each node's pod is stopped before its replacement runs; " +
				"no node-local traffic (no hostPort, no hostNetwork, no Service with a Local traffic policy)"},
		{name: "OnDelete", w: ds(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType }),
			want: StatusFail, exact: "updateStrategy OnDelete: a restart changes nothing until each pod is deleted by hand", fixHas: "RollingUpdate"},
		{name: "hostPort", w: ds(dsHostPort(9100)), want: StatusWarn,
			exact: "RollingUpdate with maxSurge 0, maxUnavailable 1: each node's pod is stopped before its replacement runs: " +
				"during the swap that node has no local endpoint for hostPort 9100: its node-local clients get errors until the replacement is ready",
			fixHas: "maxSurge cannot help"},
		{name: "hostNetwork makes declared ports hostPorts", w: ds(func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.HostNetwork = true }),
			want: StatusWarn, contains: []string{"hostPort 8080"}, fixHas: "maxSurge cannot help"},
		{name: "hostNetwork without ports", w: ds(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.HostNetwork = true
			d.Spec.Template.Spec.Containers[0].Ports = nil
		}), want: StatusWarn, contains: []string{"no local endpoint for hostNetwork"}},
		{name: "internalTrafficPolicy Local", w: ds(), env: &Environment{Local: true, Services: []corev1.Service{localService("agent", nodeLabels, true)}},
			want: StatusWarn, contains: []string{"no local endpoint for Service agent (internalTrafficPolicy: Local)"}, fixHas: "set maxSurge: 1 and maxUnavailable: 0"},
		{name: "externalTrafficPolicy Local", w: ds(), env: &Environment{Local: true, Services: []corev1.Service{localService("ingress", nodeLabels, false)}},
			want: StatusWarn, contains: []string{"Service ingress (externalTrafficPolicy: Local)"}, fixHas: "maxSurge: 1"},
		{name: "a Local Service of other pods", w: ds(), env: &Environment{Local: true, Services: []corev1.Service{localService("other", map[string]string{"app": "other"}, true)}},
			want: StatusPass},
		{name: "surge first", w: ds(dsRolling("1", "0")), env: &Environment{Local: true, Services: []corev1.Service{localService("agent", nodeLabels, true)}},
			want: StatusPass, exact: "RollingUpdate with maxSurge 1, maxUnavailable 0: on each node the replacement runs before the old pod stops"},
		{name: "surge with a hostPort stalls", w: ds(dsRolling("1", "0"), dsHostPort(24224)), want: StatusFail,
			contains: []string{"needs hostPort 24224", "stays Pending and the rollout stalls"}, fixHas: "maxSurge: 0 and maxUnavailable: 1"},
		{name: "surge with hostNetwork, no ports", w: ds(dsRolling("10%", "0"), func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.HostNetwork = true
			d.Spec.Template.Spec.Containers[0].Ports = nil
		}), want: StatusWarn, contains: []string{"shares the node's network"}},
		{name: "both 0: the controller takes one", w: ds(dsRolling("0", "0")), want: StatusPass, contains: []string{"maxSurge 0, maxUnavailable 1"}},
		{name: "every node at once", w: ds(dsRolling("", "100%")), want: StatusFail, contains: []string{"every node's pod can be stopped at once"}, fixHas: "maxUnavailable: 1"},
		{name: "every live node at once", w: ds(dsRolling("", "5")), env: live(5), want: StatusFail, contains: []string{"on 5 nodes"}},
		{name: "some live nodes at once", w: ds(dsRolling("", "2")), env: live(5), want: StatusPass, contains: []string{"maxUnavailable 2 on 5 nodes"}},
		{name: "invalid", w: ds(dsRolling("lots", "")), want: StatusFail, contains: []string{"invalid rollingUpdate"}},
	})
}

func TestWorkloadPaused(t *testing.T) {
	runWorkloadCases(t, CheckPaused, []workloadCase{
		{name: "StatefulSet", w: sts(), want: StatusSkip, exact: "StatefulSets cannot be paused (kubectl rollout pause supports Deployments only)"},
		{name: "DaemonSet", w: ds(), want: StatusSkip, exact: "DaemonSets cannot be paused (kubectl rollout pause supports Deployments only)"},
	})
}

func TestWorkloadRolloutInProgress(t *testing.T) {
	steadySTS := func(f func(*appsv1.StatefulSet)) *Environment {
		l := statefulSet()
		l.Generation = 4
		l.Status = appsv1.StatefulSetStatus{ObservedGeneration: 4, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "db-1", UpdateRevision: "db-1"}
		f(l)
		return &Environment{Live: StatefulSetWorkload(l)}
	}
	steadyDS := func(f func(*appsv1.DaemonSet)) *Environment {
		l := daemonSet()
		l.Generation = 2
		l.Status = appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 4, UpdatedNumberScheduled: 4, NumberAvailable: 4}
		f(l)
		return &Environment{Live: DaemonSetWorkload(l)}
	}
	runWorkloadCases(t, CheckRolloutInProgress, []workloadCase{
		{name: "sts local", w: sts(), want: StatusSkip, contains: []string{"--local"}},
		{name: "sts not deployed", w: sts(), env: &Environment{}, want: StatusSkip, contains: []string{"not deployed yet"}},
		{name: "sts steady", w: sts(), env: steadySTS(func(*appsv1.StatefulSet) {}), want: StatusPass},
		{name: "sts generation not observed", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) { l.Generation = 5 }),
			want: StatusWarn, exact: "spec generation 5 not yet observed by the controller (observed 4)", fixHas: "wait"},
		{name: "sts pods not ready", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) { l.Status.ReadyReplicas = 2 }),
			want: StatusWarn, exact: "rollout in progress: 2 of 3 pods ready"},
		{name: "sts revisions differ", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) { l.Status.UpdatedReplicas = 1; l.Status.UpdateRevision = "db-2" }),
			want: StatusWarn, exact: "rollout in progress: 1 of 3 new pods updated"},
		{name: "sts partition done", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) {
			l.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}
			l.Status.UpdatedReplicas, l.Status.UpdateRevision = 1, "db-2"
		}), want: StatusPass},
		{name: "sts partition in progress", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) {
			l.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}
			l.Status.UpdatedReplicas, l.Status.UpdateRevision = 1, "db-2"
		}), want: StatusWarn, exact: "rollout in progress: 1 of 2 new pods updated (ordinals >= 1)"},
		{name: "sts OnDelete", w: sts(), env: steadySTS(func(l *appsv1.StatefulSet) { l.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }),
			want: StatusSkip, contains: []string{"OnDelete"}},
		{name: "ds steady", w: ds(), env: steadyDS(func(*appsv1.DaemonSet) {}), want: StatusPass},
		{name: "ds generation not observed", w: ds(), env: steadyDS(func(l *appsv1.DaemonSet) { l.Generation = 3 }),
			want: StatusWarn, exact: "spec generation 3 not yet observed by the controller (observed 2)"},
		{name: "ds not updated", w: ds(), env: steadyDS(func(l *appsv1.DaemonSet) { l.Status.UpdatedNumberScheduled = 1 }),
			want: StatusWarn, exact: "rollout in progress: 1 of 4 new pods updated"},
		{name: "ds not available", w: ds(), env: steadyDS(func(l *appsv1.DaemonSet) { l.Status.NumberAvailable = 3 }),
			want: StatusWarn, exact: "rollout in progress: 3 of 4 updated pods available"},
		{name: "ds OnDelete", w: ds(), env: steadyDS(func(l *appsv1.DaemonSet) { l.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType }),
			want: StatusSkip, contains: []string{"OnDelete"}},
	})
}

// The Service and PDB checks select the pods of any kind.
func TestWorkloadSurroundings(t *testing.T) {
	headless := verifytest.Service("ns", "db-hl", dbLabels)
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	pdb := verifytest.PDB("ns", "db", &metav1.LabelSelector{MatchLabels: dbLabels})
	runWorkloadCases(t, CheckService, []workloadCase{
		{name: "sts headless Service", w: sts(), env: &Environment{Local: true, Services: []corev1.Service{headless}}, want: StatusPass,
			exact: "Service db-hl selects the pods (EndpointSlices not checked: --local)"},
		{name: "sts not deployed", w: sts(), env: &Environment{Services: []corev1.Service{headless}}, want: StatusPass,
			exact: "Service db-hl selects the pods (StatefulSet not deployed yet)"},
		{name: "ds without Service", w: ds(), env: &Environment{}, want: StatusWarn, fixHas: "ignore if the DaemonSet serves no traffic"},
	})
	runWorkloadCases(t, CheckPDB, []workloadCase{
		{name: "sts", w: sts(), env: &Environment{Local: true, PDBs: []policyv1.PodDisruptionBudget{pdb}}, want: StatusPass, exact: "PodDisruptionBudget db covers the pods"},
		{name: "ds, other pods", w: ds(), env: &Environment{PDBs: []policyv1.PodDisruptionBudget{pdb}}, want: StatusWarn},
	})
}

func TestWorkloadUnknownFields(t *testing.T) {
	runWorkloadCases(t, CheckUnknownFields, []workloadCase{
		{name: "sts", w: sts(), env: &Environment{Local: true, UnknownFields: []string{"spec.podManagmentPolicy"}}, want: StatusWarn,
			exact:  "unknown field spec.podManagmentPolicy (did you mean spec.podManagementPolicy?): the API server drops unknown fields, so the StatefulSet runs with the defaults instead",
			fixHas: "rename spec.podManagmentPolicy → spec.podManagementPolicy"},
		{name: "ds", w: ds(), env: &Environment{Local: true, UnknownFields: []string{"spec.updateStrategy.rollingUpdate.maxSurg"}}, want: StatusWarn,
			contains: []string{"did you mean spec.updateStrategy.rollingUpdate.maxSurge?", "so the DaemonSet runs"}},
	})
}

// The pod template checks are the same for every kind: the same template gives
// the same findings under a Deployment, a StatefulSet and a DaemonSet.
func TestWorkloadTemplateChecksAgree(t *testing.T) {
	d := deployment(withContainers(goodContainer("app", noPreStop())))
	s := statefulSet(func(s *appsv1.StatefulSet) { s.Spec.Template = d.Spec.Template })
	x := daemonSet(func(x *appsv1.DaemonSet) { x.Spec.Template = d.Spec.Template })
	want := CheckDeployment(d, DefaultGraceBudget(), localEnv)
	for _, w := range []*Workload{StatefulSetWorkload(s), DaemonSetWorkload(x)} {
		got := CheckWorkload(w, DefaultGraceBudget(), localEnv)
		for i, c := range want.Checks {
			switch c.ID {
			case CheckRolloutStrategy, CheckPaused:
				continue // the kind's own
			}
			if !reflect.DeepEqual(got.Checks[i], c) {
				t.Errorf("%s: check %d = %+v, want %+v", w, i, got.Checks[i], c)
			}
		}
	}
}

func TestNewWorkload(t *testing.T) {
	for _, tc := range []struct {
		obj  runtime.Object
		want string
	}{
		{verifytest.Deployment(), "deployment/web"},
		{statefulSet(), "statefulset/db"},
		{daemonSet(), "daemonset/node-exporter"},
	} {
		w, err := NewWorkload(tc.obj)
		if err != nil || w.String() != tc.want || w.Object != tc.obj {
			t.Errorf("NewWorkload(%T) = %v, %v; want %s", tc.obj, w, err, tc.want)
		}
	}
	if _, err := NewWorkload(&corev1.Pod{}); err == nil {
		t.Error("NewWorkload(Pod) succeeded")
	}
	if n, ok := DaemonSetWorkload(daemonSet()).Replicas(); ok || n != 0 {
		t.Errorf("DaemonSet Replicas() = %d, %v; want none", n, ok)
	}
	for _, kind := range WorkloadKinds() {
		if _, err := DecodeWorkloadJSON(kind, []byte(`{"metadata": {"name": "x"}}`)); err != nil {
			t.Errorf("DecodeWorkloadJSON(%s): %v", kind, err)
		}
	}
	if _, err := DecodeWorkloadJSON("Job", []byte(`{}`)); err == nil {
		t.Error("DecodeWorkloadJSON(Job) succeeded")
	}
}
