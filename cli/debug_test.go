package cli

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeDebugLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.0.0.1:6060", "localhost-ish", ":6060"} {
		if err := serveDebug(addr); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("serveDebug(%q) = %v, want one line refusing it", addr, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := serveDebug(addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Errorf("goroutine profile = %.80q", body)
	}
}
