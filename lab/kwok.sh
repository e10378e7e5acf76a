#!/bin/bash
# Simulated nodes for the lab (sigs.k8s.io/kwok, built from lab/kwok): fake Nodes whose pods
# become Ready, drain and exit as lab/kwok/kwok.yaml says, with no containers behind them.
# usage: lab/kwok.sh LAB_DIR up NODES     start kwok (if not running) and have NODES fake nodes Ready
#        lab/kwok.sh LAB_DIR down         delete the fake nodes and their pods, stop kwok
# Fake nodes are named kwok-node-N, labelled type=kwok and tainted kwok.x-k8s.io/node=fake:NoSchedule:
# a pod goes there only with that toleration and nodeSelector type=kwok. Needs make lab-up.
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:?usage: kwok.sh LAB_DIR up NODES|down}"); ACTION=${2:?usage: kwok.sh LAB_DIR up NODES|down}
. "$SRC/common.sh"
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" --cache-dir "$STATE/kubectl-cache" "$@"; }
KWOK=$LAB/bin/kwok

up() {
  local n=$1 i
  running kube-apiserver || { echo "kwok: the lab is not running (make lab-up)" >&2; exit 1; }
  make -s --no-print-directory -C "$ROOT" -f "$SRC/lab.mk" LAB_DIR="$LAB" lab-kwok
  if ! running kwok; then
    setsid "$KWOK" --kubeconfig "$KUBECONFIG_LAB" --config "$SRC/kwok/kwok.yaml" >>"$LOGS/kwok.log" 2>&1 </dev/null &
    echo $! > "$PIDS/kwok.pid"; ts "started kwok (pid $!)"
  fi
  for ((i = 0; i < n; i++)); do
    cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
---
YAML
  done | kc apply -f - >/dev/null
  # Ready (kwok's node-initialize stage) and given a pod CIDR (the controller manager)
  for ((i = 0; i < 300; i++)); do
    local ready
    ready=$(kc get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{.spec.podCIDR}{"\n"}{end}' | grep -c '^True10\.' || true)
    [ "$ready" -ge "$n" ] && { ts "kwok: $ready fake nodes Ready"; return 0; }
    running kwok || { tail -n 20 "$LOGS/kwok.log" >&2; echo "kwok: died" >&2; exit 1; }
    sleep 0.2
  done
  echo "kwok: fake nodes not Ready after 60 s" >&2; tail -n 20 "$LOGS/kwok.log" >&2; exit 1
}

down() {
  local i
  if running kube-apiserver && [ -n "$(kc get nodes -l type=kwok -o name 2>/dev/null)" ]; then
    # Pods on fake nodes go with the nodes: force-delete them first (kwok may be gone), so that
    # nothing stays Terminating.
    kc get pods -A --field-selector spec.nodeName!=$NODE -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name} {.spec.nodeName}{"\n"}{end}' \
      | awk '$3 ~ /^kwok-node-/' | while read -r ns pod _; do
        kc -n "$ns" delete pod "$pod" --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
      done
    kc delete nodes -l type=kwok --wait=true >/dev/null
    for ((i = 0; i < 150; i++)); do
      [ -z "$(kc get pods -A -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep '^kwok-node-')" ] && break
      sleep 0.2
    done
    ts "kwok: fake nodes deleted"
  fi
  local p; p=$(pidof_c kwok); rm -f "$PIDS/kwok.pid"
  if alive "$p" kwok; then
    kill -TERM "$p"; for ((i = 0; i < 50; i++)); do alive "$p" || break; sleep 0.1; done
    alive "$p" && kill -KILL "$p"; ts "stopped kwok (pid $p)"
  fi
}

case $ACTION in
  up) up "${3:?usage: kwok.sh LAB_DIR up NODES}";;
  down) down;;
  *) echo "usage: kwok.sh LAB_DIR up NODES|down" >&2; exit 2;;
esac
