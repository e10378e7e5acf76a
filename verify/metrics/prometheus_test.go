package metrics

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// promServer answers /api/v1/query with a canned body per query.
type promServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	paths   []string
}

func newPromServer(t *testing.T, answers map[string]struct {
	code int
	body string
}) *promServer {
	t.Helper()
	s := &promServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		s.mu.Lock()
		s.queries = append(s.queries, q)
		s.paths = append(s.paths, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		a, ok := answers[q]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"unexpected query in test"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestPrometheusQueryValue(t *testing.T) {
	type answer = struct {
		code int
		body string
	}
	vector := func(values ...string) string {
		var series []string
		for i, v := range values {
			series = append(series, `{"metric":{"pod":"web-`+string(rune('a'+i))+`"},"value":[1717243200.123,"`+v+`"]}`)
		}
		return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}}`
	}
	tests := []struct {
		name    string
		query   string
		answer  answer
		want    float64
		wantErr string
	}{
		{"vector: the largest series", `sum by (pod) (rate(http_requests_total{code=~"5.."}[1m]))`, answer{200, vector("0.5", "3.25", "1")}, 3.25, ""},
		{"vector: largest of negatives", "neg", answer{200, vector("-5", "-2", "-7")}, -2, ""},
		{"vector: one series", "one", answer{200, vector("42")}, 42, ""},
		{"vector: +Inf is a number", "inf", answer{200, vector("1", "+Inf")}, math.Inf(1), ""},
		{"scalar", "scalar(1)", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200.5,"0.125"]}}`}, 0.125, ""},
		{"empty vector is 0", "absent", answer{200, `{"status":"success","data":{"resultType":"vector","result":[]}}`}, 0, ""},
		{"status error", "bad(", answer{400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`}, 0, "prometheus query failed: 1:5: parse error: unclosed left parenthesis"},
		{"status error with HTTP 200", "weird", answer{200, `{"status":"error","error":"query timed out"}`}, 0, "query timed out"},
		{"bad JSON", "html", answer{502, `<html>Bad Gateway</html>`}, 0, "decoding answer (HTTP 502)"},
		{"truncated JSON", "cut", answer{200, `{"status":"success","data":{"resultType":"vec`}, 0, "decoding answer (HTTP 200)"},
		{"NaN in a vector", "nan", answer{200, vector("1", "NaN")}, 0, `"NaN" is not a number`},
		{"NaN scalar", "nanscalar", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200,"NaN"]}}`}, 0, "not a number"},
		{"garbage value", "garbage", answer{200, vector("twelve")}, 0, `"twelve" is not a number`},
		{"value not a string", "num", answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1717243200,3]}}`}, 0, "is not a string"},
		{"sample without a value", "short", answer{200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1717243200]}]}}`}, 0, "want [time, value]"},
		{"matrix unsupported", "up[5m]", answer{200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1717243200,"1"]]}]}}`}, 0, `unsupported result type "matrix"`},
		{"string unsupported", `"hi"`, answer{200, `{"status":"success","data":{"resultType":"string","result":[1717243200,"hi"]}}`}, 0, `unsupported result type "string"`},
		{"vector result not a list", "obj", answer{200, `{"status":"success","data":{"resultType":"vector","result":{"a":1}}}`}, 0, "prometheus vector"},
	}
	answers := map[string]answer{}
	for _, tc := range tests {
		answers[tc.query] = tc.answer
	}
	s := newPromServer(t, answers)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PrometheusQuery{URL: s.URL, Query: tc.query, Client: s.Client()}.Value(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Value = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if got != 0 {
					t.Errorf("Value returned %v with its error, want 0", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Value = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPrometheusQueryRequest(t *testing.T) {
	q := `histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="web"}[1m]))) > 0.5 & on() vector(1)`
	s := newPromServer(t, map[string]struct {
		code int
		body string
	}{q: {200, `{"status":"success","data":{"resultType":"vector","result":[]}}`}})
	// A base URL with a path prefix and a trailing slash (Prometheus behind a proxy).
	for _, base := range []string{s.URL, s.URL + "/", s.URL + "/prom/"} {
		if _, err := (PrometheusQuery{URL: base, Query: q}).Value(context.Background()); err != nil {
			t.Errorf("Value with URL %q: %v", base, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := []string{"GET /api/v1/query", "GET /api/v1/query", "GET /prom/api/v1/query"}
	if strings.Join(s.paths, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %q, want %q", s.paths, want)
	}
	for i, got := range s.queries {
		if got != q {
			t.Errorf("request %d: query = %q, want %q (URL-encoded as is)", i, got, q)
		}
	}
}

func TestPrometheusQueryTransportErrors(t *testing.T) {
	if _, err := (PrometheusQuery{URL: "http://" + closedPort(t), Query: "up"}).Value(context.Background()); err == nil || !strings.Contains(err.Error(), "prometheus query:") {
		t.Errorf("closed port: %v, want a prometheus query error", err)
	}
	if _, err := (PrometheusQuery{URL: "http://bad host", Query: "up"}).Value(context.Background()); err == nil {
		t.Error("unparsable URL: no error")
	}
	s := blockingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (PrometheusQuery{URL: s.URL, Query: "up"}).Value(ctx); err == nil {
		t.Error("cancelled context: no error")
	}
}
