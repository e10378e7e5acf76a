#!/bin/bash
# Generate the lab's CA, component certificates, service-account key pair and kubeconfigs.
# usage: lab/pki.sh LAB_DIR     (writes LAB_DIR/pki/* and LAB_DIR/kubeconfig; idempotent)
# Kubeconfigs are written as plain YAML (no kubectl needed).
set -euo pipefail
LAB=${1:?usage: pki.sh LAB_DIR}
PKI=$LAB/pki; NODE_IP=10.200.200.1; NODE=safe-rollout-lab
mkdir -p "$PKI"; chmod 700 "$PKI"; cd "$PKI"
if [ -f ca.crt ] && [ -f admin.kubeconfig ] && [ -f "$LAB/kubeconfig" ]; then echo "pki exists"; exit 0; fi
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=safe-rollout-lab-ca" 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
mk() { # name CN O [SAN]
  local n=$1 cn=$2 o=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/CN=$cn${o:+/O=$o}" 2>/dev/null
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > $n.ext
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 3650 -extfile $n.ext 2>/dev/null
  rm -f $n.csr $n.ext
}
mk apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP"
mk apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
mk admin kubernetes-admin system:masters
mk kcm system:kube-controller-manager ""
mk scheduler system:kube-scheduler ""
mk kube-proxy system:kube-proxy ""
mk kubelet system:node:$NODE system:nodes
b64() { base64 -w0 < "$1"; }
kc() { # name -> name.kubeconfig
  cat > $1.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
- name: safe-rollout-lab
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $(b64 ca.crt)
users:
- name: $1
  user:
    client-certificate-data: $(b64 $1.crt)
    client-key-data: $(b64 $1.key)
contexts:
- name: safe-rollout-lab
  context: {cluster: safe-rollout-lab, user: $1, namespace: default}
current-context: safe-rollout-lab
KC
}
for n in admin kcm scheduler kube-proxy kubelet; do kc $n; done
cp admin.kubeconfig "$LAB/kubeconfig"
echo "pki generated in $PKI"
