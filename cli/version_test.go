package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestBuildInfoResolved(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "f38a04b3ccfeb9fdc3f1be95c27b47e0f30992a1"}, {Key: "vcs.time", Value: "2026-12-01T12:58:04Z"}}
	tests := []struct {
		name  string
		build BuildInfo
		info  *debug.BuildInfo
		want  BuildInfo
	}{
		{"release build: the linker's values win",
			BuildInfo{Version: "0.3.1", Commit: "abc1234", Date: "2026-11-30T10:00:00Z"},
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201125804-f38a04b3ccfe"}, Settings: vcs},
			BuildInfo{Version: "0.3.1", Commit: "abc1234", Date: "2026-11-30T10:00:00Z"}},
		{"go install …@v0.3.1: the module version",
			BuildInfo{},
			&debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}},
			BuildInfo{Version: "v0.3.1"}},
		{"a local go build: the pseudo-version and the checkout's commit",
			BuildInfo{},
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201125804-f38a04b3ccfe+dirty"}, Settings: vcs},
			BuildInfo{Version: "v0.0.0-20261201125804-f38a04b3ccfe+dirty", Commit: "f38a04b3ccfe", Date: "2026-12-01T12:58:04Z"}},
		{"placeholders of make build without git are not versions",
			BuildInfo{Version: "dev", Commit: "unknown", Date: ""},
			&debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}, Settings: vcs},
			BuildInfo{Version: "v0.3.1", Commit: "f38a04b3ccfe", Date: "2026-12-01T12:58:04Z"}},
		{"(devel) says nothing",
			BuildInfo{},
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			BuildInfo{}},
		{"no build info",
			BuildInfo{Version: "unknown"}, nil, BuildInfo{Version: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.build.resolved(tt.info, tt.info != nil); got != tt.want {
				t.Errorf("resolved = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func runVersion(t *testing.T, build BuildInfo, args ...string) cmdResult {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams, build)
	root.SetArgs(append([]string{"version"}, args...))
	code := Execute(root, streams)
	return cmdResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestVersionJSON(t *testing.T) {
	r := runVersion(t, BuildInfo{Version: "v0.3.1", Commit: "abc1234", Date: "2026-11-30T10:00:00Z"}, "-o", "json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a JSON object of strings: %v\n%s", err, r.stdout)
	}
	want := map[string]string{"version": "v0.3.1", "commit": "abc1234", "date": "2026-11-30T10:00:00Z",
		"goVersion": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if r := runVersion(t, BuildInfo{}, "-o", "wide"); r.code != ExitError || r.stderr != "error: --output must be 'yaml' or 'json'\n" {
		t.Errorf("version -o wide: exit %d, stderr %q; want kubectl version's one line", r.code, r.stderr)
	}
}

// API requests carry the plugin's name, version and platform, in kubectl's form.
func TestUserAgent(t *testing.T) {
	var mu sync.Mutex
	var agents []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer server.Close()
	streams := genericiooptions.NewTestIOStreamsDiscard()
	root := NewRootCmd(streams, BuildInfo{Version: "v0.3.1", Commit: "abc1234"})
	root.SetArgs([]string{"preflight", "deploy/web", "--kubeconfig", writeKubeconfig(t, server.URL, nil), "--cache-dir", t.TempDir()})
	Execute(root, streams)
	mu.Lock()
	defer mu.Unlock()
	if len(agents) == 0 {
		t.Fatal("no request reached the server")
	}
	want := "kubectl-safe_rollout/v0.3.1 (" + runtime.GOOS + "/" + runtime.GOARCH + ") safe-rollout/abc1234"
	for _, a := range agents {
		if a != want {
			t.Errorf("User-Agent %q, want %q", a, want)
		}
	}
}
