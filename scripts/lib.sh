# Shared by the demo and measurement scripts: the lab's kubectl and the plugin on PATH.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KUBECONFIG=$ROOT/.lab/kubeconfig
export PATH=$ROOT/bin:$ROOT/.lab/bin:$PATH

# hey_errors FILE: requests that did not get a 2xx (non-2xx answers + transport errors).
hey_errors() {
  awk '/^Status code distribution:/{s=1;next} /^Error distribution:/{s=0;e=1;next}
       s && /\[[0-9]+\]/ {code=$1; gsub(/[\[\]]/,"",code); if (code !~ /^2/) n+=$2}
       e && /\[[0-9]+\]/ {v=$1; gsub(/[\[\]]/,"",v); n+=v}
       END{print n+0}' "$1"
}
hey_total() {
  awk '/^Status code distribution:/{s=1;next} /^Error distribution:/{s=0;e=1;next}
       s && /\[[0-9]+\]/ {n+=$2} e && /\[[0-9]+\]/ {v=$1; gsub(/[\[\]]/,"",v); n+=v} END{print n+0}' "$1"
}
