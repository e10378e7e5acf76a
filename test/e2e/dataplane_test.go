//go:build e2e

package e2e

import (
	"testing"
)

// dataPlaneReport is the part of the JSON report about what the probe's
// identity header and streams told per pod.
type dataPlaneReport struct {
	Outcome string `json:"outcome"`
	Pods    []struct {
		Name                        string   `json:"name"`
		Exit                        string   `json:"exit"`
		ProbeErrors                 int      `json:"probeErrors"`
		DataPlanePropagationSeconds *float64 `json:"dataPlanePropagationSeconds"`
		DataPlaneSamples            *int     `json:"dataPlaneSamples"`
		LateRequests                *int     `json:"lateRequests"`
		LateRequestsFailed          int      `json:"lateRequestsFailed"`
		StreamsOpened               int      `json:"streamsOpened"`
		StreamsEndedClean           int      `json:"streamsEndedClean"`
		StreamsEndedAbrupt          int      `json:"streamsEndedAbrupt"`
	} `json:"pods"`
	Propagation struct {
		Samples int      `json:"samples"`
		Max     *float64 `json:"max"`
	} `json:"propagation"`
	DataPlanePropagation *struct {
		Samples int      `json:"samples"`
		P50     *float64 `json:"p50"`
		P95     *float64 `json:"p95"`
		Max     *float64 `json:"max"`
	} `json:"dataPlanePropagation"`
	RecommendedGraceSeconds   *int64 `json:"recommendedGraceSeconds"`
	RecommendationPropagation string `json:"recommendationPropagation"`
	Probe                     *struct {
		Requests           int            `json:"requests"`
		Errors             int            `json:"errors"`
		ErrorsByClass      map[string]int `json:"errorsByClass"`
		IdentifiedRequests int            `json:"identifiedRequests"`
		Attribution        []struct {
			Pod    string `json:"pod"`
			Errors int    `json:"errors"`
		} `json:"attribution"`
		Streams *struct {
			Opened      int `json:"opened"`
			EndedClean  int `json:"endedClean"`
			EndedAbrupt int `json:"endedAbrupt"`
		} `json:"streams"`
	} `json:"probe"`
}

func decodeDataPlane(t *testing.T, r result) dataPlaneReport {
	t.Helper()
	var rep dataPlaneReport
	decodeJSON(t, r, &rep)
	return rep
}

