# Shared by the hack/ scripts: where the pinned control-plane binaries live.
# Sourced, never executed.

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"
# The version a go.mod requires of a module (in a require line or block, not a replace).
required_version() { # go.mod module
  [[ -f "$1" ]] || return 0 # (the image build copies only the scripts it needs)
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

# kubelet, kube-controller-manager and kube-scheduler: their own module (hack/tools/node)
# pinned to the same Kubernetes version, cached apart so the control plane's key is unchanged.
node_binaries_dir() {
  local key
  key="$({ echo "$BUILD_RECIPE"; cat "$HACK_DIR"/tools/node/go.{mod,sum}; } | sha256sum | cut -c1-12)"
  echo "$DEBUGGRANT_CACHE_DIR/bin/node-$KUBE_VERSION-$key"
}

# The -X flags that stamp the pinned version into Kubernetes binaries (what `--version`
# and the API server's /version report).
kube_version_ldflags() {
  local ver="${KUBE_VERSION#v}" major minor p
  major="${ver%%.*}"; minor="${ver#*.}"; minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf ' -X %s' "$p.gitVersion=$KUBE_VERSION" "$p.gitMajor=$major" "$p.gitMinor=$minor" \
      "$p.gitTreeState=clean" "$p.buildDate=1970-01-01T00:00:00Z"
  done
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

# One binary of a hack/tools module, built into OUT-DIR once and printed. Two test workers
# asking at once: one builds (under a lock), the other waits and reuses it.
build_once() { # module-dir out-dir binary package ldflags
  local dir="$1" out="$2" bin="$3" pkg="$4" ldflags="$5"
  if [[ -x "$out/$bin" ]]; then echo "$out/$bin"; return 0; fi
  command -v go >/dev/null || { log "go is not installed: it is needed once to build $bin"; exit 1; }
  mkdir -p "$(dirname "$out")"
  exec 9>"$out.lock"
  flock 9
  if [[ -x "$out/$bin" ]]; then echo "$out/$bin"; return 0; fi
  rm -rf "$out.partial" && mkdir -p "$out.partial"
  go_build "$dir" "$out.partial/$bin" "$pkg" "$ldflags"
  rm -rf "$out"
  mv "$out.partial" "$out"
  log "$bin ready in $out"
  echo "$out/$bin"
}

# A prebuilt binary named by an environment variable (HELM, GITOPS_CHECK) wins: print it, done.
use_prebuilt() { # variable-name
  local path="${!1:-}"
  [[ -n "$path" ]] || return 0
  [[ -x "$path" ]] || { log "$1=$path is not executable"; exit 1; }
  echo "$path"
  exit 0
}
