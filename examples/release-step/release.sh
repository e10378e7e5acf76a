#!/bin/sh
# release.sh NAMESPACE MANIFESTS: apply a release, guard every rollout it starts,
# keep the JSON report as a build artifact and branch on the exit code.
set -u
ns=$1
manifests=$2
report=${REPORT:-safe-rollout-report.json}
selector=${SELECTOR:-app.kubernetes.io/part-of=shop}

kubectl safe-rollout preflight -n "$ns" -f "$manifests" || exit 2
kubectl apply -n "$ns" -f "$manifests" || exit 1
kubectl safe-rollout watch -n "$ns" -l "$selector" -o json --progress=plain --timeout 10m >"$report"
code=$?
case $code in
0) echo "released: every rollout completed and drained cleanly" ;;
3) echo "stopped on a breach: $report says which workload and how to resume it" ;;
4) echo "rolled back to the previous revision: $report says why" ;;
5) echo "timed out: $report has the rollout so far" ;;
*) echo "kubectl safe-rollout failed (exit $code)" ;;
esac
exit $code