// The contract app (preStop /admin/drain, as examples/contract-app.yaml)
// restarted under probe traffic that reads X-Served-By: every old pod has a
// data-plane propagation figure from samples on new connections, and the
// requests it got after its endpoint went not serving were all served.
func TestDataPlaneContractApp(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "contract", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=5s", "--shutdown-timeout=10s"}})
	ip := l.clusterIP(t, ns, "contract")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/contract", "--probe", "http://"+ip+"/", "--probe", "grpc://"+ip+":9090/saferollout.drainapp.v1.DrainApp",
		"--probe-identity-header", "X-Served-By", "--probe-streams=2", "--probe-rate=200", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeDataPlane(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Probe == nil {
		t.Fatalf("exit %d outcome %q probe %+v, want 0, succeeded and probe traffic\n%s", r.code, rep.Outcome, rep.Probe, r.stdout)
	}
	if rep.Probe.Errors != 0 || rep.Probe.IdentifiedRequests == 0 {
		t.Errorf("probe: %d errors %v, %d of %d answers identified; want 0 errors, answers carrying X-Served-By", rep.Probe.Errors, rep.Probe.ErrorsByClass, rep.Probe.IdentifiedRequests, rep.Probe.Requests)
	}
	if len(rep.Pods) != 3 {
		t.Fatalf("%d old pods, want 3", len(rep.Pods))
	}
	// The drain-app ends its Watch streams after NOT_SERVING: every stream
	// that ended did so cleanly.
	if st := rep.Probe.Streams; st == nil || st.Opened < 2 || st.EndedAbrupt != 0 || st.EndedClean == 0 {
		t.Errorf("streams %+v, want 2 or more opened, some ended clean by the drain, none abrupt", st)
	} else {
		t.Logf("streams: %d opened, %d ended clean, %d abrupt", st.Opened, st.EndedClean, st.EndedAbrupt)
	}
	withFigure := 0
	for _, p := range rep.Pods {
		if p.DataPlaneSamples == nil || p.LateRequests == nil {
			t.Errorf("pod %s: dataPlaneSamples %v, lateRequests %v; want both reported", p.Name, p.DataPlaneSamples, p.LateRequests)
			continue
		}
		if *p.DataPlaneSamples > 0 {
			withFigure++
			if p.DataPlanePropagationSeconds == nil || *p.DataPlanePropagationSeconds < 0 || *p.DataPlanePropagationSeconds > 30 {
				t.Errorf("pod %s: %d samples, data-plane propagation %v; want a figure within the grace period", p.Name, *p.DataPlaneSamples, p.DataPlanePropagationSeconds)
			}
		}
		if p.LateRequestsFailed != 0 {
			t.Errorf("pod %s: %d of %d late requests failed, want all served (the drain delay covers them)", p.Name, p.LateRequestsFailed, *p.LateRequests)
		}
		t.Logf("pod %s: data-plane propagation %v over %d samples, %d late requests (%d failed)", p.Name, deref(p.DataPlanePropagationSeconds), *p.DataPlaneSamples, *p.LateRequests, p.LateRequestsFailed)
	}
	if withFigure == 0 {
		t.Errorf("no old pod has a data-plane sample: the figure is not measured")
	}
	dp := rep.DataPlanePropagation
	if dp == nil || dp.Samples != withFigure || (withFigure > 0 && (dp.P50 == nil || dp.P95 == nil || dp.Max == nil)) {
		t.Errorf("dataPlanePropagation %+v, want p50/p95/max over the %d pods with samples", dp, withFigure)
	} else if dp.Max != nil {
		t.Logf("data-plane propagation p50 %.3fs p95 %.3fs max %.3fs over %d pods; API-level max %v; recommendation %v from %s",
			*dp.P50, *dp.P95, *dp.Max, dp.Samples, deref(rep.Propagation.Max), deref64(rep.RecommendedGraceSeconds), rep.RecommendationPropagation)
	}
	switch rep.RecommendationPropagation {
	case "configured", "measured-api", "measured-data-plane":
	default:
		t.Errorf("recommendationPropagation %q", rep.RecommendationPropagation)
	}
}

// The naive app dies at once on SIGTERM: the probe's failures are blamed on
// its terminating pods, and its refused connections are failed late requests
// whether they came before or after the kubelet flipped its endpoint not
// serving (the CI run that failed had all 18 refusals before the flip).
func TestDataPlaneNaiveApp(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "naive", grace: 30, args: []string{"--mode=naive"}})
	ip := l.clusterIP(t, ns, "naive")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/naive", "--probe", "http://"+ip+"/", "--probe-identity-header", "X-Served-By",
		"--probe-rate=200", "--on-breach=none", "--max-unclean-exits=-1", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeDataPlane(t, r)
	if rep.Probe == nil || rep.Probe.IdentifiedRequests == 0 {
		t.Fatalf("exit %d: probe %+v, want answers carrying X-Served-By\n%s", r.code, rep.Probe, r.stdout)
	}
	blamed, lateFailed := 0, 0
	for _, p := range rep.Pods {
		blamed += p.ProbeErrors
		lateFailed += p.LateRequestsFailed
		t.Logf("pod %s (%s): %d probe errors, late requests %v (%d failed), data-plane samples %v", p.Name, p.Exit, p.ProbeErrors, derefInt(p.LateRequests), p.LateRequestsFailed, derefInt(p.DataPlaneSamples))
	}
	if blamed == 0 || lateFailed == 0 || lateFailed > blamed {
		t.Errorf("probe %d errors %v: %d attributed to the naive pods, %d failed late requests; want both, the late ones among the blamed", rep.Probe.Errors, rep.Probe.ErrorsByClass, blamed, lateFailed)
	}
	t.Logf("naive: %d probe errors blamed on its pods, %d failed late requests", blamed, lateFailed)
}

