package watch

import (
	"net/http"
	"strings"
	"sync"
)

// Connectivity watches the client's requests to the API server: the first
// failure of a resource's requests (refused, reset, 5xx) and the first success
// after it. client-go's reflectors retry a refused watch on their own, without
// telling their error handler, so this is how the guard learns that its watch
// of a resource had a gap, and when it ended.
type Connectivity struct {
	changes chan Error
	mu      sync.Mutex
	failing map[string]bool
}

// NewConnectivity returns a Connectivity to wrap a client's transport with.
func NewConnectivity() *Connectivity {
	return &Connectivity{changes: make(chan Error, 64), failing: map[string]bool{}}
}

// Changes delivers a resource's first failed request (Err set) and the first
// successful one after it (Err nil).
func (c *Connectivity) Changes() <-chan Error { return c.changes }

// Wrap instruments rt (rest.Config.Wrap).
func (c *Connectivity) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		resource := resourceOf(req.URL.Path)
		switch {
		case resource == "":
		case err != nil:
			c.note(resource, err)
		case resp.StatusCode >= http.StatusInternalServerError:
			c.note(resource, &statusError{resp.Status})
		default:
			c.note(resource, nil)
		}
		return resp, err
	})
}

func (c *Connectivity) note(resource string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing[resource] == (err != nil) {
		return
	}
	c.failing[resource] = err != nil
	select {
	case c.changes <- Error{Resource: resource, Err: err}:
	default: // a reader that fell behind misses a flap, never blocks a request
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

type statusError struct{ status string }

func (e *statusError) Error() string { return "API server answered " + e.status }

// resourceOf reads the resource from an API path:
// /api/v1[/namespaces/NS]/RESOURCE[/NAME...] or /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[...].
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return ""
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		return rest[2]
	}
	return rest[0]
}
