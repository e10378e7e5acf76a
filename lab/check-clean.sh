#!/bin/bash
# List everything of the lab still present on the host; exit 0 only if nothing is left.
# usage: lab/check-clean.sh [LAB_DIR]     (after make lab-down; used by tests and the acceptance proof)
# Checks: processes (lab binaries, our containerd + shims, pod processes), mounts under LAB_DIR,
# CNI netns, links cni0/k8slab0 (+ veths on cni0), lab routes/addresses, iptables chains/rules
# (KUBE-*, CNI-*, SAFE-ROLLOUT-LAB-*), kubepods cgroups, host files of containerd/kubelet/libcni,
# and sysctls still differing from the values saved at lab-up.
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:-$ROOT/.lab}")
. "$SRC/common.sh"
left=0
report() { # what lines...
  local what=$1; shift
  [ -n "$*" ] || return 0
  echo "LEFT: $what"; printf '  %s\n' "$@"; left=$((left + 1))
}
list() { local out; out=$("$@" 2>/dev/null); [ -n "$out" ] && printf '%s\n' "$out"; }

# processes: anything whose executable or command line points into the lab dir, + pid files
procs=()
for p in $(ls /proc | grep -E '^[0-9]+$'); do
  [ "$p" = "$$" ] && continue
  grep -q '^[0-9]* ([^)]*) Z' /proc/$p/stat 2>/dev/null && continue
  exe=$(readlink /proc/$p/exe 2>/dev/null); cmd=$(cmdline $p)
  case "$exe $cmd" in *"$LAB/"*)
    case "$cmd" in *check-clean.sh*) continue;; esac
    procs+=("pid $p: ${cmd:0:160}");;
  esac
done
report "processes" "${procs[@]}"
report "pid files" $(ls "$PIDS"/*.pid 2>/dev/null)
for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/kubepods.slice; do
  [ -d "$f" ] && report "cgroup $f (pids: $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | tr '\n' ' '))" "$f"
done
report "mounts under $LAB" $(awk -v l="$LAB/" 'index($2, l) == 1 {print $2}' /proc/mounts)
report "CNI netns" $(ls /run/netns 2>/dev/null | grep '^cni-')
report "netns mounts" $(awk '$2 ~ "^/(var/)?run/netns/cni-" {print $2}' /proc/mounts)
links=(); for l in $BRIDGE $LINK; do ip link show "$l" >/dev/null 2>&1 && links+=("$l"); done
report "links" "${links[@]}"
report "veths on $BRIDGE" $(ip -o link show master $BRIDGE 2>/dev/null | awk -F': ' '{print $2}')
report "routes" "$(ip -4 route show | grep -E '^(10\.96\.|10\.244\.)|10\.200\.200\.1')"
report "addresses" "$(ip -4 -o addr show | grep -F "$NODE_IP/")"
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for tbl in nat filter mangle raw; do
    report "$ipt -t $tbl chains/rules" "$($ipt-save -t $tbl 2>/dev/null | grep -E "^:(KUBE-|CNI-|SAFE-ROLLOUT-LAB-)|^-A .*(KUBE-|CNI-|SAFE-ROLLOUT-LAB-)")"
  done
done
report "libcni result cache" $(ls -d /var/lib/cni/results/safe-rollout-lab-* 2>/dev/null
  for d in "$STATE"/containerd/io.containerd.grpc.v1.cri/sandboxes/*; do [ -d "$d" ] && ls -d /var/lib/cni/results/*-"${d##*/}"-* 2>/dev/null; done)
report "kubelet device-plugin socket" $(ls /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null)
report "container log links" $(find /var/log/containers -maxdepth 1 -lname "$LAB/*" 2>/dev/null)
report "stale shim sockets" $(for f in /run/containerd/s/*; do [ -S "$f" ] && ! grep -qF " $f" /proc/net/unix && echo "$f"; done)
if [ -f "$RUN/sysctl.orig" ]; then
  report "sysctls not restored (lab-up saved them; lab-down did not run)" \
    $(while IFS='=' read -r k v; do c=$(sysctl -n "$k" 2>/dev/null); [ "$c" = "$v" ] || echo "$k=$c(was:$v)"; done < "$RUN/sysctl.orig")
fi
if [ $left -eq 0 ]; then echo "clean: nothing of the lab left on this host"; exit 0; fi
echo "$left kind(s) of lab leftovers found"; exit 1
