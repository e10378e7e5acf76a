#!/bin/bash
# Bring up the safe-rollout lab: a real single-node Kubernetes v1.34.4 (one multi-call binary,
# embedded etcd 3.6) on containerd, all state under LAB_DIR (default <checkout>/.lab).
# usage: lab/up.sh [LAB_DIR]      (make lab-up)     Idempotent: running parts are left alone.
# Then:  .lab/bin/kubectl --kubeconfig .lab/kubeconfig get nodes
set -euo pipefail
[ "$(uname -s)" = Linux ] || { echo "lab-up: the lab needs Linux (this is $(uname -s))" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "lab-up: the lab needs root (containerd, iptables, links): sudo make lab-up" >&2; exit 1; }
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:-$ROOT/.lab}")
. "$SRC/common.sh"
export DEBIAN_FRONTEND=noninteractive
ts "lab-up: $LAB"

# ---------------------------------------------------------------- 1. host packages (only if missing)
"$SRC/install.sh" "$LAB"
mkdir -p "$PIDS" "$LOGS" "$STATE"/{etcd,kubelet,pod-logs,cni-ipam,imports} "$CONF"
RUNC=$(command -v runc)
if ! command -v go >/dev/null; then
  [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin || { echo "lab-up: Go (>= 1.26) is needed to build the lab (https://go.dev/dl)" >&2; exit 1; }
fi

# ---------------------------------------------------------------- 2. build (make decides what is stale)
[ -x "$BIN" ] || ts "building $BIN (cold build takes ~4-5 min on 2 cores)"
make -s --no-print-directory -C "$ROOT" -f "$SRC/lab.mk" LAB_DIR="$LAB" lab-build
ts "build ok"

# ---------------------------------------------------------------- 3. pki + config (rendered with this checkout's paths)
"$SRC/pki.sh" "$LAB" >/dev/null
(cd "$SRC/conf" && find . -type f) | while read -r f; do
  mkdir -p "$(dirname "$CONF/$f")"
  sed -e "s#@LAB@#$LAB#g" -e "s#@RUNC@#$RUNC#g" "$SRC/conf/$f" > "$CONF/$f.new"
  [ -x "$SRC/conf/$f" ] && chmod +x "$CONF/$f.new"
  if cmp -s "$CONF/$f.new" "$CONF/$f"; then rm -f "$CONF/$f.new"; else mv -f "$CONF/$f.new" "$CONF/$f"; fi
done
ts "pki + config ok"

# ---------------------------------------------------------------- 4. host networking (all local)
# host dirs the lab's containerd/kubelet/CNI may create outside .lab: remember which existed before
[ -f "$RUN/hostdirs.orig" ] || for d in $HOST_DIRS; do [ -e "$d" ] && echo "$d"; done > "$RUN/hostdirs.orig" || true
if [ ! -f "$RUN/sysctl.orig" ]; then
  for s in $SYSCTLS; do v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"; done > "$RUN/sysctl.orig"
fi
# br_netfilter (bridged pod traffic through iptables): load it only if not active; down.sh unloads what we loaded
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || { modprobe br_netfilter 2>/dev/null && touch "$RUN/br_netfilter.loaded" || true; }
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
# node IP on a local-only link: this kernel may lack the dummy driver -> ifb -> bridge (all drop what is sent into them)
ip link show $LINK >/dev/null 2>&1 || ip link add $LINK type dummy 2>/dev/null || ip link add $LINK type ifb 2>/dev/null || ip link add $LINK type bridge
ip link set $LINK up
ip addr replace $NODE_IP/32 dev $LINK
ip route replace $SVC_CIDR dev $LINK
# our own firewall chains: nothing from/to the lab ranges leaves (or enters) through the uplink
setup_chains() {
  local c n u rules=()
  for u in $UPLINKS; do
    for n in $LAB_NETS; do
      rules+=("$EGRESS_CHAIN -s $n -o $u -j DROP" "$EGRESS_CHAIN -d $n -o $u -j DROP"
        "$EGRESS_CHAIN -o $u -m conntrack --ctorigsrc $n -j DROP" "$EGRESS_CHAIN -o $u -m conntrack --ctorigdst $n -j DROP"
        "$INGRESS_CHAIN -d $n -i $u -j DROP")
    done
    # control-plane ports (the apiserver listens on 0.0.0.0 so that pods reach it via 10.200.200.1)
    rules+=("$INGRESS_CHAIN -i $u -p tcp -m multiport --dports 2379,2380,6443,10248,10249,10250,10256,10257,10259 -j DROP")
  done
  for c in $EGRESS_CHAIN $INGRESS_CHAIN; do
    # rebuild only when different (no window without the guard on a re-run)
    [ "$(iptables -w -S $c 2>/dev/null | sed -n 's/^-A //p' | sed 's#/32##g')" = "$(printf '%s\n' "${rules[@]}" | grep "^$c " | sed 's#/32##g')" ] && continue
    iptables -w -N $c 2>/dev/null || iptables -w -F $c
    printf '%s\n' "${rules[@]}" | grep "^$c " | while read -r r; do iptables -w -A $r; done
  done
}
# hook our chains in front of everything in INPUT/FORWARD/OUTPUT (kube-proxy and kubelet prepend their
# own jumps when they start: hook_chains runs again once those exist)
hook_chains() {
  local h want have
  for h in INPUT:$INGRESS_CHAIN FORWARD:$INGRESS_CHAIN,$EGRESS_CHAIN OUTPUT:$EGRESS_CHAIN; do
    want=${h#*:}; h=${h%%:*}
    have=$(iptables -w -S "$h" | awk -v n="$(echo "$want" | tr , '\n' | wc -l)" \
      'NR > 1 && NR <= n + 1 {for (i = 1; i < NF; i++) if ($i == "-j") t = t (t ? "," : "") $(i+1)} END {print t}')
    [ "$have" = "$want" ] && continue
    for c in ${want//,/ }; do while iptables -w -D "$h" -j "$c" 2>/dev/null; do :; done; done
    for c in $(echo "${want//,/ }" | tr ' ' '\n' | tac); do iptables -w -I "$h" 1 -j "$c"; done
  done
}
UPLINKS=$(uplinks | grep -vx -e $LINK -e $BRIDGE || true)
setup_chains; hook_chains
ts "network ok: node $NODE_IP on $LINK, services $SVC_CIDR -> $LINK, pods $POD_SUBNET on $BRIDGE, egress guard on ${UPLINKS:-<no default route>}"

# ---------------------------------------------------------------- 5. components
declare -A STARTED=()
start() { # name cmd...   (setsid, pid file, log; skipped when already running)
  local n=$1; shift
  if running "$n"; then ts "$n already running (pid $(pidof_c "$n"))"; return; fi
  STARTED[$n]=$(date +%s)
  setsid "$@" >>"$LOGS/$n.log" 2>&1 </dev/null &
  echo $! > "$PIDS/$n.pid"; ts "started $n (pid $!)"
}
waitfor() { # name timeout-seconds cmd...   (on timeout: show the component's log tail)
  local n=$1 t=$2 i; shift 2
  for ((i = 0; i < t * 5; i++)); do
    if "$@" >/dev/null 2>&1; then ts "$n: ok"; return 0; fi
    case $n in etcd|containerd|kube-*|kubelet) running "$n" || break;; esac
    sleep 0.2
  done
  ts "FAILED waiting for $n"; [ -f "$LOGS/$n.log" ] && tail -n 25 "$LOGS/$n.log" >&2
  exit 1
}
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_LAB" --cache-dir "$STATE/kubectl-cache" "$@"; }

start etcd "$BIN" etcd --name safe-rollout-lab --data-dir "$STATE/etcd" --log-level warn \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster safe-rollout-lab=http://127.0.0.1:2380 --unsafe-no-fsync
start containerd containerd --config "$CONF/containerd.toml"
waitfor etcd 30 curl -sf http://127.0.0.1:2379/health

start kube-apiserver "$BIN" kube-apiserver \
  --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address=$NODE_IP \
  --service-cluster-ip-range=$SVC_CIDR --allow-privileged=true \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --profiling=false --v=1 \
  --audit-policy-file="$CONF/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" --audit-log-format=json \
  --audit-log-mode=blocking --audit-log-maxsize=200 --audit-log-maxbackup=3

# images -> containerd's k8s.io namespace; re-import when the tarball changed (sha256 of the tarball)
waitfor containerd 30 ctr_ version
for t in "$LAB"/images/*.tar; do
  [ -f "$t" ] || continue
  ref=$(tar -xOf "$t" manifest.json | sed -n 's/.*"RepoTags":\["\([^"]*\)".*/\1/p')
  sum=$(sha256sum "$t" | cut -d' ' -f1); stamp=$STATE/imports/$(basename "$t").sha256
  if [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && grep -qxF "$ref" <<<"$(ctr_ images ls -q)"; then continue; fi
  ctr_ images import "$t" >/dev/null; echo "$sum" > "$stamp"; ts "imported $ref (tarball sha256 ${sum:0:12})"
done
waitfor kube-apiserver 120 kc get --raw /readyz

start kube-controller-manager "$BIN" kube-controller-manager \
  --kubeconfig="$PKI/kcm.kubeconfig" --authentication-kubeconfig="$PKI/kcm.kubeconfig" --authorization-kubeconfig="$PKI/kcm.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --allocate-node-cidrs=true --cluster-cidr=$POD_CIDR --node-cidr-mask-size=24 --service-cluster-ip-range=$SVC_CIDR --v=1
start kube-scheduler "$BIN" kube-scheduler \
  --kubeconfig="$PKI/scheduler.kubeconfig" --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --v=1
start kubelet "$BIN" kubelet --config="$CONF/kubelet.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet/pki" --hostname-override=$NODE --node-ip=$NODE_IP --v=1
start kube-proxy "$BIN" kube-proxy --config="$CONF/kube-proxy.yaml" --v=1

waitfor kube-proxy 60 curl -sf http://127.0.0.1:10256/healthz
kube_jumps() { grep -q -- '-j KUBE-FORWARD' <<<"$(iptables -w -S FORWARD)" && grep -q -- '-j KUBE-SERVICES' <<<"$(iptables -w -S OUTPUT)" \
  && grep -q -- '-j KUBE-FIREWALL' <<<"$(iptables -w -S INPUT)"; }
for ((i = 0; i < 100; i++)); do kube_jumps && break; sleep 0.2; done   # soft wait (max 20 s)
hook_chains   # put ours back in front
waitfor kubelet 60 kc get node $NODE
# Ready, and reported by this kubelet (a node object from existing state may still say Ready)
node_ready() {
  local r; r=$(kc get node $NODE -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}') || return 1
  [ "${r%% *}" = True ] && [ "$(date -d "${r#* }" +%s)" -ge "${STARTED[kubelet]:-0}" ]
}
waitfor "node Ready" 120 node_ready
waitfor "serviceaccount default" 60 kc get sa default
waitfor "configmap kube-root-ca.crt" 60 kc get cm kube-root-ca.crt
# Prometheus for the --prometheus-query tests, fed by lab/prometheus-sd.sh
mkdir -p "$STATE/prometheus" "$STATE/prometheus-sd"
[ -f "$STATE/prometheus-sd/targets.json" ] || echo '[]' > "$STATE/prometheus-sd/targets.json"
start prometheus-sd "$SRC/prometheus-sd.sh" "$LAB"
start prometheus prometheus --config.file="$CONF/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
  --storage.tsdb.retention.time=2h --web.listen-address=$PROM_ADDR --log.level=warn
waitfor prometheus 60 curl -sf "http://$PROM_ADDR/-/ready"
ts "lab up. kubectl: $KUBECTL --kubeconfig $KUBECONFIG_LAB get nodes; prometheus: http://$PROM_ADDR"
