"""Managed identities of resources: reading a resource's identity block, and acting as that identity.

Reconcilers call ``acting_as`` to get the ``Caller`` of a resource's identity (the workspace's during
an attach) and then go through ``Authorizer.authorize`` like any request would: no shortcut.
"""

from __future__ import annotations

from typing import Any

from tether.domain.ids import parse_resource_id
from tether.domain.principals import Caller, Principal
from tether.domain.resources import Resource
from tether.errors import InvalidRequest, NotFound
from tether.store import Session, principals


def parse_identity_type(text: str) -> str:
    """``SystemAssigned``, ``UserAssigned`` or ``None`` from any casing and underscores (``system_assigned``)."""
    key = text.replace("_", "").replace(" ", "").lower()
    for canonical in ("SystemAssigned", "UserAssigned", "None"):
        if key == canonical.lower():
            return canonical
    raise InvalidRequest(
        f"Identity type '{text}' is not supported: use SystemAssigned or UserAssigned.",
        code="InvalidIdentityType",
        target="identity.type",
    )


async def user_assigned_principal(session: Session, identity_id: str) -> Principal:
    """The principal of a user-assigned identity given by id (leading slash optional, any case)."""
    resource_id = parse_resource_id(identity_id)
    if resource_id.full_type.lower() != "microsoft.managedidentity/userassignedidentities":
        raise InvalidRequest(
            f"'{identity_id}' is a {resource_id.full_type}, not a user-assigned identity "
            "(Microsoft.ManagedIdentity/userAssignedIdentities).",
            code="InvalidResourceId",
            target="identity.userAssignedIdentities",
        )
    principal = await principals.get_by_resource(session, resource_id.key)
    if principal is None:
        raise NotFound(
            f"The user-assigned identity '{resource_id}' does not exist. Create it with: tether identity create "
            f"-g {resource_id.resource_group} -n {resource_id.name}",
            code="IdentityNotFound",
            target="identity.userAssignedIdentities",
        )
    return principal


def user_assigned_block(identity_id: str, principal: Principal) -> dict[str, Any]:
    canonical = str(parse_resource_id(identity_id))
    return {
        "type": "UserAssigned",
        "userAssignedIdentities": {canonical: {"principalId": principal.object_id, "clientId": principal.app_id}},
    }


async def identity_principal(session: Session, row: Resource) -> Principal | None:
    """The principal a resource acts as: its system-assigned identity, or its (first) user-assigned one."""
    identity = row.identity or {}
    if identity.get("type") == "SystemAssigned":
        return await principals.get_by_resource(session, row.key)
    if identity.get("type") == "UserAssigned":
        ids = list((identity.get("userAssignedIdentities") or {}).keys())
        return await principals.get_by_resource(session, ids[0].lower()) if ids else None
    return None


async def acting_as(session: Session, row: Resource) -> Caller:
    """The caller of a resource's identity; ``NotFound`` if it has none (yet)."""
    principal = await identity_principal(session, row)
    if principal is None:
        raise NotFound(f"{row.id} has no managed identity to act as.", code="IdentityNotFound")
    return principal.as_caller()
