#!/usr/bin/env bash
# Installs the release archives with a real krew, as krew-index's CI does, without the
# network: for each platform in the manifest, `kubectl krew install --manifest=…
# --archive=…` in a sandboxed KREW_ROOT (KREW_OS/KREW_ARCH select the platform), and
# checks the LICENSE and the bin link krew made. For this machine's platform it then runs
# `kubectl safe-rollout version` through kubectl, with krew's bin directory on PATH.
#
#   krew/install-test.sh MANIFEST DIST_DIR      (make krew-install-test runs it)
#
# Environment: KUBECTL (kubectl to use, default: kubectl on PATH), KREW_BIN_DIR (the
# directory holding kubectl-krew, default: found on PATH).
set -euo pipefail

manifest=${1:?usage: $0 MANIFEST DIST_DIR}
dist=${2:?usage: $0 MANIFEST DIST_DIR}
kubectl=${KUBECTL:-$(command -v kubectl)}
[ -x "$kubectl" ] || { echo "krew-install-test: no kubectl at '$kubectl'" >&2; exit 1; }
kubectl_dir=$(cd "$(dirname "$kubectl")" && pwd)
[ -z "${KREW_BIN_DIR:-}" ] || PATH=$KREW_BIN_DIR:$PATH
command -v kubectl-krew >/dev/null || { echo "krew-install-test: kubectl-krew not on PATH" >&2; exit 1; }
manifest=$(cd "$(dirname "$manifest")" && pwd)/$(basename "$manifest")
dist=$(cd "$dist" && pwd)

version=$(sed -n 's/^  version: //p' "$manifest")
[ -n "$version" ] || { echo "krew-install-test: no spec.version in $manifest" >&2; exit 1; }
sandbox=$(mktemp -d)
trap 'rm -rf "$sandbox"' EXIT
export KREW_NO_UPGRADE_CHECK=1   # krew would ask GitHub for its latest release
host_os=$(go env GOOS)
host_arch=$(go env GOARCH)

echo "krew $(command -v kubectl-krew), kubectl $("$kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p'), plugin $version"
installed=0
for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os=${platform%/*} arch=${platform#*/}
  ext=tar.gz bin=kubectl-safe_rollout
  if [ "$os" = windows ]; then ext=zip bin=kubectl-safe_rollout.exe; fi
  archive=$dist/kubectl-safe-rollout_${version}_${os}_${arch}.$ext
  root=$sandbox/$os-$arch
  # kubectl finds the krew plugin on PATH; krew wants its own bin dir there too.
  if ! out=$(PATH="$root/bin:$kubectl_dir:$PATH" KREW_ROOT=$root KREW_OS=$os KREW_ARCH=$arch \
      "$kubectl" krew install --manifest="$manifest" --archive="$archive" 2>&1); then
    echo "$out" >&2
    echo "FAIL $platform: kubectl krew install --manifest=$manifest --archive=$archive" >&2
    exit 1
  fi
  store=$root/store/safe-rollout/$version
  for f in LICENSE README.md kubectl_complete-safe_rollout "$bin"; do
    [ -e "$store/$f" ] || { echo "FAIL $platform: $f not installed in $store: $(ls "$store")" >&2; exit 1; }
  done
  [ -e "$root/bin/$bin" ] || { echo "FAIL $platform: krew made no $root/bin/$bin" >&2; exit 1; }
  echo "ok   $platform: $(basename "$archive") -> $(ls "$store" | tr '\n' ' ')"
  installed=$((installed + 1))
done

# The host platform, through kubectl: kubectl safe-rollout -> kubectl-safe_rollout on PATH.
root=$sandbox/$host_os-$host_arch
export PATH="$root/bin:$kubectl_dir:$PATH"
found=$(command -v kubectl-safe_rollout)
[ "$found" = "$root/bin/kubectl-safe_rollout" ] || { echo "FAIL: kubectl-safe_rollout on PATH is $found, not krew's" >&2; exit 1; }
echo "krew receipts: $(ls "$root/receipts")"
echo "\$ kubectl safe-rollout version"
out=$("$kubectl" safe-rollout version)
echo "$out"
want="kubectl safe-rollout ${version#v}"
[ "$(echo "$out" | head -1)" = "$want" ] || { echo "FAIL: first line is not '$want'" >&2; exit 1; }
echo "krew-install-test: $installed platforms installed by krew; kubectl safe-rollout version ran from $found"
