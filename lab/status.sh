#!/bin/bash
# Show the lab's components (PID files), node and pods.   usage: lab/status.sh [LAB_DIR]  (make lab-status)
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:-$ROOT/.lab}")
. "$SRC/common.sh"
# exit 0 only when every component but the optional ones (kwok: make bench starts it) runs
up=0; missing=0
for n in $COMPONENTS; do
  if running "$n"; then printf '%-24s running  pid %s\n' "$n" "$(pidof_c "$n")"; up=$((up + 1))
  else printf '%-24s stopped\n' "$n"; [ "$n" = kwok ] || missing=$((missing + 1)); fi
done
[ -x "$BIN" ] && echo "binary: $BIN ($("$BIN" kube-apiserver --version 2>/dev/null))" || echo "binary: not built (make lab-build)"
ls "$LAB"/images/*.tar >/dev/null 2>&1 && echo "images: $(cd "$LAB/images" && ls *.tar | tr '\n' ' ')"
if [ $up -gt 0 ] && running kube-apiserver; then
  echo "kubectl: $KUBECTL --kubeconfig $KUBECONFIG_LAB"
  "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" --cache-dir "$STATE/kubectl-cache" get nodes -o wide 2>&1
  "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" --cache-dir "$STATE/kubectl-cache" get pods -A -o wide 2>&1
fi
[ $missing -eq 0 ] && exit 0 || exit 3
