#!/usr/bin/env bash
# The Go benchmarks (issue 12): every package of the module with a Benchmark function, run once
# with -benchmem. Prints the machine, then one `name: value unit` line per figure:
#   go.machine: linux/amd64 <cpu model from go test's cpu: line>
#   go.<package>.<Benchmark[/sub]>: <value> <unit>     (ns/op, B/op, allocs/op, custom metrics)
# The raw go test output goes to RAW_FILE (default: a temporary file, named on stderr).
#   scripts/bench-go.sh [RAW_FILE]
#   BENCHTIME=1s BENCH=Apply scripts/bench-go.sh    (defaults: 200ms, every benchmark)
# With the default BENCHTIME the whole run (build included) takes about a minute on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCHTIME=${BENCHTIME:-200ms}
BENCH=${BENCH:-.}

raw=${1:-}
if [ -z "$raw" ]; then
  raw=$(mktemp "${TMPDIR:-/tmp}/bench-go.XXXXXX")
  echo "bench-go: raw output in $raw" >&2
elif [[ $raw != /* ]]; then
  raw=$PWD/$raw
fi
cd "$ROOT"

# The procs go test runs benchmarks with, given explicitly: the -N it appends to every name
# (none for 1) is then known and taken off.
procs=${BENCH_CPU:-$(nproc)}

pkgs=()
while IFS=$'\t' read -r pkg dir; do
  if grep -qs '^func Benchmark' "$dir"/*_test.go; then pkgs+=("$pkg"); fi
done < <(go list -f $'{{.ImportPath}}\t{{.Dir}}' ./...)
[ ${#pkgs[@]} -gt 0 ] || { echo "bench-go: no package has a benchmark" >&2; exit 1; }

if ! go test -run '^$' -bench "$BENCH" -benchmem -count 1 -benchtime "$BENCHTIME" -cpu "$procs" "${pkgs[@]}" >"$raw" 2>&1; then
  echo "bench-go: go test failed (raw output in $raw):" >&2
  grep -E -- '^(--- FAIL|FAIL|panic:|.*_test\.go:[0-9]+:)' "$raw" >&2 || tail -n 30 "$raw" >&2
  exit 1
fi

awk -v procs="$procs" '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
  function machineLine(cpu) { printf "go.machine: %s/%s %s\n", goos, goarch, cpu; machine = 1 }
  # A result line: NAME ITERATIONS (VALUE UNIT)...; go test may print the name alone on one
  # line (when the benchmark logged) and the figures on the next.
  function figures(name, first,    i) {
    if (!machine) machineLine("unknown cpu") # no cpu: line on this platform
    if (procs != 1) sub("-" procs "$", "", name)
    for (i = first; i + 1 <= NF; i += 2) printf "go.%s.%s: %s %s\n", short, name, $i, $(i + 1)
  }
  /^goos: /   { goos = $2 }
  /^goarch: / { goarch = $2 }
  /^cpu: /    { if (!machine) { sub(/^cpu: /, ""); machineLine(trim($0)) } }
  /^pkg: /    { n = split($2, parts, "/"); short = parts[n] }
  /^Benchmark[^ \t]*$/ { pending = $1; next }
  /^Benchmark/ && $2 ~ /^[0-9]+$/ { figures($1, 3); pending = ""; next }
  pending != "" && $1 ~ /^[0-9]+$/ && NF >= 3 { figures(pending, 2); pending = ""; next }
' "$raw"
