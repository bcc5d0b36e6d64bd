#!/usr/bin/env bash
# Build the real node's binaries (kubelet, containerd, its runc shim, runc, the CNI loopback plugin)
# from Go modules into a cache outside the repo.
#
#   tools/kube/build_node.sh       # prints the directory holding the binaries
#
# The directory is ${XDG_CACHE_HOME:-~/.cache}/tether/kube/<key>, <key> naming every pinned version
# (see versions.env), beside the control plane's directory of tools/kube/build.sh. runc needs cgo and
# libseccomp's headers: Debian's libseccomp-dev is installed with apt-get when missing (as root; the
# real node needs root anyway). Everything else is static (CGO_ENABLED=0).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

key="node-${KUBERNETES_VERSION}_containerd-${CONTAINERD_VERSION}_runc-${RUNC_VERSION}_cni-${CNI_PLUGINS_VERSION}"
out="${XDG_CACHE_HOME:-$HOME/.cache}/tether/kube/$key"
bin="$out/bin"
binaries=(kubelet containerd containerd-shim-runc-v2 ctr runc loopback)

complete() {
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if complete; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "tools/kube/build_node.sh: Go is required (go 1.26+) to build the real node" >&2; exit 1; }
log() { echo "[tools/kube node] $*" >&2; }
if ! pkg-config --exists libseccomp 2>/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "tools/kube/build_node.sh: runc needs libseccomp-dev and pkg-config (apt-get install libseccomp-dev pkg-config as root)" >&2
    exit 1
  fi
  log "installing libseccomp-dev and pkg-config with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config gcc >&2
fi
mkdir -p "$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"
started=$(date +%s)
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "building containerd $CONTAINERD_VERSION, its runc shim and ctr"
cversion=github.com/containerd/containerd/v2/version
(cd "$here/runtime" && CGO_ENABLED=0 go build -tags "no_btrfs no_devmapper no_zfs no_cri_dbus" \
  -ldflags "-s -w -X $cversion.Version=$CONTAINERD_VERSION -X $cversion.Revision=tether" -o "$tmp/" \
  github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr)

log "building runc $RUNC_VERSION (cgo, seccomp)"
(cd "$here/runtime" && CGO_ENABLED=1 go build -tags "seccomp urfave_cli_no_docs" \
  -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" -o "$tmp/runc" github.com/opencontainers/runc)

log "building the CNI loopback plugin $CNI_PLUGINS_VERSION"
(cd "$here/runtime" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$tmp/loopback" \
  github.com/containernetworking/plugins/plugins/main/loopback)

# Last: its packages are mostly those tools/kube/build.sh compiled already (shared Go build cache).
minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
kube_ldflags="-s -w -X $vpkg.gitVersion=$KUBERNETES_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
log "building kubelet $KUBERNETES_VERSION"
(cd "$here/kubernetes" && CGO_ENABLED=0 go build -ldflags "$kube_ldflags" -o "$tmp/kubelet" k8s.io/kubernetes/cmd/kubelet)

for b in "${binaries[@]}"; do mv "$tmp/$b" "$bin/$b"; done
log "built in $(( $(date +%s) - started )) s into $bin"
echo "$bin"
