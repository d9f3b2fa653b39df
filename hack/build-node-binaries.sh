#!/usr/bin/env bash
# Builds kubelet, kube-controller-manager and kube-scheduler for the local node from the
# pinned module in hack/tools/node (the same Kubernetes version and version stamp as the
# control plane) into a cache outside the repo, once. Prints the directory holding them.
# KUBEBUILDER_ASSETS wins when it holds all three.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binaries=(kubelet kube-controller-manager kube-scheduler)
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  have=1
  for b in "${binaries[@]}"; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || have=0; done
  if ((have)); then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
fi

out="$(node_binaries_dir)"
if [[ -x "$out/kubelet" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" ]]; then
  echo "$out"
  exit 0
fi

node_version="$(required_version "$HACK_DIR/tools/node/go.mod" k8s.io/kubernetes)"
[[ "$node_version" == "$KUBE_VERSION" ]] ||
  { log "hack/tools/node pins k8s.io/kubernetes $node_version but the control plane $KUBE_VERSION: pin both to one version"; exit 1; }
command -v go >/dev/null || { log "go is not installed: it is needed once to build the node"; exit 1; }
# Two builds into one .partial directory would collide: the second waits for the first.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [[ -x "$out/kubelet" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out.partial"
stamp="$(kube_version_ldflags)"
total_start=$(date +%s)
for b in "${binaries[@]}"; do
  [[ -x "$out.partial/$b" ]] || go_build node "$out.partial/$b" "k8s.io/kubernetes/cmd/$b" "-s -w$stamp"
done
rm -rf "$out"
mv "$out.partial" "$out"
log "node binaries ready in $out ($(($(date +%s) - total_start))s)"
echo "$out"
