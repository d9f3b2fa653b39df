#!/usr/bin/env bash
# The Dockerfile's build steps, run without a Docker engine: npm ci, npm run bundle, then
# the runtime stage's files alone in a directory, started the way the image starts them.
# Proves the bundle needs nothing beside it, and measures what the image adds to the Node
# runtime (budget: IMAGE_CONTENT_BUDGET_MB, 30 MB).
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
# The build stage: what the Dockerfile COPYs, nothing else.
mkdir -p "$work/build/hack" "$work/image"
cp "$REPO_DIR"/package.json "$REPO_DIR"/package-lock.json "$REPO_DIR"/tsconfig.json "$work/build/"
cp "$REPO_DIR"/hack/{bundle.ts,cli-layout.ts,third-party-licenses.ts,with-node.sh,ensure-node.sh,lib.sh} "$work/build/hack/"
cp -r "$REPO_DIR/src" "$work/build/src"
cd "$work/build"
log "image build check in $work: npm ci, npm run bundle"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
npm run bundle >/dev/null
node hack/third-party-licenses.ts
# The runtime stage: the files the Dockerfile copies into /app, alone.
runtime_files="$(sed -n 's|^COPY --from=build \(.*\) \./$|\1|p' "$REPO_DIR/Dockerfile")"
[[ -n "$runtime_files" ]] || { log "cannot read the runtime stage's COPY --from=build line from the Dockerfile"; exit 1; }
for f in $runtime_files; do cp "${f#/app/}" "$work/image/"; done
cp "$REPO_DIR/LICENSE" "$work/image/"
# The CMD's arguments to node (its flags, then the entry), from its exec form.
mapfile -t cmd < <(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").find((x) => x.startsWith("CMD ")); for (const a of JSON.parse(l.slice(4))) console.log(a)' "$REPO_DIR/Dockerfile")
((${#cmd[@]} > 0)) || { log "cannot read the CMD line from the Dockerfile"; exit 1; }
cd "$work/image"
# The operator starts and fails on configuration, not on a missing module.
out="$(DEBUGGRANT_CONFIG=/nonexistent NODE_ENV=production node "${cmd[@]}" 2>&1 || true)"
grep -q 'cannot read configuration file /nonexistent' <<<"$out" || { log "operator did not start from ${cmd[*]} alone: $out"; exit 1; }
bytes="$(du -sb . | cut -f1)"
budget_mb="${IMAGE_CONTENT_BUDGET_MB:-30}"
mb="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
((bytes <= budget_mb * 1048576)) || { log "the image adds $mb MB to the Node runtime, over the $budget_mb MB budget"; exit 1; }
log "image build check passed: the image adds $mb MB to the Node runtime ($(ls | tr '\n' ' '))"
