#!/usr/bin/env bash
# Build the local cluster's binaries from Go modules into a cache outside the repo.
#
#   tools/kube/build.sh            # prints the directory holding the binaries
#
# The directory is ${XDG_CACHE_HOME:-~/.cache}/tether/kube/<key>, where <key> names every pinned
# version, so a version bump builds afresh and an unchanged pin is a no-op. Binaries are static
# (CGO_ENABLED=0) and carry their real version (ldflags), so /version answers e.g. v1.36.3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
out="${XDG_CACHE_HOME:-$HOME/.cache}/tether/kube/$key"
bin="$out/bin"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)

complete() {
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if complete; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "tools/kube/build.sh: Go is required (go 1.26+) to build the local cluster" >&2; exit 1; }
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath"
started=$(date +%s)
log() { echo "[tools/kube] $*" >&2; }

minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
kube_ldflags="-s -w -X $vpkg.gitVersion=$KUBERNETES_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
# Build into a temporary directory and move into place, so an interrupted build never leaves a
# half-written binary that `complete` would accept.
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "building etcd $ETCD_VERSION"
(cd "$here/etcd" && go build -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
log "building kwok $KWOK_VERSION"
(cd "$here/kwok" && go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
log "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION (the long part: ~10-25 min cold on 2 cores)"
(cd "$here/kubernetes" && go build -ldflags "$kube_ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)

for b in "${binaries[@]}"; do mv "$tmp/$b" "$bin/$b"; done
log "built in $(( $(date +%s) - started )) s into $bin"
echo "$bin"
