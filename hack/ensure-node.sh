#!/usr/bin/env bash
# Prints a directory whose `node` is Node.js 24 or newer, for the project's scripts to put
# first on PATH. When the machine's node is older, Node 24 comes from the npm registry's
# node-<os>-<arch> package (the binary the `node` package itself installs), cached outside the repo.
# With --exact, only Node.js of exactly this major will do (the image's runtime, for its build check).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_VERSION=24.21.0
want_major=${NODE_VERSION%%.*}

if command -v node >/dev/null; then
  have=$(node -p 'process.versions.node.split(".")[0]')
  if ((have == want_major)) || { ((have > want_major)) && [[ "${1:-}" != --exact ]]; }; then dirname "$(command -v node)"; exit 0; fi
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) log "no Node.js package for $(uname -m)"; exit 1 ;;
esac
pkg="node-linux-$arch"
dir="$DEBUGGRANT_CACHE_DIR/node/$NODE_VERSION"
bin="$dir/node_modules/$pkg/bin"
if [[ ! -x "$bin/node" ]]; then
  command -v npm >/dev/null || { log "npm is needed once to fetch Node.js $NODE_VERSION"; exit 1; }
  log "fetching Node.js $NODE_VERSION ($pkg) from the npm registry"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    "$pkg@$NODE_VERSION" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
