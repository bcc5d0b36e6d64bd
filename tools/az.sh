#!/usr/bin/env bash
# The unmodified azure-cli from PyPI in its own virtual environment, for the az e2e tier.
# Cached outside the repo, keyed by version: ${XDG_CACHE_HOME:-~/.cache}/tether/az/<version>.
# Prints the path of the `az` executable. A later run finds it installed and only prints.
#
#   tools/az.sh            # the pinned version
#   TETHER_AZ_VERSION=2.90.0 tools/az.sh
set -euo pipefail

version="${TETHER_AZ_VERSION:-2.91.0}"
prefix="${XDG_CACHE_HOME:-$HOME/.cache}/tether/az/$version"
python="${PYTHON:-python3}"

# The stamp is written last, so an interrupted install is redone from scratch.
if [[ ! -f "$prefix/.installed" ]]; then
  echo "[az] installing azure-cli $version into $prefix (a few minutes, once)" >&2
  rm -rf "$prefix"
  "$python" -m venv "$prefix"
  "$prefix/bin/pip" install -q --disable-pip-version-check "azure-cli==$version" >&2
  touch "$prefix/.installed"
fi
echo "$prefix/bin/az"