// The naive app dies with its Watch streams open: with a gRPC probe and
// --probe-streams 2, streams end abruptly (stream-abrupt probe errors), each
// blamed on the pod that served it.
func TestDataPlaneNaiveAppStreams(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "naive", grace: 30, args: []string{"--mode=naive"}})
	ip := l.clusterIP(t, ns, "naive")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "deploy/naive", "--probe", "grpc://"+ip+":9090/saferollout.drainapp.v1.DrainApp",
		"--probe-identity-header", "X-Served-By", "--probe-streams=2", "--on-breach=none", "--max-unclean-exits=-1",
		"-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeDataPlane(t, r)
	if rep.Probe == nil || rep.Probe.Streams == nil {
		t.Fatalf("exit %d: probe %+v, want streams in the report\n%s", r.code, rep.Probe, r.stdout)
	}
	st := rep.Probe.Streams
	abruptOnPods := 0
	for _, p := range rep.Pods {
		abruptOnPods += p.StreamsEndedAbrupt
		t.Logf("pod %s (%s): streams %d opened, %d clean, %d abrupt; %d probe errors", p.Name, p.Exit, p.StreamsOpened, p.StreamsEndedClean, p.StreamsEndedAbrupt, p.ProbeErrors)
	}
	if st.EndedAbrupt == 0 || abruptOnPods == 0 || rep.Probe.ErrorsByClass["stream-abrupt"] != st.EndedAbrupt {
		t.Errorf("streams %+v, errors %v, %d abrupt on the old pods; want abrupt streams, counted as stream-abrupt errors and attributed to the naive pods",
			*st, rep.Probe.ErrorsByClass, abruptOnPods)
	}
}

func deref(v *float64) any {
	if v == nil {
		return "none"
	}
	return *v
}

func deref64(v *int64) any {
	if v == nil {
		return "none"
	}
	return *v
}

func derefInt(v *int) any {
	if v == nil {
		return "none"
	}
	return *v
}

// A StatefulSet's replacement pod has the old pod's name: db-2's answers
// after the old db-2 went are the new pod's. Counted as the old one's, they
// made its data-plane propagation the rest of the rollout and its late
// requests the new pod's whole traffic (found in review); each figure must be
// the old pod's own drain.
func TestDataPlaneStatefulSetSameNames(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	l.deployStatefulSet(t, ns, app{name: "db", grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s"}})
	ip := l.clusterIP(t, ns, "db")
	l.waitAnswering(t, "http://"+ip+"/")

	r := l.run(t, "-n", ns, "restart", "sts/db", "--probe", "http://"+ip+"/", "--probe-identity-header", "X-Served-By",
		"--probe-rate=100", "-o", "json", "--progress=plain", "--timeout=4m")
	rep := decodeDataPlane(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" || rep.Probe == nil || rep.Probe.Errors != 0 {
		t.Fatalf("exit %d outcome %q probe %+v, want 0, succeeded and error-free traffic\n%s", r.code, rep.Outcome, rep.Probe, r.stdout)
	}
	if len(rep.Pods) != 3 {
		t.Fatalf("%d old pods, want db-0, db-1, db-2", len(rep.Pods))
	}
	for _, p := range rep.Pods {
		if p.LateRequests == nil || p.DataPlaneSamples == nil {
			t.Errorf("pod %s: lateRequests %v, dataPlaneSamples %v; want both reported", p.Name, p.LateRequests, p.DataPlaneSamples)
			continue
		}
		// The old pod drains for 3 s; its endpoint is routed around within ~1 s.
		// Its successor serves until the rollout ends, tens of seconds later.
		if f := p.DataPlanePropagationSeconds; f != nil && *f > 5 {
			t.Errorf("pod %s: data-plane propagation %.3fs over %d samples, want the old pod's own (< 5s), not its successor's traffic", p.Name, *f, *p.DataPlaneSamples)
		}
		t.Logf("pod %s: data-plane propagation %v over %d samples, %d late requests (%d failed)", p.Name, deref(p.DataPlanePropagationSeconds), *p.DataPlaneSamples, *p.LateRequests, p.LateRequestsFailed)
	}
}
