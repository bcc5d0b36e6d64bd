"""Naming rules of each resource type, with messages that state the rule.

Checked before anything is written; a name that breaks its rule is an ``InvalidRequest`` with code
``InvalidResourceName`` (``InvalidNamespace`` for Kubernetes namespaces) naming the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tether.domain import resource_types as rt
from tether.errors import InvalidRequest


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    description: str


_RULES: dict[str, NameRule] = {
    rt.RESOURCE_GROUPS: NameRule(
        re.compile(r"^[-\w.()]{0,89}[-\w()]$"),
        "1-90 characters: letters, digits, '_', '-', '.', '(' and ')', not ending with '.'",
    ),
    rt.WORKSPACES: NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$"),
        "3-33 characters: letters, digits, '_' and '-', starting with a letter or digit",
    ),
    rt.COMPUTES: NameRule(
        re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$"),
        "2-16 characters: letters, digits and '-', starting with a letter and not ending with '-'",
    ),
    rt.JOBS: NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"),
        "1-255 characters: letters, digits, '_' and '-', starting with a letter or digit",
    ),
    rt.MANAGED_CLUSTERS: NameRule(
        re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$"),
        "1-63 characters: letters, digits, '_' and '-', starting and ending with a letter or digit",
    ),
    rt.CONNECTED_CLUSTERS: NameRule(
        re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$"),
        "1-63 characters: letters, digits, '_' and '-', starting and ending with a letter or digit",
    ),
    rt.EXTENSIONS: NameRule(
        re.compile(r"^[a-z0-9]([a-z0-9-.]{0,251}[a-z0-9])?$"),
        "1-253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
    ),
    rt.USER_ASSIGNED_IDENTITIES: NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$"),
        "3-128 characters: letters, digits, '_' and '-', starting with a letter or digit",
    ),
    rt.STORAGE_ACCOUNTS: NameRule(
        re.compile(r"^[a-z0-9]{3,24}$"),
        "3-24 lower-case letters and digits (the name is part of the account's blob endpoint)",
    ),
    rt.REGISTRIES: NameRule(
        re.compile(r"^[A-Za-z0-9]{5,50}$"),
        "5-50 letters and digits (the name is unique across subscriptions)",
    ),
    rt.BLOB_CONTAINERS: NameRule(
        re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$"),
        "3-63 lower-case letters, digits and single '-', starting and ending with a letter or digit",
    ),
    rt.DATASTORES: NameRule(
        re.compile(r"^[A-Za-z0-9_]{1,255}$"),
        "1-255 letters, digits and '_'",
    ),
}
# Azure ML asset names and versions (environments, code): letters, digits, '-', '_' and '.'.
_ASSET_RULE = NameRule(
    re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$"),
    "1-255 characters: letters, digits, '_', '-' and '.', starting with a letter, digit or '_'",
)
_RULES.update({t: _ASSET_RULE for t in (rt.ENVIRONMENTS, rt.ENVIRONMENT_VERSIONS, rt.CODES, rt.CODE_VERSIONS)})

_KUBERNETES_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def validate_name(full_type: str, name: str) -> str:
    """Return ``name`` if it follows the rule of ``full_type``; types without a rule accept any id-safe name."""
    rule = _RULES.get(full_type)
    if rule is not None and not rule.pattern.fullmatch(name):
        kind = full_type.rsplit("/", 1)[-1]
        raise InvalidRequest(
            f"'{name}' is not a valid name for {kind}: use {rule.description}.",
            code="InvalidResourceName",
            target="name",
        )
    return name


def validate_kubernetes_namespace(namespace: str) -> str:
    """RFC 1123 label: what Kubernetes accepts as a namespace name."""
    if not _KUBERNETES_NAMESPACE.fullmatch(namespace):
        raise InvalidRequest(
            f"'{namespace}' is not a valid Kubernetes namespace: use at most 63 lower-case letters, digits "
            "and '-', starting and ending with a letter or digit (RFC 1123 label).",
            code="InvalidNamespace",
            target="properties.properties.namespace",
        )
    return namespace
