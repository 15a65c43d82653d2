#!/usr/bin/env bash
# Regenerates packaging/kubernetes/flowscope.yaml: the Helm chart rendered with its defaults
# into namespace flowscope, with the token taken from a Secret the operator creates (a
# committed manifest must not carry a token). Uses the chart renderer in
# test/packaging/helm-render (Go text/template + sprig from Debian), no helm binary needed:
#   apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
#   bash packaging/kubernetes/render.sh [OUT]     (default: packaging/kubernetes/flowscope.yaml)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-packaging/kubernetes/flowscope.yaml}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="${GOCACHE:-$work/gocache}" GOTMPDIR="$work" \
  go build -o "$work/helm-render" ./test/packaging/helm-render

{
  cat <<'HEADER'
# flowscope DaemonSet, rendered from packaging/helm/flowscope with its default values
# (regenerate with: bash packaging/kubernetes/render.sh). Before applying, create the
# bearer token for the agent's port:
#   kubectl apply -f flowscope.yaml     (creates the namespace first)
#   kubectl -n flowscope create secret generic flowscope-token --from-literal=token="$(openssl rand -hex 32)"
# The agents start once the Secret exists. Privileges, host paths and RBAC are explained
# in packaging/helm/flowscope/values.yaml.
---
apiVersion: v1
kind: Namespace
metadata:
  name: flowscope
  labels:
    app.kubernetes.io/name: flowscope
    # hostPID, hostPath and added capabilities are outside the baseline and restricted
    # Pod Security Standards: the agent's namespace must allow them.
    pod-security.kubernetes.io/enforce: privileged
HEADER
  "$work/helm-render" --name flowscope --namespace flowscope --set token.existingSecret=flowscope-token packaging/helm/flowscope
} > "$out.tmp"
mv "$out.tmp" "$out"
