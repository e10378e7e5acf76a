# Shared settings and helpers for lab/*.sh (sourced). Expects LAB (absolute .lab dir) to be set.
# shellcheck shell=bash
RUN=$LAB/run; PIDS=$RUN/pids; LOGS=$LAB/logs; STATE=$LAB/state; CONF=$LAB/conf; PKI=$LAB/pki
BIN=$LAB/bin/k8s; KUBECTL=$LAB/bin/kubectl; KUBECONFIG_LAB=$LAB/kubeconfig
NODE=safe-rollout-lab; NODE_IP=10.200.200.1; SVC_CIDR=10.96.0.0/16; POD_CIDR=10.244.0.0/16
POD_SUBNET=10.244.0.0/24; LINK=k8slab0; BRIDGE=cni0
LAB_NETS="$POD_CIDR $SVC_CIDR $NODE_IP/32"
EGRESS_CHAIN=SAFE-ROLLOUT-LAB-EGRESS; INGRESS_CHAIN=SAFE-ROLLOUT-LAB-INGRESS
# components in start order (down stops them in a safe order, see down.sh)
COMPONENTS="etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy prometheus prometheus-sd kwok"
# the lab's Prometheus (for --prometheus-query tests), on loopback
PROM_ADDR=127.0.0.1:9099
# sysctls the lab (or kubelet / kube-proxy) may change: saved before start, restored by down.sh
SYSCTLS="net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
 kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
 net.bridge.bridge-nf-call-iptables"
CTR_SOCK=$RUN/containerd/containerd.sock
ctr_() { ctr --address "$CTR_SOCK" -n k8s.io "$@"; }

T0=$(date +%s%N)
ts() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '%s [%4d.%01ds] %s\n' "$(date +%H:%M:%S)" $((ms/1000)) $((ms%1000/100)) "$*"; }

cmdline() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null; }
# alive PID [NAME]: process exists, is not a zombie, and (if NAME) its cmdline mentions NAME
alive() {
  [ -n "${1:-}" ] && [ -e "/proc/$1" ] || return 1
  grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null && return 1
  [ -z "${2:-}" ] || grep -q -- "$2" <<<"$(cmdline "$1")"
}
pidof_c() { cat "$PIDS/$1.pid" 2>/dev/null; }     # pid of a lab component from its pid file
running() { alive "$(pidof_c "$1")" "$1"; }

# uplinks: interfaces of the IPv4 default route(s)
uplinks() { ip -4 route show default 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="dev") print $(i+1)}' | sort -u; }

# pids of the containerd shims of the lab's containerd (their command line names our private socket)
lab_shims() {
  local p
  for p in $(grep -l -a -F "$RUN/containerd" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$p" = "$$" ] && continue
    grep -q containerd-shim <<<"$(cmdline "$p")" && echo "$p"
  done
}
# host paths outside .lab that containerd 1.6 / kubelet / libcni create (hardcoded there); down.sh
# removes our entries and removes the directories only if they did not exist before the lab
HOST_DIRS="/run/containerd/s /run/containerd/runc /run/containerd /run/netns /run/mount /var/lib/cni/results /var/lib/cni
 /var/log/containers /var/lib/kubelet/device-plugins /var/lib/kubelet"
