#!/usr/bin/env bash
# `npm test`: every step runs even when an earlier one failed (an integration failure must not
# hide the node tests' result), then the run fails naming each step that failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
failed=()
step() {
  local name="$1"; shift
  echo "[test] ${name}: $*"
  "$@" || failed+=("$name")
}
step typecheck npm run typecheck
step lint npm run lint
step unit npm run test:unit
step image-build bash hack/check-image-build.sh
step integration npm run test:integration
step node npm run test:node
if ((${#failed[@]} > 0)); then
  echo "[test] FAILED steps: ${failed[*]}" >&2
  exit 1
fi
echo "[test] all steps passed"
