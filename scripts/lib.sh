# Shared by the demo and measurement scripts: the lab's kubectl and the plugin on PATH.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KUBECONFIG=$ROOT/.lab/kubeconfig
export PATH=$ROOT/bin:$ROOT/.lab/bin:$PATH

# hey_counts FILE: "REQUESTS ERRORS" of a hey report; an error is a request that did not
# get a 2xx (a non-2xx answer or a transport error from hey's error distribution).
hey_counts() {
  awk '/^Status code distribution:/{s=1;next} /^Error distribution:/{s=0;e=1;next}
       s && /\[[0-9]+\]/ {code=$1; gsub(/[\[\]]/,"",code); n+=$2; if (code !~ /^2/) bad+=$2}
       e && /\[[0-9]+\]/ {v=$1; gsub(/[\[\]]/,"",v); n+=v; bad+=v}
       END{print n+0, bad+0}' "$1"
}

# wait_answering URL: a new Service's iptables rules lag its EndpointSlices (kube-proxy
# rejects connections until its next sync), so wait until it answers a few times in a row.
wait_answering() {
  local ok=0
  for _ in $(seq 150); do
    if curl -sf -m 1 -o /dev/null "$1"; then ok=$((ok + 1)); [ $ok -ge 5 ] && return 0; else ok=0; fi
    sleep 0.2
  done
  echo "timed out waiting for $1 to answer" >&2; return 1
}

# now_ms: milliseconds since the epoch
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
