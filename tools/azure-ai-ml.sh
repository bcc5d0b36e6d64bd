#!/usr/bin/env bash
# The unmodified azure-ai-ml from PyPI in its own virtual environment, for the SDK e2e tests.
# Cached outside the repo, keyed by version: ${XDG_CACHE_HOME:-~/.cache}/tether/azure-ai-ml/<version>.
# Prints the path of that environment's `python`. A later run finds it installed and only prints.
#
#   tools/azure-ai-ml.sh            # the pinned version
#   TETHER_AZURE_AI_ML_VERSION=1.36.0 tools/azure-ai-ml.sh
set -euo pipefail

version="${TETHER_AZURE_AI_ML_VERSION:-1.35.2}"
prefix="${XDG_CACHE_HOME:-$HOME/.cache}/tether/azure-ai-ml/$version"
python="${PYTHON:-python3}"

# The stamp is written last, so an interrupted install is redone from scratch.
if [[ ! -f "$prefix/.installed" ]]; then
  echo "[azure-ai-ml] installing azure-ai-ml $version into $prefix (a minute or two, once)" >&2
  rm -rf "$prefix"
  "$python" -m venv "$prefix"
  "$prefix/bin/pip" install -q --disable-pip-version-check "azure-ai-ml==$version" "azure-identity>=1.17" >&2
  touch "$prefix/.installed"
fi
echo "$prefix/bin/python"
