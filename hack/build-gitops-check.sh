#!/usr/bin/env bash
# Builds gitops-check (hack/tools/gitops: the Argo CD health check under gopher-lua, and
# kstatus as Flux computes it) from its pinned module into the cache outside the repo, once.
# Prints the path of the binary. GITOPS_CHECK (a built binary) wins when set.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_prebuilt GITOPS_CHECK

# The key covers the module and the harness's own sources.
key="$(cat "$HACK_DIR"/tools/gitops/go.{mod,sum} "$HACK_DIR"/tools/gitops/*.go | sha256sum | cut -c1-12)"
build_once gitops "$DEBUGGRANT_CACHE_DIR/bin/gitops-check-$key" gitops-check . "-s -w"
