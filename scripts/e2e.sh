#!/usr/bin/env bash
# End-to-end suite on the lab. Brings the lab up when it is not running and, in
# that case, takes it down again afterwards: the lab is left as it was found.
set -euo pipefail
cd "$(dirname "$0")/.."
started=0
if ! lab/status.sh "$PWD/.lab" >/dev/null 2>&1; then
  make --no-print-directory lab-up
  started=1
fi
cleanup() { [ "$started" = 1 ] && make --no-print-directory lab-down || true; }
trap cleanup EXIT
# the image must be the one built from the current sources (lab-up imports it when changed)
[ "$started" = 1 ] || make --no-print-directory lab-up >/dev/null
# CGO_ENABLED=0 -trimpath: make build's configuration, so the suite reuses its compile
CGO_ENABLED=0 go test -trimpath -tags e2e -count=1 -timeout 30m -parallel 6 -v ./test/e2e/ 2>&1 | tee .lab/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' || true
grep -qE '^(FAIL|panic)' .lab/e2e.log && exit 1
grep -q '^ok' .lab/e2e.log
