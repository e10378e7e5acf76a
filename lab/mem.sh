#!/bin/bash
# Memory of the running lab (MiB): each component (PID files), containerd shims, pod processes
# (RSS and PSS), plus the kubepods cgroup usage.   usage: lab/mem.sh [LAB_DIR]
# PSS splits shared pages (the one k8s binary is mapped by 6 processes) fairly: sum PSS for totals.
SRC=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$SRC")
LAB=$(realpath -m "${1:-$ROOT/.lab}")
. "$SRC/common.sh"
rss() { awk '/^VmRSS:/{print $2}' /proc/$1/status 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/{print $2}' /proc/$1/smaps_rollup 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN{printf "%7.1f", k/1024}'; }
row() { printf '%-26s %-12s RSS %s MiB   PSS %s MiB\n' "$1" "$2" "$(mib "$3")" "$(mib "$4")"; }
tr_=0; tp=0
for n in $COMPONENTS; do
  running "$n" || { printf '%-26s stopped\n' "$n"; continue; }
  p=$(pidof_c "$n"); r=$(rss $p); s=$(pss $p); r=${r:-0}; s=${s:-0}
  row "$n" "pid $p" $r $s; tr_=$((tr_ + r)); tp=$((tp + s))
done
sr=0; sp=0; n=0
for p in $(lab_shims); do r=$(rss $p); s=$(pss $p); sr=$((sr + ${r:-0})); sp=$((sp + ${s:-0})); n=$((n + 1)); done
row "containerd-shims (x$n)" "" $sr $sp
pr=0; pp=0; m=0
for f in /sys/fs/cgroup/memory/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$f" ] || continue
  for p in $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
    r=$(rss $p); s=$(pss $p); pr=$((pr + ${r:-0})); pp=$((pp + ${s:-0})); m=$((m + 1))
  done
done
row "pod processes (x$m)" "(incl pause)" $pr $pp
tot_r=$((tr_ + sr + pr)); tot_p=$((tp + sp + pp))
row "TOTAL" "" $tot_r $tot_p
u=$(cat /sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes 2>/dev/null || cat /sys/fs/cgroup/kubepods/memory.current 2>/dev/null || echo 0)
printf '%-26s %-12s %s MiB (cgroup usage, incl. page cache)\n' "kubepods cgroup" "" "$(mib $((u / 1024)))"
