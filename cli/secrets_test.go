package cli

import (
	"strings"
	"testing"
)

// A bearer token given on the command line never appears in any output: not in
// reports, progress, warnings or errors, whether the cluster answers or not.
func TestTokenNeverPrinted(t *testing.T) {
	const token = "s3cr3t-b34rer-t0ken-do-not-print"
	live := newLabServer(t)
	for _, args := range [][]string{
		{"preflight", "deploy/web", "--kubeconfig", live.Kubeconfig},
		{"preflight", "deploy/web", "-o", "json", "--kubeconfig", live.Kubeconfig},
		{"preflight", "deploy/web"}, // nothing listens: a connection error
		{"restart", "deploy/web", "--progress=plain"},
		{"watch", "deploy/web", "--progress=plain"},
		{"restart", "deploy/web", "--dry-run=server", "--kubeconfig", live.Kubeconfig},
	} {
		r := runCmd(t, append(args, "--token", token)...)
		if strings.Contains(r.stdout+r.stderr, token) || strings.Contains(r.stdout+r.stderr, token[:12]) {
			t.Errorf("%q printed the token:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
		}
	}
}
