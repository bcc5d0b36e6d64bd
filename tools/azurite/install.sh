#!/usr/bin/env bash
# Azurite (Microsoft's Azure Storage emulator, npm package `azurite`), pinned, installed once into a
# cache outside the repo: ${XDG_CACHE_HOME:-~/.cache}/tether/azurite/<version>. Prints the path of
# its blob service entry point (azurite-blob). Needs Node.js and npm (Debian's `nodejs`/`npm`,
# installed with apt when missing and running as root).
set -euo pipefail

version="${AZURITE_VERSION:-3.37.0}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/tether/azurite/$version"
bin="$dir/node_modules/.bin/azurite-blob"

if [[ ! -x "$bin" ]]; then
  if ! command -v npm >/dev/null; then
    if [[ "$(id -u)" != 0 ]]; then
      echo "[azurite] npm is missing: install Node.js and npm (apt-get install nodejs npm), then run again" >&2
      exit 1
    fi
    echo "[azurite] installing Debian's nodejs and npm" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "[azurite] installing azurite@$version into $dir" >&2
  mkdir -p "$dir.partial"
  # --prefix keeps node_modules inside the cache; a partial directory makes an interrupted install start over.
  npm install --prefix "$dir.partial" --no-audit --no-fund --loglevel=error "azurite@$version" >&2
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
echo "$bin"
