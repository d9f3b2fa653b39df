#!/usr/bin/env bash
# `npm run local`: a real control plane on loopback (and, from the operator issue on,
# the operator and a sample grant). `npm run local -- stop` stops a plane left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node_bin="$(bash hack/ensure-node.sh)"
export PATH="$node_bin:$PATH"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
exec node hack/local.ts "$@"
