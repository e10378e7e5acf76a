#!/bin/bash
# Stop the lab's kube-apiserver, keep it down for DOWN seconds, then start it again with the
# same command line and wait until it is ready: an API server outage for the guard's fault tests.
#   lab/restart-apiserver.sh LAB_DIR [DOWN_SECONDS]      (make lab-restart-apiserver DOWN=5)
set -euo pipefail
LAB=$(realpath "${1:?usage: lab/restart-apiserver.sh LAB_DIR [DOWN_SECONDS]}"); DOWN=${2:-5}
# shellcheck source=lab/common.sh
. "$(dirname "$0")/common.sh"
running kube-apiserver || { echo "lab-restart-apiserver: kube-apiserver is not running (make lab-up)" >&2; exit 1; }
pid=$(pidof_c kube-apiserver)
mapfile -d '' argv < "/proc/$pid/cmdline"
kill -TERM "$pid"
# a graceful stop waits for every watch to drain (40 s here): a crash-like stop after 2 s
for ((i = 0; i < 20; i++)); do alive "$pid" || break; sleep 0.1; done
alive "$pid" && { kill -KILL "$pid"; sleep 0.2; }
ts "kube-apiserver stopped (pid $pid); down for ${DOWN}s"
sleep "$DOWN"
setsid "${argv[@]}" >>"$LOGS/kube-apiserver.log" 2>&1 </dev/null &
echo $! > "$PIDS/kube-apiserver.pid"
ts "kube-apiserver started (pid $!)"
for ((i = 0; i < 600; i++)); do
  if "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" get --raw /readyz >/dev/null 2>&1; then ts "kube-apiserver ready"; exit 0; fi
  running kube-apiserver || break
  sleep 0.2
done
ts "FAILED: kube-apiserver not ready"; tail -n 25 "$LOGS/kube-apiserver.log" >&2; exit 1
