package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the real program: TestSignals re-runs
// it with DRAIN_APP_MAIN=1, so that real signals meet the real main.
func TestMain(m *testing.M) {
	if os.Getenv("DRAIN_APP_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSignals sends a real SIGTERM to the real program in each mode, also as
// PID 1 of a new PID namespace (as in a container) where that is permitted.
func TestSignals(t *testing.T) {
	tests := []struct {
		mode     string
		extra    []string
		pid1     bool
		survives bool   // still running 500ms after SIGTERM (then SIGKILLed)
		want     string // how the process ended
	}{
		{mode: ModeContract, want: "exit status 0"},
		{mode: ModeContract, pid1: true, want: "exit status 0"},
		{mode: ModeContract, extra: []string{"--exit-code=143"}, want: "exit status 143"}, // a JVM's graceful exit
		{mode: ModeNaive, want: "signal: terminated"},                                     // a shell shows 143
		{mode: ModeNaive, pid1: true, want: "exit status 2"},
		{mode: ModeIgnoreSIGTERM, survives: true, want: "signal: killed"}, // 137
		{mode: ModeIgnoreSIGTERM, pid1: true, survives: true, want: "signal: killed"},
	}
	for _, tt := range tests {
		name := tt.mode
		if tt.pid1 {
			name += "/pid1"
		}
		if len(tt.extra) > 0 {
			name += "/" + strings.Join(tt.extra, ",")
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			cmd := exec.Command(os.Args[0], append([]string{"--mode=" + tt.mode, "--drain-delay=300ms",
				"--http-addr=127.0.0.1:0", "--grpc-addr=127.0.0.1:0"}, tt.extra...)...)
			cmd.Env = append(os.Environ(), "DRAIN_APP_MAIN=1")
			cmd.Stdout, cmd.Stderr = out, out
			if tt.pid1 {
				cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
			}
			if err := cmd.Start(); err != nil {
				if tt.pid1 && errors.Is(err, syscall.EPERM) {
					t.Skip("no permission for a new PID namespace:", err)
				}
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Kill()
				if t.Failed() {
					t.Logf("output:\n%s", out.String())
				}
			}()

			addr := waitForStart(t, out, exited)
			ready := func() int {
				resp, err := http.Get("http://" + addr + "/health/ready")
				if err != nil {
					return 0
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := ready(); code != 200 {
				t.Fatalf("ready = %d before SIGTERM", code)
			}

			start := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if tt.survives {
				select {
				case err := <-exited:
					t.Fatalf("exited on SIGTERM (%v), want it to ignore SIGTERM", err)
				case <-time.After(500 * time.Millisecond):
				}
				if code := ready(); code != 200 {
					t.Errorf("ready = %d after SIGTERM, want 200", code)
				}
				cmd.Process.Kill()
			}

			var err error
			select {
			case err = <-exited:
			case <-time.After(10 * time.Second):
				t.Fatal("still running 10s after SIGTERM")
			}
			if got := exitString(err); got != tt.want {
				t.Errorf("ended with %q, want %q", got, tt.want)
			}
			if tt.mode == ModeContract {
				if took := time.Since(start); took < 300*time.Millisecond {
					t.Errorf("exited %v after SIGTERM, before the 300ms drain delay", took)
				}
				code := strings.TrimPrefix(tt.want, "exit status ")
				for _, want := range []string{"by=SIGTERM", "shutdown complete", "msg=exit code=" + code} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("output lacks %q", want)
					}
				}
			}
		})
	}
}

var httpAddrRE = regexp.MustCompile(`msg=started .*http=(\S+)`)

// waitForStart waits for the "started" log line and returns the HTTP address.
func waitForStart(t *testing.T, out *syncBuffer, exited chan error) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if m := httpAddrRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-exited:
			t.Fatalf("exited before starting: %v", err)
		case <-deadline:
			t.Fatal("no start line after 10s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func exitString(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.Error() // "exit status N" or "signal: NAME"
	default:
		return fmt.Sprint(err)
	}
}
