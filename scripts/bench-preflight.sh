#!/usr/bin/env bash
# `preflight --local -f` on generated manifests (issue #12): wall time, CPU time
# (user + system) and peak RSS for 1,000 and 10,000 Deployments, as one file per app
# and as one multi-document file, and for a ~50 MB multi-document file, in each
# output format. One line per figure:
#   preflight.files-1000.text.wall: 0.42 s
#   preflight.files-1000.text.cpu: 0.61 s
#   preflight.files-1000.text.peak_rss: 38.1 MiB
# Exit 0 and 2 (findings) of preflight are both fine; anything else fails the script.
# usage: scripts/bench-preflight.sh
#   BENCH_INPUTS="files-1000 file-1000"  only these inputs (files-1000 file-1000
#                                        files-10000 file-10000 file-50mb)
#   BENCH_FORMATS="text json"            only these formats (text json yaml)
set -euo pipefail
cd "$(dirname "$0")/.."

inputs=(${BENCH_INPUTS:-files-1000 file-1000 files-10000 file-10000 file-50mb})
formats=(${BENCH_FORMATS:-text json yaml})

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CGO_ENABLED=0 go build -o "$tmp/kubectl-safe_rollout" ./cmd/kubectl-safe-rollout
go build -o "$tmp/genmanifests" ./scripts/genmanifests
go build -o "$tmp/rusage" ./scripts/rusage

# The apps of the ~50 MB file: about 3.1 documents and 3 KB per app.
apps_50mb=16800

generate() { # input path
  case $1 in
    files-*) "$tmp/genmanifests" -apps "${1#files-}" -dir "$2" ;;
    file-50mb) "$tmp/genmanifests" -apps "$apps_50mb" -file "$2" ;;
    file-*) "$tmp/genmanifests" -apps "${1#file-}" -file "$2" ;;
    *) echo "unknown input $1" >&2; return 1 ;;
  esac
}

describe() { # path
  local docs bytes
  if [ -d "$1" ]; then
    docs=$(cat "$1"/*.yaml | grep -c '^kind: ')
    bytes=$(cat "$1"/*.yaml | wc -c)
  else
    docs=$(grep -c '^kind: ' "$1")
    bytes=$(wc -c <"$1")
  fi
  awk -v d="$docs" -v b="$bytes" 'BEGIN { printf "%d documents, %.1f MB", d, b / 1e6 }'
}

for input in "${inputs[@]}"; do
  path=$tmp/$input
  [ "${input%%-*}" = file ] && path=$path.yaml
  generate "$input" "$path"
  echo "# $input: $(describe "$path")"
  for format in "${formats[@]}"; do
    args=(preflight --local -f "$path")
    [ "$format" = text ] || args+=(-o "$format")
    code=0
    figures=$("$tmp/rusage" "$tmp/kubectl-safe_rollout" "${args[@]}") || code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
      echo "preflight ${args[*]} exited $code" >&2
      exit 1
    fi
    # figures: wall=0.421 cpu=0.610 maxrss_kib=38912
    awk -v p="preflight.$input.$format" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "%s.wall: %.2f s\n%s.cpu: %.2f s\n%s.peak_rss: %.1f MiB\n", p, f["wall"], p, f["cpu"], p, f["maxrss_kib"] / 1024
    }' <<<"$figures"
  done
  rm -rf "$path"
done
