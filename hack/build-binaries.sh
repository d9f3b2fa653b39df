#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl from the pinned Go modules in hack/tools/
# into a cache outside the repo, once. Prints the directory holding the binaries.
# KUBEBUILDER_ASSETS (the envtest convention) wins when it holds etcd and kube-apiserver.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in etcd kube-apiserver kubectl; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || { log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $b"; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

out="$(binaries_dir)"
if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kubectl" ]]; then
  echo "$out"
  exit 0
fi

[[ -n "$KUBE_VERSION" && -n "$ETCD_VERSION" ]] || { log "cannot read the pinned versions from hack/tools/*/go.mod"; exit 1; }
command -v go >/dev/null || { log "go is not installed: it is needed once to build the control plane"; exit 1; }
# One build at a time per cache: a second caller (another clone's tests) waits for the first.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kubectl" ]]; then
  echo "$out"
  exit 0
fi
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$out.partial"

build() { # module-dir binary package ldflags
  go_build "$1" "$out.partial/$2" "$3" "$4"
}

stamp="$(kube_version_ldflags)"

total_start=$(date +%s)
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "-s -w$stamp"
build kube kubectl k8s.io/kubernetes/cmd/kubectl "-s -w$stamp"
rm -rf "$out"
mv "$out.partial" "$out"
log "control-plane binaries ready in $out ($(($(date +%s) - total_start))s)"
echo "$out"
