#!/usr/bin/env bash
# make demo: bring the lab up, deploy the two example apps, and restart each one
# with kubectl safe-rollout while hey sends traffic through the Service.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
NS=safe-rollout-demo
make --no-print-directory lab-up

echo; echo "== deploying examples/contract-app.yaml and examples/naive-app.yaml into namespace $NS"
kubectl create namespace $NS --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n $NS apply -f examples/contract-app.yaml -f examples/naive-app.yaml
# an earlier demo leaves naive-app paused by the guard: resume it
kubectl -n $NS rollout resume deploy/naive-app >/dev/null 2>&1 || true
kubectl -n $NS rollout status deploy/contract-app --timeout=120s
kubectl -n $NS rollout status deploy/naive-app --timeout=120s
echo; echo "== kubectl plugin list (kubectl finds the plugin as kubectl-safe_rollout)"
kubectl plugin list 2>/dev/null | grep safe_rollout

summary=()
for app in contract-app naive-app; do
  echo; echo "== kubectl safe-rollout preflight deploy/$app"
  kubectl safe-rollout -n $NS preflight deploy/$app || true
  ip=$(kubectl -n $NS get svc $app -o jsonpath='{.spec.clusterIP}')
  wait_answering "http://$ip/"
  out=$ROOT/.lab/demo-$app-hey.txt
  echo; echo "== hey -z 20s -c 10 -disable-keepalive http://$ip/   while   kubectl safe-rollout restart deploy/$app"
  hey -z 20s -c 10 -disable-keepalive "http://$ip/" > "$out" 2>&1 &
  hey_pid=$!
  sleep 2
  code=0
  kubectl safe-rollout -n $NS restart deploy/$app --progress=plain || code=$?
  wait $hey_pid || true
  read -r requests errors < <(hey_counts "$out")
  summary+=("$(printf '%-13s restart exit %d; hey: %s requests, %s errors (%s)' "$app" "$code" "$requests" "$errors" "$out")")
done

cat <<MSG

== what to look at
$(printf '  %s\n' "${summary[@]}")
  - contract-app: every old pod reached "not serving" before its container exited 0,
    and hey saw 0 errors: readiness flipped in preStop, the app kept serving for its
    drain delay, then shut down within the grace period.
  - naive-app: the first old pod exited with code 2 (a Go program that is PID 1 dying on
    SIGTERM) without ever failing readiness: "died-without-drain". The default budget
    of 0 unclean exits made the guard pause the rollout right there (exit 3), and hey
    saw errors (connection refused / reset) while the endpoints still pointed at the
    dying pod. kubectl rollout resume deploy/naive-app -n $NS lets it go on.
  - The report's propagation line is what the guard measured on this cluster (deletion to
    endpoint not ready, the API's view); the recommended terminationGracePeriodSeconds uses
    the larger of it and the configured propagation, and says which.
  The lab keeps running: kubectl --kubeconfig .lab/kubeconfig -n $NS get pods; stop it with make lab-down.
MSG
