package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/spf13/cobra"
)

// addDebugFlag adds the hidden --debug-addr: Go's pprof endpoints on a loopback
// address, for measuring a long-running guard (make soak reads its goroutine
// count and heap from there).
func addDebugFlag(root *cobra.Command) {
	var addr string
	root.PersistentFlags().StringVar(&addr, "debug-addr", "", "Serve Go's pprof endpoints on this loopback address (host:port)")
	_ = root.PersistentFlags().MarkHidden("debug-addr")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if addr == "" {
			return nil
		}
		return serveDebug(addr)
	}
}

// serveDebug listens on a loopback address only: pprof must never be exposed.
func serveDebug(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--debug-addr %q: use a loopback address such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }() // lives as long as the process
	return nil
}
