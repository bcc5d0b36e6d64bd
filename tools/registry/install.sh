#!/usr/bin/env bash
# The container registry side: Debian's CNCF Distribution registry (`docker-registry`, 2.8) behind
# every Tether registry, and `skopeo`, the OCI client the e2e tests and `tether acr import` use.
# Installed with apt when missing (needs root); prints the registry binary's path.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
if (( ${#missing[@]} )); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "[registry] missing: ${missing[*]}: install them (apt-get install ${missing[*]}), then run again" >&2
    exit 1
  fi
  echo "[registry] installing Debian's ${missing[*]}" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v docker-registry
