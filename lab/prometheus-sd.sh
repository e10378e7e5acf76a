#!/bin/bash
# Service discovery for the lab's Prometheus (Debian's build has no Kubernetes SD): every 2 s,
# write the pods annotated prometheus.io/scrape: "true" (IP, prometheus.io/port, namespace, pod)
# as a file_sd targets file. A lab helper run by lab/up.sh, stopped by lab/down.sh.
#   lab/prometheus-sd.sh LAB_DIR
set -uo pipefail
LAB=$(realpath "${1:?usage: lab/prometheus-sd.sh LAB_DIR}")
# shellcheck source=lab/common.sh
. "$(dirname "$0")/common.sh"
out=$STATE/prometheus-sd/targets.json
mkdir -p "$(dirname "$out")"
template='{range .items[?(@.metadata.annotations.prometheus\.io/scrape=="true")]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.status.podIP}{" "}{.metadata.annotations.prometheus\.io/port}{"\n"}{end}'
while :; do
  if pods=$("$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" get pods -A -o jsonpath="$template" 2>/dev/null); then
    json="["; sep=""
    while read -r ns name ip port; do
      [ -n "$ip" ] && [ -n "$port" ] || continue
      json+="$sep{\"targets\":[\"$ip:$port\"],\"labels\":{\"namespace\":\"$ns\",\"pod\":\"$name\"}}"; sep=","
    done <<<"$pods"
    json+="]"
    if ! [ -f "$out" ] || [ "$(cat "$out")" != "$json" ]; then
      printf '%s\n' "$json" > "$out.tmp" && mv -f "$out.tmp" "$out"
    fi
  fi
  sleep 2
done
