#!/usr/bin/env bash
# make test. On 2 cores a cold run is compile-bound, with waits between the compiles:
# - the unit tests run while, niced, Chromium (for the HTML report's browser check) and the
#   lab's packages download (apt, one after the other: dpkg takes one install at a time) and
#   the lab builds (make lab-prepare): apt is network-bound and the compiles take only CPU
#   the unit tests leave idle;
# - then the end-to-end suite, with the checks that need no cluster beside it
#   (scripts/e2e-and-checks.sh).
# A unit test failure stops the run, as before.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -t safe-rollout-prepare.XXXXXX)
set -m # the preparation gets its own process group, so a failure or an interrupt stops all of it
nice -n 10 bash -c 'scripts/browser.sh && make --no-print-directory lab-prepare' >"$log" 2>&1 &
prepare=$!
set +m
trap 'kill -- -"$prepare" 2>/dev/null || true; rm -f "$log"' EXIT
make --no-print-directory unit
prepare_rc=0
wait "$prepare" || prepare_rc=$?
echo "--- scripts/browser.sh, make lab-prepare (run beside the unit tests): exit $prepare_rc ---"
cat "$log"
[ "$prepare_rc" = 0 ] || { echo "make test: scripts/browser.sh or make lab-prepare failed (exit $prepare_rc)" >&2; exit "$prepare_rc"; }
scripts/e2e-and-checks.sh
