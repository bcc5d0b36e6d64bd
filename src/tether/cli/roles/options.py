"""What the role commands' shared options say and how their values are read (also used by ``ad``, ``identity``).

``--scope`` and ``-g`` become one scope as az builds it; repeatable list options also take space-separated
values in one argument, as az's lists do.
"""

from __future__ import annotations

import re

import click

from tether.client import TetherClient, ids

_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)
PRINCIPAL_TYPES = ("ServicePrincipal",)

SCOPE_HELP = (
    "Scope the assignment applies to, a resource id such as /subscriptions/<sub>/resourceGroups/<group> "
    "or a resource's id (leading '/' optional)."
)
ASSIGNEE_HELP = (
    "Who: a service principal's or managed identity's object id, app (client) id, or display name "
    "(e.g. ws1/computes/k8s-compute for a compute target's identity)."
)
ROLE_HELP = "Role name (e.g. Reader, Contributor, AcrPull), role GUID, or role definition id."


def split_values(values: tuple[str, ...]) -> list[str]:
    """Values of a repeatable option that also takes space-separated values in one argument (as az's lists)."""
    return [v for item in values for v in item.split()]


def resource_group_of(resource_id: str) -> str | None:
    """The resource group named in a resource or scope id (az prints it as ``resourceGroup``), if any."""
    match = _RESOURCE_GROUP.search(resource_id)
    return match.group(1) if match else None


def build_scope(client: TetherClient, resource_group: str | None, scope: str | None) -> str:
    """az's rule: --scope, else the resource group's id, else the subscription; both is a usage error."""
    if scope and resource_group:
        raise click.UsageError(
            f"Resource group '{resource_group}' is redundant because --scope is supplied; give one of them."
        )
    if scope:
        return ids.scope(scope)
    if resource_group:
        return ids.resource_group(client.profile, resource_group)
    return ids.subscription(client.profile)
