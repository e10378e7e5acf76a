#!/bin/bash
# make bench: the plugin measured on the lab, beside the alternatives. Prints one
# `name: value unit` line per figure and rewrites the generated part of docs/performance.md.
#   make lab-up && make bench        (about 15 minutes on 2 cores; the lab stays up)
# Parts: start-up, detection-to-pause latency (kwok and the real kubelet), API requests by
# client (the API server's audit log), a 500-replica rollout on kwok's simulated nodes,
# preflight over 1,000 to 21,000 generated Deployments, and the Go benchmarks.
#   BENCH_PARTS="startup latency apicost scale preflight go" (default: all)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
LAB=$ROOT/.lab
PARTS=${BENCH_PARTS:-startup latency apicost scale preflight go}
OUT=$LAB/bench; mkdir -p "$OUT"
FIGURES=$OUT/figures.txt; : > "$FIGURES"
lab/status.sh "$LAB" >/dev/null 2>&1 || { echo "bench: the lab is not up (make lab-up first)" >&2; exit 1; }
[ -f "$LAB/logs/audit.log" ] || { echo "bench: the lab's API server keeps no audit log: it was started by an older lab/up.sh (make lab-down lab-up)" >&2; exit 1; }
started=$(date +%s)
make -s --no-print-directory build
# figures go to stdout and to the figures file; progress to stderr
record() { tee -a "$FIGURES"; }

cluster_parts=$(for p in $PARTS; do case $p in startup|latency|apicost|scale) echo -n "$p,";; esac; done)
if [ -n "$cluster_parts" ]; then
  if [[ $cluster_parts == *latency* || $cluster_parts == *apicost* || $cluster_parts == *scale* ]]; then
    lab/kwok.sh "$LAB" up 8 >&2
    trap 'lab/kwok.sh "$LAB" down >&2' EXIT
  fi
  go run ./test/bench -plugin bin/kubectl-safe_rollout -lab "$LAB" -parts "${cluster_parts%,}" | record
  if [[ $cluster_parts == *scale* ]]; then
    # teardown check: no pod left on a fake node, no fake node left
    lab/kwok.sh "$LAB" down >&2; trap - EXIT
    K() { "$LAB/bin/kubectl" --kubeconfig "$LAB/kubeconfig" "$@"; }
    echo "scale.teardown.pods_left_on_fake_nodes: $(K get pods -A -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c '^kwok-node-' || true) pods" | record
    echo "scale.teardown.terminating_pods_left: $(K get pods -A -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true) pods" | record
    echo "scale.teardown.fake_nodes_left: $(K get nodes -l type=kwok -o name | grep -c . || true) nodes" | record
  fi
fi
for p in $PARTS; do
  case $p in
    preflight) scripts/bench-preflight.sh | record;;
    go) scripts/bench-go.sh "$OUT/go-bench.txt" | record;;
  esac
done
echo "bench.total.wall: $(( $(date +%s) - started )) s" | record
go run ./test/bench -render "$FIGURES" -doc docs/performance.md >&2
echo "bench: figures in $FIGURES; docs/performance.md updated" >&2
