#!/usr/bin/env bash
# make test. On 2 cores a cold run is bound by its compiles (Kubernetes for the lab, the
# plugin's dependencies, their -race build, GoReleaser), while the end-to-end suite mostly
# waits on grace periods and drains. So:
# 1. what the suite needs, at full priority: Chromium and the lab's packages (apt, one after
#    the other: dpkg takes one install at a time), the lab's build (make lab-prepare) and,
#    beside them, the plugin (make build), whose compile fills the CPU the downloads leave;
# 2. the suite on the lab with, beside it at the lowest CPU priority, everything that needs
#    no cluster: vet and the unit tests (-race), a short fuzz run and the release files'
#    checks (scripts/e2e-and-checks.sh).
# The suite, the lab's image and make build share one build configuration (CGO_ENABLED=0,
# -trimpath, as the release is built): one compile of client-go serves them all.
# GoReleaser's own compile (the release checks' tool) starts at once, niced: it takes the CPU
# the downloads and links leave idle; release-check waits for it (a lock in release.mk).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -t safe-rollout-build.XXXXXX)
tool_log=$(mktemp -t safe-rollout-goreleaser.XXXXXX)
set -m # each gets its own process group, so a failure or an interrupt stops all of it
make --no-print-directory build >"$log" 2>&1 &
build=$!
nice -n 19 make --no-print-directory goreleaser-tool >"$tool_log" 2>&1 &
tool=$!
set +m
trap 'kill -- -"$build" -"$tool" 2>/dev/null || true; rm -f "$log" "$tool_log"' EXIT
prepare_rc=0
{ scripts/browser.sh && make --no-print-directory lab-prepare; } || prepare_rc=$?
build_rc=0
wait "$build" || build_rc=$?
echo "--- make build (run beside scripts/browser.sh and make lab-prepare): exit $build_rc ---"
cat "$log"
[ "$prepare_rc" = 0 ] || { echo "make test: scripts/browser.sh or make lab-prepare failed (exit $prepare_rc)" >&2; exit "$prepare_rc"; }
[ "$build_rc" = 0 ] || { echo "make test: make build failed (exit $build_rc)" >&2; exit "$build_rc"; }
scripts/e2e-and-checks.sh # on failure the trap stops the install if it still runs
tool_rc=0
wait "$tool" || tool_rc=$? # done: release-check waited for it
# A failed install was tried again by release-check, which succeeded.
echo "--- GoReleaser's install (started with the lab's preparation): exit $tool_rc ---"
cat "$tool_log"
