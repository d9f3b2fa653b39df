#!/usr/bin/env bash
# Builds helm from the pinned Go module in hack/tools/helm into the cache outside the
# repo, once (the chart tests render and lint with it). Prints the path of the binary.
# HELM (a helm binary) wins when set.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_prebuilt HELM

version="$(required_version "$HACK_DIR/tools/helm/go.mod" helm.sh/helm/v4)"
[[ -n "$version" ]] || { log "cannot read the pinned helm version from hack/tools/helm/go.mod"; exit 1; }
key="$(cat "$HACK_DIR/tools/helm/go.mod" "$HACK_DIR/tools/helm/go.sum" | sha256sum | cut -c1-12)"
build_once helm "$DEBUGGRANT_CACHE_DIR/bin/helm-$version-$key" helm helm.sh/helm/v4/cmd/helm \
  "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
