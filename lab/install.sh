#!/bin/bash
# The host packages the lab needs, from Debian's apt, only those missing (apt-get update only
# when an install fails). Called by lab/up.sh; make test runs it (with lab-build) beside the
# unit tests, so the downloads overlap the compiles.
# usage: lab/install.sh [LAB_DIR]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "lab-install: installing the lab's packages needs root: sudo make lab-prepare" >&2; exit 1; }
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:-$ROOT/.lab}")
. "$SRC/common.sh"
export DEBIAN_FRONTEND=noninteractive
need=()
chk() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || need+=("$2"); }
chk containerd containerd; chk ctr containerd; chk runc runc; chk /usr/lib/cni/bridge containernetworking-plugins
chk /usr/lib/cni/host-local containernetworking-plugins; chk /usr/lib/cni/portmap containernetworking-plugins
chk iptables iptables; chk conntrack conntrack; chk hey hey; chk openssl openssl
chk ip iproute2; chk curl curl; chk make make; chk setsid util-linux
mkdir -p "$LOGS"
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  ts "installing ${need[*]} (apt)"
  apt-get install -y -q "${need[@]}" >"$LOGS/apt.log" 2>&1 || { ts "apt-get update"; apt-get update -q >>"$LOGS/apt.log" 2>&1; apt-get install -y -q "${need[@]}" >>"$LOGS/apt.log" 2>&1; } \
    || { cat "$LOGS/apt.log" >&2; echo "lab-up: apt-get install ${need[*]} failed" >&2; exit 1; }
  rm -f "$LOGS/apt.log"; ts "installed ${need[*]}"
fi
# Prometheus (for the --prometheus-query tests): Debian's package without recommends (no
# node-exporter), its own daemon kept from starting while it installs (policy-rc.d): the lab
# runs its own instance (section 5), on loopback, with file_sd targets (lab/prometheus-sd.sh).
if ! command -v prometheus >/dev/null 2>&1; then
  ts "installing prometheus (apt, no recommends, its service not started)"
  policy=/usr/sbin/policy-rc.d; own_policy=
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod 0755 $policy; own_policy=1; fi
  # '|| rc=$?' keeps set -e from leaving before the policy is removed: left behind, it would
  # stop every later package's service from starting.
  rc=0
  apt-get install -y -q --no-install-recommends prometheus >"$LOGS/apt.log" 2>&1 || { apt-get update -q >>"$LOGS/apt.log" 2>&1; apt-get install -y -q --no-install-recommends prometheus >>"$LOGS/apt.log" 2>&1; } || rc=$?
  [ -n "$own_policy" ] && rm -f $policy
  [ $rc = 0 ] || { cat "$LOGS/apt.log" >&2; echo "lab-up: apt-get install prometheus failed" >&2; exit 1; }
  rm -f "$LOGS/apt.log"; ts "installed prometheus ($(prometheus --version 2>&1 | head -1))"
fi
