#!/bin/bash
# Build lab images without a registry or Docker: a static binary wrapped by imgtool into a
# single-layer image tarball (entrypoint /app), later imported into containerd by lab/up.sh.
#   lab/images/build.sh imgtool OUT                 build the imgtool binary
#   lab/images/build.sh image IMGTOOL SRCDIR REF OUT  CGO_ENABLED=0 go build SRCDIR (a main package
#                                                    at the root of SRCDIR, inside some Go module)
#   lab/images/build.sh module IMGTOOL PKG@VERSION REF OUT  CGO_ENABLED=0 go install of a third-party
#                                                    main package at a pinned version (module proxy)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
imgtool)
  out=$(realpath -m "$2"); mkdir -p "$(dirname "$out")"
  cd "$here" && go build -trimpath -buildvcs=false -o "$out" ./imgtool ;;
image)
  imgtool=$(realpath "$2"); src=$3; ref=$4; out=$(realpath -m "$5")
  mkdir -p "$(dirname "$out")"
  arch=$(go env GOARCH)
  bin=$(mktemp "${out%.tar}.bin.XXXXXX")
  trap 'rm -f "$bin"' EXIT
  (cd "$src" && CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$bin" .)
  "$imgtool" -bin "$bin" -ref "$ref" -out "$out" -arch "$arch"
  echo "built $ref from $src -> $out ($(du -h "$out" | cut -f1))" ;;
module)
  imgtool=$(realpath "$2"); pkg=$3; ref=$4; out=$(realpath -m "$5")
  mkdir -p "$(dirname "$out")"
  arch=$(go env GOARCH)
  gobin=$(mktemp -d "${out%.tar}.gobin.XXXXXX")
  trap 'rm -rf "$gobin"' EXIT
  # outside any module, so that only the package's own go.mod and go.sum decide its dependencies
  (cd "$gobin" && GOBIN="$gobin" CGO_ENABLED=0 GOOS=linux GOFLAGS= go install -trimpath -ldflags "-s -w" "$pkg")
  "$imgtool" -bin "$gobin/$(basename "${pkg%@*}")" -ref "$ref" -out "$out" -arch "$arch"
  echo "built $ref from $pkg -> $out ($(du -h "$out" | cut -f1))" ;;
*) echo "usage: $0 imgtool OUT | image IMGTOOL SRCDIR REF OUT | module IMGTOOL PKG@VERSION REF OUT" >&2; exit 2 ;;
esac
