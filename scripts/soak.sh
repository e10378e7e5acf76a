#!/bin/bash
# make soak: a long-running guard, measured. `kubectl safe-rollout watch --follow` guards a
# Deployment that rolls three times back to back (each new revision shipped before the previous
# one completes), with probe traffic to the app and to a loopback target that never answers.
# Every 30 s it samples the plugin's RSS (/proc) and goroutine count (the hidden --debug-addr
# pprof endpoint on loopback), then prints one `name: value unit` line per figure.
#   SOAK_MINUTES=30 scripts/soak.sh        (the lab must be up: make lab-up)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MINUTES=${SOAK_MINUTES:-30}
NS=soak
OUT=$ROOT/.lab/soak; mkdir -p "$OUT"
kubectl get --raw /readyz >/dev/null || { echo "soak: the lab is not up (make lab-up)" >&2; exit 1; }

# A rollout of 4 pods (maxSurge 1, maxUnavailable 0) takes about 4 x minReadySeconds: about a
# third of the soak, a little more, so that each new revision arrives before the last completes.
REPLICAS=4
MIN_READY=$(( MINUTES * 60 * 11 / 10 / 3 / REPLICAS ))
kubectl delete namespace $NS --ignore-not-found --wait=true >/dev/null
kubectl create namespace $NS >/dev/null
for _ in $(seq 150); do kubectl -n $NS get sa default >/dev/null 2>&1 && break; sleep 0.2; done
sed -e "s/replicas: 3/replicas: $REPLICAS/" -e "0,/^spec:$/s//spec:\n  minReadySeconds: $MIN_READY/" \
  "$ROOT/examples/contract-app.yaml" | kubectl -n $NS apply -f - >/dev/null
kubectl -n $NS rollout status deploy/contract-app --timeout=$(( MIN_READY * REPLICAS + 120 ))s >/dev/null
ip=$(kubectl -n $NS get svc contract-app -o jsonpath='{.spec.clusterIP}')
wait_answering "http://$ip/"

# A probe target on loopback that accepts and never answers (the prober must not pile up work).
hang_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$hang_port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024); held = []
while True:
    c, _ = s.accept(); held.append(c)
    held = held[-2000:]
PY
hang_pid=$!
trap 'kill $hang_pid 2>/dev/null; kill ${plugin_pid:-} 2>/dev/null' EXIT

ship() { kubectl -n $NS set env deploy/contract-app "SOAK_REVISION=$1" >/dev/null; echo "$(date +%T) shipped revision $1"; }
ship 1
debug=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kubectl-safe_rollout -n $NS watch deploy/contract-app --follow --on-breach=none --max-probe-errors=-1 \
  --probe "http://$ip/" --probe "http://127.0.0.1:$hang_port/" --probe-rate=20 --probe-timeout=1s \
  --timeout=$(( MINUTES * 2 ))m --progress=plain -o json --debug-addr "$debug" >"$OUT/report.json" 2>"$OUT/progress.log" &
plugin_pid=$!
echo "time_s rss_kib goroutines" > "$OUT/samples.txt"
start=$(date +%s); shipped=1
while kill -0 $plugin_pid 2>/dev/null; do
  t=$(( $(date +%s) - start ))
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$plugin_pid/status 2>/dev/null || echo)
  g=$(curl -sf -m 2 "http://$debug/debug/pprof/goroutine?debug=1" | sed -n 's/^goroutine profile: total \([0-9]*\).*/\1/p' || true)
  [ -n "$rss" ] && [ -n "$g" ] && echo "$t $rss $g" >> "$OUT/samples.txt"
  if [ $shipped -lt 3 ] && [ $t -ge $(( MINUTES * 60 * shipped / 3 )) ]; then shipped=$((shipped + 1)); ship $shipped; fi
  sleep 30
done
set +e; wait $plugin_pid; code=$?; set -e
end=$(( $(date +%s) - start ))
kubectl delete namespace $NS --wait=false >/dev/null

outcome=$(sed -n 's/^  "outcome": "\(.*\)",$/\1/p' "$OUT/report.json")
followed=$(grep -c '"followed": true' "$OUT/report.json" || true)
awk -v code="$code" -v outcome="$outcome" -v followed="$followed" -v dur="$end" '
  NR == 1 { next }
  { n++; t[n] = $1; rss[n] = $2; g[n] = $3
    if (n == 1 || $2 > rmax) rmax = $2; if (n == 1 || $3 > gmax) gmax = $3; if (n == 1 || $3 < gmin) gmin = $3 }
  END {
    # the first 5 minutes against the last 5: a leak shows as growth between them
    for (i = 1; i <= n; i++) { if (t[i] <= 300) { a += rss[i]; na++ } if (t[i] >= dur - 330) { b += rss[i]; nb++ } }
    printf "soak_duration: %d s\nsoak_exit_code: %d\nsoak_outcome: %s\nsoak_revisions_followed: %d\n", dur, code, outcome, followed
    printf "soak_samples: %d\nsoak_rss_first5min_avg: %.1f MiB\nsoak_rss_last5min_avg: %.1f MiB\nsoak_rss_max: %.1f MiB\n", n, a/na/1024, b/nb/1024, rmax/1024
    printf "soak_goroutines_min: %d\nsoak_goroutines_max: %d\nsoak_goroutines_last: %d\n", gmin, gmax, g[n]
  }' "$OUT/samples.txt"
echo "(samples: $OUT/samples.txt, report: $OUT/report.json, progress: $OUT/progress.log)"
