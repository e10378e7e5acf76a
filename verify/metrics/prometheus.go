// Package metrics evaluates an external signal during a rollout: an instant
// query against a Prometheus HTTP API. (Prometheus' own client, client_golang/api,
// was tried: it accepts a sample without a value as 0 and turns bad answers into
// long decoder traces, so the few lines below stay.)
package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PrometheusQuery evaluates an instant query against a Prometheus HTTP API.
type PrometheusQuery struct {
	URL    string
	Query  string
	Client *http.Client
}

// Value runs the query and returns the largest sample of the result (a vector's
// series or a scalar); an empty result is 0.
func (q PrometheusQuery) Value(ctx context.Context) (float64, error) {
	u, err := url.Parse(strings.TrimSuffix(q.URL, "/") + "/api/v1/query")
	if err != nil {
		return 0, fmt.Errorf("--prometheus-url: %w", err)
	}
	u.RawQuery = url.Values{"query": {q.Query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	client := q.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("prometheus query: decoding answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("prometheus query failed: %s", body.Error)
	}
	switch body.Data.ResultType {
	case "scalar":
		var sample []any
		if err := json.Unmarshal(body.Data.Result, &sample); err != nil {
			return 0, fmt.Errorf("prometheus scalar: %w", err)
		}
		return sampleValue(sample)
	case "vector":
		var series []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &series); err != nil {
			return 0, fmt.Errorf("prometheus vector: %w", err)
		}
		worst := 0.0
		for i, s := range series {
			v, err := sampleValue(s.Value)
			if err != nil {
				return 0, err
			}
			if i == 0 || v > worst {
				worst = v
			}
		}
		return worst, nil
	}
	return 0, fmt.Errorf("prometheus query: unsupported result type %q (use an instant vector or scalar)", body.Data.ResultType)
}

func sampleValue(sample []any) (float64, error) {
	if len(sample) != 2 {
		return 0, fmt.Errorf("prometheus sample %v: want [time, value]", sample)
	}
	s, ok := sample[1].(string)
	if !ok {
		return 0, fmt.Errorf("prometheus sample value %v is not a string", sample[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("prometheus sample value %q is not a number", s)
	}
	return v, nil
}
