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
  { echo "$BUILD_RECIPE"; cat "$HACK_DIR"/tools/{etcd,kube}/go.mod "$HACK_DIR"/tools/{etcd,kube}/go.sum; } | sha256sum | cut -c1-12
}

binaries_dir() {
  echo "$DEBUGGRANT_CACHE_DIR/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-$(binaries_key)"
}

log() { printf '[hack] %s\n' "$*" >&2; }

# go build of a package of one of the hack/tools modules. go build -v names each package
# as it compiles; a line every 200 shows a multi-minute cold build is moving.
go_build() { # module-dir output package ldflags
  local dir="$1" output="$2" pkg="$3" ldflags="$4" bin start n=0
  bin="$(basename "$output")"
  start=$(date +%s)
  log "building $bin ($pkg) — a one-off, a few minutes on a cold cache"
  (cd "$HACK_DIR/tools/$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$output" "$pkg" 2>&1) |
    while IFS= read -r line; do
      n=$((n + 1))
      # package paths have no spaces; compiler errors and "# pkg" headers do
      if [[ "$line" == *" "* ]]; then printf '%s\n' "$line" >&2; fi
      if ((n % 200 == 0)); then log "  $bin: $n packages compiled, $(($(date +%s) - start))s"; fi
    done
  [[ -x "$output" ]] || { log "building $bin failed"; exit 1; }
  log "built $bin in $(($(date +%s) - start))s"
}
