#!/bin/bash
# Build lab images without a registry or Docker: a static binary wrapped by imgtool into a
# single-layer image tarball (entrypoint /app), later imported into containerd by lab/up.sh.
#   lab/images/build.sh imgtool OUT                 build the imgtool binary
#   lab/images/build.sh image IMGTOOL SRCDIR REF OUT  CGO_ENABLED=0 go build SRCDIR (a main package
#                                                    at the root of SRCDIR, inside some Go module)
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
*) echo "usage: $0 imgtool OUT | image IMGTOOL SRCDIR REF OUT" >&2; exit 2 ;;
esac
