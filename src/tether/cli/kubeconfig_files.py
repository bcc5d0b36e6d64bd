"""Reading a user's kubeconfig for ``tether aks create``: one context, with referenced files inlined.

The server may run elsewhere, so it gets the credentials themselves (``*-data``), not paths on
this machine, and only for the chosen context (the same as ``kubectl config view --raw --flatten
--minify``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import click
import yaml

from tether.kube.access import one_context

_FILE_FIELDS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
}


def _inline(section: dict[str, Any], base: Path) -> None:
    for field, data_field in _FILE_FIELDS.items():
        ref = section.pop(field, None)
        if ref:
            path = (base / ref).expanduser()
            try:
                section[data_field] = base64.b64encode(path.read_bytes()).decode()
            except OSError as e:
                raise click.BadParameter(
                    f"cannot read {path} ({field}): {e.strerror}", param_hint="--kubeconfig"
                ) from e
    token_file = section.pop("tokenFile", None)
    if token_file:
        section["token"] = (base / token_file).expanduser().read_text().strip()


def flattened_kubeconfig(path: Path, *, context: str | None) -> str:
    """The kubeconfig at ``path`` reduced to one context with every referenced file inlined."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise click.BadParameter(f"cannot read {path}: {e}", param_hint="--kubeconfig") from e
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path} is not a kubeconfig", param_hint="--kubeconfig")
    chosen = context or document.get("current-context")
    contexts = {c.get("name"): c for c in document.get("contexts") or []}
    if chosen not in contexts:
        known = ", ".join(sorted(str(k) for k in contexts)) or "none"
        raise click.BadParameter(f"context '{chosen}' is not in {path} (contexts: {known})", param_hint="--context")
    reduced = one_context(document, str(chosen))
    for item in reduced["clusters"]:
        _inline(item.setdefault("cluster", {}), path.parent)
    for item in reduced["users"]:
        _inline(item.setdefault("user", {}), path.parent)
    return str(yaml.safe_dump(reduced, sort_keys=False))
