#!/usr/bin/env bash
# make test's second half: the end-to-end suite on the lab and, beside it at the lowest CPU
# priority, everything that needs no cluster: vet and the unit tests (make unit, -race), a
# short fuzz run (fuzz-short) and the release files' checks (release-check, manifest-test).
# The suite mostly waits on grace periods and drains; on 2 cores those compiles (the -race
# build of client-go, GoReleaser's, the instrumented fuzz binaries) fit in that idle CPU
# instead of adding their ~20 minutes to a cold run. Niced, they never take CPU the lab asks
# for, and the unit tests run on fake clocks: being slowed does not change their outcome.
# Their output is printed after the suite's, in one piece. A failure of either fails make test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -t safe-rollout-checks.XXXXXX)
set -m # the checks get their own process group, so an interrupt stops all of them
nice -n 19 make --no-print-directory unit fuzz-short release-check manifest-test >"$log" 2>&1 &
checks=$!
set +m
trap 'kill -- -"$checks" 2>/dev/null || true; rm -f "$log"' EXIT
e2e_rc=0
make --no-print-directory e2e || e2e_rc=$?
checks_rc=0
wait "$checks" || checks_rc=$?
echo "--- unit, fuzz-short, release-check, manifest-test (run beside the e2e suite): exit $checks_rc ---"
cat "$log"
[ "$e2e_rc" = 0 ] || echo "make test: the e2e suite failed (exit $e2e_rc)" >&2
[ "$checks_rc" = 0 ] || echo "make test: unit, fuzz-short, release-check or manifest-test failed (exit $checks_rc)" >&2
[ "$e2e_rc" = 0 ] && [ "$checks_rc" = 0 ]
