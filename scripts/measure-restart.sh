#!/usr/bin/env bash
# The seed's repro: hey (keep-alive off, -c 10, 20 s) against the Service during a plain
# `kubectl rollout restart`, for the contract, naive and ignore-sigterm apps. The plugin's
# `watch` observes each rollout, only to read the old pods' exit codes.
# usage: scripts/measure-restart.sh [MODE...]    (needs make lab-up and make build)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
NS=safe-rollout-measure
modes=("$@"); [ ${#modes[@]} -gt 0 ] || modes=(contract naive ignore-sigterm)

manifest() { # name mode grace prestop(yes|no)
  local hook=""
  [ "$4" = yes ] && hook="
        lifecycle: {preStop: {httpGet: {path: /admin/drain, port: 8080}}}"
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, labels: {app: $1}}
spec:
  replicas: 3
  selector: {matchLabels: {app: $1}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: $3
      containers:
      - name: app
        image: safe-rollout.local/drain-app:dev
        imagePullPolicy: Never
        args: ["--mode=$2", "--drain-delay=5s", "--shutdown-timeout=10s"]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /health/ready, port: 8080}, periodSeconds: 1, failureThreshold: 1}$hook
---
apiVersion: v1
kind: Service
metadata: {name: $1}
spec: {selector: {app: $1}, ports: [{port: 80, targetPort: 8080}]}
YAML
}

kubectl create namespace $NS --dry-run=client -o yaml | kubectl apply -f - >/dev/null
printf '%-15s %-9s %-9s %-8s %s\n' MODE REQUESTS ERRORS ROLLOUT "OLD PODS' EXIT CODES"
for mode in "${modes[@]}"; do
  case $mode in
    contract) grace=30 hook=yes ;;
    naive) grace=30 hook=no ;;
    ignore-sigterm) grace=5 hook=no ;;
    *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
  name=m-$mode
  manifest $name $mode $grace $hook | kubectl -n $NS apply -f - >/dev/null
  kubectl -n $NS rollout status deploy/$name --timeout=120s >/dev/null
  ip=$(kubectl -n $NS get svc $name -o jsonpath='{.spec.clusterIP}')
  wait_answering "http://$ip/"
  out=$ROOT/.lab/measure-$mode
  hey -z 20s -c 10 -disable-keepalive "http://$ip/" > "$out.hey" 2>&1 &
  hey_pid=$!
  sleep 2
  t0=$(now_ms)
  kubectl -n $NS rollout restart deploy/$name >/dev/null
  kubectl safe-rollout -n $NS watch deploy/$name -o json --progress=none > "$out.json" || true
  t1=$(now_ms)
  wait $hey_pid || true
  codes=$(grep -o '"exitCode": [0-9a-z]*' "$out.json" | awk '{printf "%s ", $2}')
  read -r requests errors < <(hey_counts "$out.hey")
  printf '%-15s %-9s %-9s %-8s %s\n' "$mode" "$requests" "$errors" "$(awk -v ms=$((t1 - t0)) 'BEGIN{printf "%.1fs", ms/1000}')" "$codes"
  kubectl -n $NS delete deploy/$name svc/$name --wait=false >/dev/null
done
kubectl delete namespace $NS --wait=false >/dev/null
