"""Resources across types: ``/resources`` lists, resource providers, locations (``az resource``,
``az provider``, ``az account list-locations``).

A ``/resources`` list shows every tracked resource under a subscription or group that the caller may
read, whatever its type (so ML workspaces, computes, clusters and identities are reachable with ``az
resource`` when their own az extensions cannot be installed), filtered by ARM's ``$filter``
(``domain.resource_filters``). Resource groups and jobs are not in it, as in ARM.

Providers list each served type with the api-versions az may choose from: Tether accepts any
well-formed api-version, so these are the versions Azure's own clients use, not a limit.
Locations: Tether does not place resources anywhere, so any name is accepted; the list offers
Azure's common region names plus every location already used in the subscription.
"""

from __future__ import annotations

from typing import Any

from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.resource_filters import parse_filter
from tether.domain.resource_types import canonical_namespace
from tether.domain.resources import Resource
from tether.errors import NotFound
from tether.providers.base import Page, RequestContext
from tether.providers.envelope import envelope, rfc3339
from tether.store import resources

_NOT_LISTED = {
    rt.RESOURCE_GROUPS.lower(),
    rt.JOBS.lower(),
    rt.DEPLOYMENTS.lower(),
    f"{rt.DEPLOYMENTS}/operations".lower(),
}
_API_VERSIONS: dict[str, list[str]] = {
    "Microsoft.MachineLearningServices": ["2024-10-01", "2024-04-01", "2023-10-01", "2024-10-01-preview"],
    "Microsoft.ContainerService": ["2025-01-01", "2024-09-01", "2024-05-01"],
    "Microsoft.Kubernetes": ["2024-01-01", "2021-10-01"],
    "Microsoft.KubernetesConfiguration": ["2023-05-01", "2022-11-01"],
    "Microsoft.Relay": ["2021-11-01", "2017-04-01"],
    "Microsoft.ManagedIdentity": ["2023-01-31", "2018-11-30"],
    "Microsoft.Authorization": ["2022-04-01", "2022-05-01-preview"],
    "Microsoft.ContainerRegistry": ["2023-07-01", "2023-01-01-preview"],
    "Microsoft.Storage": ["2023-05-01", "2023-01-01"],
    "Microsoft.Resources": ["2022-09-01", "2021-04-01"],
}
_DEFAULT_API_VERSIONS = ["2024-01-01"]
REGIONS: dict[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "canadacentral": "Canada Central",
    "brazilsouth": "Brazil South",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "swedencentral": "Sweden Central",
    "switzerlandnorth": "Switzerland North",
    "japaneast": "Japan East",
    "koreacentral": "Korea Central",
    "southeastasia": "Southeast Asia",
    "centralindia": "Central India",
    "australiaeast": "Australia East",
    "southafricanorth": "South Africa North",
}


def _generic(row: Resource) -> dict[str, Any]:
    """ARM's ``GenericResourceExpanded``: the envelope without ``properties``, with times and state."""
    body = {k: v for k, v in envelope(row).items() if k not in ("properties", "systemData")}
    body.update(
        createdTime=rfc3339(row.created_at),
        changedTime=rfc3339(row.modified_at),
        provisioningState=row.provisioning_state,
    )
    return body


async def list_resources(
    ctx: RequestContext, scope: ResourceId, *, filter_text: str | None, offset: int, limit: int
) -> Page:
    """The resources under ``scope`` (a subscription or a group) the caller may read, filtered."""
    wanted = parse_filter(filter_text)
    async with ctx.store.transaction() as session:
        if scope.resource_group is not None and await resources.get(session, scope) is None:
            raise NotFound(f"Resource group '{scope.resource_group}' could not be found.", code="ResourceGroupNotFound")
        rows = await resources.list_within(session, scope)
    matched = [
        r
        for r in rows
        if r.type_key not in _NOT_LISTED
        and r.location is not None
        and wanted.matches(
            name=r.name, resource_group=r.id.split("/")[4], location=r.location, resource_type=r.type, tags=r.tags or {}
        )
    ]
    readable = [r for r in matched if await _may_read(ctx, r)]
    return Page([_generic(r) for r in readable[offset : offset + limit]], more=offset + limit < len(readable))


async def _may_read(ctx: RequestContext, row: Resource) -> bool:
    resource_id = parse_resource_id(row.id)
    decision = await ctx.authz.decide(ctx.caller.object_id, action_for(row.type, "GET"), resource_id)
    return decision.allowed


def provider_answer(subscription_id: str, namespace: str) -> dict[str, Any]:
    """One resource provider as ARM answers ``GET /subscriptions/{s}/providers/{namespace}``."""
    types = [t for t in rt.KNOWN_TYPES if t.split("/", 1)[0] == namespace]
    versions = _API_VERSIONS.get(namespace, _DEFAULT_API_VERSIONS)
    return {
        "id": f"/subscriptions/{subscription_id}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": "Registered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [
            {
                "resourceType": t.split("/", 1)[1],
                "locations": [],
                "apiVersions": versions,
                "defaultApiVersion": versions[0],
                "capabilities": "None",
            }
            for t in types
        ],
    }


def provider_namespaces() -> list[str]:
    return sorted({t.split("/", 1)[0] for t in rt.KNOWN_TYPES})


def find_provider(subscription_id: str, namespace: str) -> dict[str, Any]:
    canonical = canonical_namespace(namespace)
    if canonical is None:
        raise NotFound(
            f"The resource namespace '{namespace}' is invalid: Tether serves {', '.join(provider_namespaces())}.",
            code="InvalidResourceNamespace",
        )
    return provider_answer(subscription_id, canonical)


async def list_locations(ctx: RequestContext, subscription_id: str) -> list[dict[str, Any]]:
    async with ctx.store.transaction() as session:
        used = await resources.locations_in(session, ResourceId(subscription_id))
    names = {**REGIONS, **{u: u for u in used if u not in REGIONS}}
    return [
        {
            "id": f"/subscriptions/{subscription_id}/locations/{name}",
            "name": name,
            "displayName": display,
            "regionalDisplayName": display,
            "type": "Region",
            "metadata": {"regionType": "Physical" if name in REGIONS else "Logical", "regionCategory": "Other"},
        }
        for name, display in sorted(names.items())
    ]
