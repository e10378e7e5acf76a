#!/bin/bash
# Stop the safe-rollout lab and remove every trace of it from the host: processes (by PID file),
# containers and shims of our containerd, mounts under LAB_DIR, CNI netns, iptables rules/chains
# (kube-proxy, CNI, ours), links cni0/k8slab0, the service route, kubepods cgroups, sysctls.
# usage: lab/down.sh [LAB_DIR] [--purge]     (make lab-down [PURGE=1])
#   --purge also deletes cluster state (etcd, containerd images/snapshots, kubelet, pki, kubeconfig,
#   logs, rendered config); build outputs .lab/bin and .lab/images are kept.
set -uo pipefail
[ "$(uname -s)" = Linux ] || { echo "lab-down: the lab needs Linux (this is $(uname -s))" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "lab-down: needs root: sudo make lab-down" >&2; exit 1; }
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
PURGE=0; ARG_LAB=""
for a in "$@"; do case $a in --purge) PURGE=1;; *) ARG_LAB=$a;; esac; done
LAB=$(realpath -m "${ARG_LAB:-$ROOT/.lab}")
. "$SRC/common.sh"
ts "lab-down: $LAB"

stop() { # names...: SIGTERM all at once, wait up to 5 s each, then SIGKILL
  local n p i ps=()
  for n in "$@"; do
    p=$(pidof_c "$n"); rm -f "$PIDS/$n.pid"
    alive "$p" "$n" && { kill -TERM "$p" 2>/dev/null; ps+=("$n:$p"); }
  done
  for x in "${ps[@]}"; do
    p=${x#*:}
    for ((i = 0; i < 50; i++)); do alive "$p" || break; sleep 0.1; done
    alive "$p" && { kill -KILL "$p" 2>/dev/null; ts "stopped ${x%%:*} (pid $p, SIGKILL)"; } || ts "stopped ${x%%:*} (pid $p)"
  done
}
# 0. fake nodes (make bench) and their pods while the API server is still there, then kwok
"$SRC/kwok.sh" "$LAB" down || ts "WARNING: kwok teardown failed"
# 1. control loops first, so nothing restarts pods (and the lab's Prometheus)
stop prometheus-sd prometheus
stop kubelet kube-proxy kube-scheduler kube-controller-manager
# 2. all containers/sandboxes of our containerd (check the PID first: ctr waits 10 s on a dead socket)
CRI=$STATE/containerd/io.containerd.grpc.v1.cri; cri_deleted=0
if running containerd; then
  cri_deleted=1
  tasks=$(ctr_ tasks ls -q 2>/dev/null)
  for t in $tasks; do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  [ -n "$tasks" ] && sleep 0.5
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
  [ -n "$tasks" ] && ts "killed $(echo $tasks | wc -w) container tasks"
fi
stop kube-apiserver containerd
stop etcd
# 3. leftover shims of *our* containerd (matched by our private socket path), by PID
for p in $(lab_shims); do kill -KILL "$p" 2>/dev/null && ts "killed shim pid $p"; done
# container processes whose shim died first: any process in a kubepods cgroup
for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/kubepods.slice; do
  [ -d "$f" ] || continue
  for p in $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do kill -KILL "$p" 2>/dev/null && ts "killed pod process $p"; done
done
# 4. mounts under the lab dir (deepest first) and CNI network namespaces not used by a live process
mounts() { awk -v l="$LAB/" 'index($2, l) == 1 {print $2}' /proc/mounts | sed 's/\\040/ /g' | sort -ru; }
for m in $(mounts); do umount -l "$m" 2>/dev/null; done
[ -z "$(mounts)" ] || ts "WARNING: mounts left under $LAB: $(mounts | tr '\n' ' ')"
used_ns=$(ls -l /proc/[0-9]*/ns/net 2>/dev/null | sed -n 's/.*net:\[\([0-9]*\)\]$/\1/p' | sort -u)
for ns in $(ls /run/netns 2>/dev/null | grep '^cni-'); do
  ino=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null)
  if [ -n "$ino" ] && grep -qx "$ino" <<<"$used_ns"; then ts "netns $ns still used by a process: kept"; continue; fi
  ip netns delete "$ns" 2>/dev/null || { umount "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; }
done
# 5. iptables: kube-proxy's own cleanup, then any KUBE-/CNI- rules and chains, then our chains
[ -x "$BIN" ] && "$BIN" kube-proxy --cleanup >/dev/null 2>&1
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for tbl in nat filter mangle raw; do
    $ipt-save -t $tbl 2>/dev/null | grep -- '^-A' | grep -E -- "(-j|-g) (CNI-|KUBE-|$EGRESS_CHAIN|$INGRESS_CHAIN)|^-A (CNI-|KUBE-)" \
      | sed 's/^-A/-D/' | while read -r r; do eval $ipt -w -t $tbl $r 2>/dev/null; done
    for ch in $($ipt-save -t $tbl 2>/dev/null | grep -oE "^:(CNI-|KUBE-|$EGRESS_CHAIN|$INGRESS_CHAIN)[^ ]*" | tr -d :); do $ipt -w -t $tbl -F "$ch" 2>/dev/null; done
    for ch in $($ipt-save -t $tbl 2>/dev/null | grep -oE "^:(CNI-|KUBE-|$EGRESS_CHAIN|$INGRESS_CHAIN)[^ ]*" | tr -d :); do $ipt -w -t $tbl -X "$ch" 2>/dev/null; done
  done
done
# 6. links, route, cgroups, host files of containerd/kubelet/libcni, sysctls
ip route del $SVC_CIDR dev $LINK 2>/dev/null
ip link del $BRIDGE 2>/dev/null; ip link del $LINK 2>/dev/null
for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/kubepods.slice; do
  [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
done
rm -rf --one-file-system "${STATE:?}"/cni-ipam/* 2>/dev/null
# libcni's result cache (hardcoded /var/lib/cni): our bridge network, and cni-loopback of our sandboxes
rm -f /var/lib/cni/results/safe-rollout-lab-* 2>/dev/null
for d in "$CRI"/sandboxes/*; do [ -d "$d" ] && rm -f /var/lib/cni/results/*-"${d##*/}"-*; done
# sandbox/container dirs whose metadata we deleted with the containers (else they pile up)
[ $cri_deleted = 1 ] && [ -z "$(mounts)" ] && rm -rf --one-file-system "$CRI"/sandboxes/* "$CRI"/containers/*
rm -f /var/lib/kubelet/device-plugins/kubelet.sock   # hardcoded in kubelet (not under --root-dir)
find /var/log/containers -maxdepth 1 -type l -lname "$LAB/*" -delete 2>/dev/null
for f in /run/containerd/s/*; do   # shim sockets nobody listens on any more
  [ -S "$f" ] && ! grep -qF " $f" /proc/net/unix && rm -f "$f"
done
for d in $HOST_DIRS; do   # only dirs the lab created, only when empty
  grep -qxF "$d" "$RUN/hostdirs.orig" 2>/dev/null && continue
  [ -d "$d" ] || continue
  [ "$d" = /run/netns ] && [ -z "$(ls -A /run/netns)" ] && umount /run/netns 2>/dev/null
  rmdir "$d" 2>/dev/null
done
# hostdirs.orig is kept (it records the host before the first lab-up); purge removes it
if [ -f "$RUN/sysctl.orig" ]; then
  while IFS='=' read -r k v; do [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || sysctl -qw "$k=$v" 2>/dev/null; done < "$RUN/sysctl.orig"
  rm -f "$RUN/sysctl.orig"
fi
[ -f "$RUN/br_netfilter.loaded" ] && { modprobe -r br_netfilter 2>/dev/null; rm -f "$RUN/br_netfilter.loaded"; }
# runtime state of containerd/runc (stale after a stop; like /run after a reboot)
[ -z "$(mounts)" ] && rm -rf --one-file-system "$RUN/containerd" "$RUN/runc"
if [ $PURGE = 1 ]; then
  if [ -n "$(mounts)" ]; then ts "NOT purging: mounts remain under $LAB"; exit 1; fi
  rm -rf --one-file-system "$STATE" "$RUN" "$LOGS" "$PKI" "$CONF" "$LAB/kubeconfig"
  ts "state purged (kept build outputs: $LAB/bin, $LAB/images)"
fi
ts "lab down"
