#!/bin/bash
# Build the lab's multi-call Kubernetes binary (always with embedded etcd: -tags etcd).
# usage: lab/k8s/build.sh OUT        (e.g. .lab/bin/k8s; also links OUT's dir/kubectl -> k8s)
# Uses the default GOCACHE so rebuilds are warm (cold ~4 min on 2 cores, warm ~10 s).
set -euo pipefail
out=$(realpath -m "${1:?usage: build.sh OUT}")
cd "$(dirname "$0")"
V=v1.34.4
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=$V -X $p.gitMajor=1 -X $p.gitMinor=34 -X $p.gitTreeState=clean"
  LD="$LD -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=2026-01-01T00:00:00Z"
done
mkdir -p "$(dirname "$out")"
go build -trimpath -tags etcd -ldflags "$LD" -o "$out.tmp" .
mv -f "$out.tmp" "$out"
ln -sfn "$(basename "$out")" "$(dirname "$out")/kubectl"
