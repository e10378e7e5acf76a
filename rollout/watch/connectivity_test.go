package watch

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/shop/pods":                             "pods",
		"/api/v1/namespaces/shop/pods/web-1/status":                "pods",
		"/apis/apps/v1/namespaces/shop/deployments/web":            "deployments",
		"/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices": "endpointslices",
		"/api/v1/namespaces":                                       "namespaces",
		"/api/v1/namespaces/shop":                                  "namespaces",
		"/apis/apps/v1":                                            "",
		"/version":                                                 "",
	} {
		if got := resourceOf(path); got != want {
			t.Errorf("resourceOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// Only changes are reported: the first failure and the first success after it.
func TestConnectivityReportsChanges(t *testing.T) {
	refused := errors.New("connection refused")
	var fail error
	code := http.StatusOK
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
		if fail != nil {
			return nil, fail
		}
		return &http.Response{StatusCode: code, Body: http.NoBody}, nil
	})
	c := NewConnectivity()
	wrapped := c.Wrap(rt)
	get := func(path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if resp, err := wrapped.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	pods := "/api/v1/namespaces/shop/pods"
	get(pods) // healthy: nothing to say
	fail = refused
	get(pods)
	get(pods) // still failing: said once
	fail, code = nil, http.StatusServiceUnavailable
	get(pods) // a 503 is a failure too, the gap goes on
	code = http.StatusOK
	get(pods)
	get(pods)

	var got []string
	for len(c.Changes()) > 0 {
		e := <-c.Changes()
		s := e.Resource + " ok"
		if e.Err != nil {
			s = e.Resource + " failing: " + e.Err.Error()
		}
		got = append(got, s)
	}
	want := []string{"pods failing: connection refused", "pods ok"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("changes = %q, want %q", got, want)
	}
}
