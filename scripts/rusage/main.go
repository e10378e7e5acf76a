//go:build unix

// Command rusage runs a command, its output discarded, and prints its wall time,
// CPU time (user + system) and peak resident set size, read from wait4: no GNU
// time needed. It exits with the command's exit code.
//
// usage: go run ./scripts/rusage COMMAND [ARG...]
// output (stdout): wall=0.421 cpu=0.610 maxrss_kib=38912
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rusage COMMAND [ARG...]")
		os.Exit(1)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr // stdout: discarded, as a pipe reader would
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(1)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "rusage: no resource usage on", runtime.GOOS)
		os.Exit(1)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	maxrssKiB := int64(ru.Maxrss)
	if runtime.GOOS == "darwin" {
		maxrssKiB /= 1024 // bytes there, KiB on Linux
	}
	fmt.Printf("wall=%.3f cpu=%.3f maxrss_kib=%d\n", wall.Seconds(), cpu.Seconds(), maxrssKiB)
	os.Exit(cmd.ProcessState.ExitCode())
}
