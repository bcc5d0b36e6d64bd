#!/usr/bin/env bash
# Build the real node's images locally (no registry is ever contacted) into a cache outside the repo.
#
#   tools/images/build.sh          # prints the directory holding base.tar, pause.tar and `references`
#
# * base: Debian minbase (mmdebstrap, from the Debian mirror apt uses) with python3, plus a second
#   layer of pinned PyPI wheels (azure-identity, azure-storage-blob) in /usr/local/lib/python3.11/dist-packages.
# * pause: the static Go program in tools/images/pause (the pod sandbox).
# Both are docker archives (tools/images/pack.py) that `tether local-cluster up` imports into the real
# node's containerd. The cache key is a hash of this directory's inputs, so any change rebuilds.
# mmdebstrap is installed with apt-get when missing (as root).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
python="${PYTHON:-python3}"

key="$(cat "$here/versions.env" "$here/build.sh" "$here/pack.py" "$here/pause/main.go" "$here/pause/go.mod" | sha256sum | cut -c1-16)"
out="${XDG_CACHE_HOME:-$HOME/.cache}/tether/images/$key"
# `current` points at the newest build; `tether local-cluster` reads it (it has no repository to hash).
if [[ -f "$out/references" ]]; then
  ln -sfn "$key" "$(dirname "$out")/current"
  echo "$out"
  exit 0
fi
log() { echo "[tools/images] $*" >&2; }
if ! command -v mmdebstrap >/dev/null; then
  [[ $(id -u) -eq 0 ]] || { echo "tools/images/build.sh: mmdebstrap is required (apt-get install mmdebstrap as root)" >&2; exit 1; }
  log "installing mmdebstrap with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >&2
fi
command -v go >/dev/null || { echo "tools/images/build.sh: Go is required (go 1.26+) for the pause image" >&2; exit 1; }

mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
started=$(date +%s)

log "pause image"
mkdir -p "$tmp/pause-root"
(cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/pause-root/pause" .)
tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$tmp/pause-root" -cf "$tmp/pause-layer.tar" pause
"$python" "$here/pack.py" "$tmp/pause.tar" "$PAUSE_REFERENCE" --layer "$tmp/pause-layer.tar" --cmd /pause

log "base image: Debian $DEBIAN_SUITE minbase + python3 (mmdebstrap)"
mmdebstrap --quiet --variant=minbase --include=python3 --aptopt='Acquire::Retries "3"' \
  "$DEBIAN_SUITE" "$tmp/debian.tar" "$DEBIAN_MIRROR" >&2
log "base image: azure-identity $AZURE_IDENTITY_VERSION, azure-storage-blob $AZURE_STORAGE_BLOB_VERSION (wheels)"
site="$tmp/pip-root/usr/local/lib/python3.11/dist-packages"
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --only-binary=:all: \
  --python-version 3.11 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --implementation cp \
  --target "$site" "azure-identity==$AZURE_IDENTITY_VERSION" "azure-storage-blob==$AZURE_STORAGE_BLOB_VERSION" >&2
tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$tmp/pip-root" -cf "$tmp/pip-layer.tar" usr
"$python" "$here/pack.py" "$tmp/base.tar" "$BASE_REFERENCE" --layer "$tmp/debian.tar" --layer "$tmp/pip-layer.tar" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env PYTHONUNBUFFERED=1 --cmd python3

mv "$tmp/base.tar" "$tmp/pause.tar" "$out/"
printf '%s\n%s\n' "$BASE_REFERENCE" "$PAUSE_REFERENCE" > "$out/references.partial"
mv "$out/references.partial" "$out/references"
ln -sfn "$key" "$(dirname "$out")/current"
log "built in $(( $(date +%s) - started )) s into $out"
echo "$out"
