package traffic

import (
	"strings"
	"testing"
)

// FuzzParseTarget: no --probe value makes the parser panic; a rejection is one
// line quoting the value, and an accepted target is one the prober can dial.
func FuzzParseTarget(f *testing.F) {
	// Targets from the README, the e2e suite and the flag tests, and near misses.
	for _, seed := range []string{
		"http://web.shop.svc:80/", "http://127.0.0.1:1/healthz", "https://127.0.0.1:2/", "grpc://127.0.0.1:3/web.Shop",
		"grpc://10.96.0.10:9090", "http://10.96.0.10/", "http://[::1]:8080/ready", "ftp://10.0.0.1/", "grpc://10.0.0.1",
		"web:8080", "10.0.0.2", "http://", "http://prom:port", "http://a b/", "grpc://h:99999", "http://%zz/", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseTarget(raw)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "--probe ") {
				t.Errorf("parseTarget(%q): error %q is not one line about --probe", raw, msg)
			}
			return
		}
		switch {
		case u.Host == "":
			t.Errorf("parseTarget(%q) accepted a target without a host", raw)
		case u.Scheme != httpScheme && u.Scheme != httpsScheme && u.Scheme != grpcScheme:
			t.Errorf("parseTarget(%q) accepted scheme %q", raw, u.Scheme)
		case u.Scheme == grpcScheme && u.Port() == "":
			t.Errorf("parseTarget(%q) accepted a gRPC target without a port", raw)
		}
	})
}
