#!/usr/bin/env bash
# Runs a command with Node.js 24+ first on PATH (fetched once from the npm registry if needed).
set -euo pipefail
node_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/ensure-node.sh")"
export PATH="$node_bin:$PATH"
exec "$@"
