# Shared by the hack/ scripts: where the pinned control-plane binaries live.
# Sourced, never executed.

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"
# The version a go.mod requires of a module (in a require line or block, not a replace).
required_version() { # go.mod module
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) && $0 !~ /=>/ { print ($1 == m ? $2 : $3); exit }' "$1"
}
KUBE_VERSION="$(required_version "$HACK_DIR/tools/kube/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(required_version "$HACK_DIR/tools/etcd/go.mod" go.etcd.io/etcd/server/v3)"
DEBUGGRANT_CACHE_DIR="${DEBUGGRANT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/debuggrant}"

# The cache key covers every pinned input, so a changed go.mod/go.sum builds afresh
# instead of silently reusing binaries of another version. Bump BUILD_RECIPE when
# build-binaries.sh changes how the binaries are made (flags, stamps).
BUILD_RECIPE=1
binaries_key() {
  { echo "$BUILD_RECIPE"; cat "$HACK_DIR"/tools/*/go.mod "$HACK_DIR"/tools/*/go.sum; } | sha256sum | cut -c1-12
}

binaries_dir() {
  echo "$DEBUGGRANT_CACHE_DIR/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-$(binaries_key)"
}

log() { printf '[hack] %s\n' "$*" >&2; }
