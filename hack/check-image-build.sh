#!/usr/bin/env bash
# The Dockerfile's build steps, run without a Docker engine: npm ci, build, prune to
# production dependencies, then start the result the way the image does. Proves the
# runtime stage has everything it needs and nothing from devDependencies.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Under the Node.js major the image runs (distroless nodejsNN), whatever the caller's PATH has.
image_major="$(grep -oE 'distroless/nodejs[0-9]+' "$REPO_DIR/Dockerfile" | grep -oE '[0-9]+$' | head -1)"
PATH="$(bash "$HACK_DIR/ensure-node.sh" --exact):$PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" == "$image_major" ]] || { log "the image runs Node.js $image_major but hack/ensure-node.sh pins $node_major"; exit 1; }
log "image build check under Node.js $(node --version), npm $(npm --version)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$REPO_DIR"/package.json "$REPO_DIR"/package-lock.json "$REPO_DIR"/tsconfig.json "$REPO_DIR"/tsconfig.build.json "$work"/
cp -r "$REPO_DIR/src" "$work/src"
cd "$work"
log "image build check in $work: npm ci"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
npm run build >/dev/null
npm prune --omit=dev --ignore-scripts >/dev/null
rm -rf src tsconfig.json tsconfig.build.json
# Nothing from devDependencies may be left.
for dev in typescript jest eslint ts-jest; do
  [[ ! -e "node_modules/$dev" ]] || { log "devDependency $dev is in the runtime stage"; exit 1; }
done
# The operator starts and fails on configuration, not on a missing module.
out="$(DEBUGGRANT_CONFIG=/nonexistent NODE_ENV=production node dist/main.js 2>&1 || true)"
grep -q 'cannot read configuration file /nonexistent' <<<"$out" || { log "operator did not start: $out"; exit 1; }
node dist/cli/main.js --help | grep -q 'kubectl debuggrant' || { log "CLI did not start"; exit 1; }
log "image build check passed ($(du -sh node_modules | cut -f1) of production node_modules)"
