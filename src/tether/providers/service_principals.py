"""Service principals and managed identities as the directory sees them (a Microsoft Graph subset).

Reading is open to every principal of the tenant (role assignment needs to find principals by name,
as S9 requires for ``<workspace>/computes/<compute>``). Creating or deleting service principals and
their secrets is for directory admins: principals allowed to assign roles on a subscription of the
tenant. Managed identities are listed but live and die with their resource.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tether.domain.ids import ResourceId
from tether.domain.principals import PrincipalKind
from tether.errors import Forbidden, InvalidRequest, NotFound
from tether.providers.base import RequestContext
from tether.store import principals, role_assignments, tenancy
from tether.store.tables import PrincipalRow

_SECRET_LIFETIME = dt.timedelta(days=365)
# OData string literals: a quote inside is written twice ('o''brien').
_EQ = re.compile(r"^\s*(displayName|appId|id)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_STARTS = re.compile(r"^\s*startswith\(\s*displayName\s*,\s*'((?:[^']|'')*)'\s*\)\s*$", re.IGNORECASE)
_KIND_NAMES = {
    PrincipalKind.SERVICE_PRINCIPAL.value: "Application",
    PrincipalKind.USER_ASSIGNED_IDENTITY.value: "ManagedIdentity",
    PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value: "ManagedIdentity",
}


def answer(row: PrincipalRow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.object_id,
        "appId": row.app_id,
        "displayName": row.display_name,
        "servicePrincipalType": _KIND_NAMES.get(row.kind, "Application"),
        "appOwnerOrganizationId": row.tenant_id,
        "alternativeNames": [],
    }
    if row.resource_key:
        body["alternativeNames"] = [f"isExplicit={row.kind == PrincipalKind.USER_ASSIGNED_IDENTITY.value}"]
    return body


async def _require_directory_admin(ctx: RequestContext) -> None:
    async with ctx.store.transaction() as session:
        subscriptions = await tenancy.list_subscriptions(session, ctx.caller.tenant_id)
    for subscription in subscriptions:
        decision = await ctx.authz.decide(
            ctx.caller.object_id,
            "Microsoft.Authorization/roleAssignments/write",
            ResourceId(subscription.id),
        )
        if decision.allowed:
            return
    raise Forbidden(
        f"The {ctx.caller.describe()} may not manage service principals: that needs a principal allowed to "
        "assign roles (Owner) on a subscription of the tenant.",
        code="Authorization_RequestDenied",
    )


async def list_principals(ctx: RequestContext, *, filter_text: str | None) -> list[dict[str, Any]]:
    async with ctx.store.transaction() as session:
        if not filter_text:
            rows = await principals.list_in_tenant(session, ctx.caller.tenant_id)
        elif match := _EQ.match(filter_text):
            field, value = match.group(1).lower(), match.group(2).replace("''", "'")
            rows = [
                r
                for r in await principals.find(session, ctx.caller.tenant_id, value)
                if (field == "displayname" and r.display_name_key == value.lower())
                or (field == "appid" and r.app_id == value.lower())
                or (field == "id" and r.object_id == value.lower())
            ]
        elif match := _STARTS.match(filter_text):
            prefix = match.group(1).replace("''", "'").lower()
            rows = [
                r
                for r in await principals.list_in_tenant(session, ctx.caller.tenant_id)
                if r.display_name_key.startswith(prefix)
            ]
        else:
            raise InvalidRequest(
                f"Unsupported $filter '{filter_text}': use displayName eq '...', appId eq '...', id eq '...' "
                "or startswith(displayName,'...').",
                code="Request_UnsupportedQuery",
            )
    return [answer(r) for r in rows]


async def get_principal(ctx: RequestContext, object_id: str) -> dict[str, Any]:
    async with ctx.store.transaction() as session:
        row = await principals.get(session, object_id)
    if row is None or row.tenant_id != ctx.caller.tenant_id:
        raise NotFound(
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
            code="Request_ResourceNotFound",
        )
    return answer(row)


async def create_service_principal(ctx: RequestContext, *, display_name: str) -> dict[str, Any]:
    await _require_directory_admin(ctx)
    if not display_name.strip() or len(display_name) > 256:
        raise InvalidRequest("displayName must be 1-256 characters.", code="Request_BadRequest")
    async with ctx.store.transaction() as session:
        row = await principals.create(
            session,
            tenant_id=ctx.caller.tenant_id,
            kind=PrincipalKind.SERVICE_PRINCIPAL.value,
            display_name=display_name,
        )
    return answer(row)


async def add_password(ctx: RequestContext, object_id: str) -> dict[str, Any]:
    await _require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await principals.get(session, object_id)
        if row is None or row.tenant_id != ctx.caller.tenant_id:
            raise NotFound(f"Service principal '{object_id}' does not exist.", code="Request_ResourceNotFound")
        if row.kind != PrincipalKind.SERVICE_PRINCIPAL.value:
            raise InvalidRequest(
                "Managed identities have no secrets; they get tokens through their resource.", code="Request_BadRequest"
            )
        secret = await principals.add_secret(session, row, lifetime=_SECRET_LIFETIME)
    end = dt.datetime.now(dt.UTC) + _SECRET_LIFETIME
    return {"secretText": secret, "hint": secret[:3], "endDateTime": end.isoformat().replace("+00:00", "Z")}


async def delete_service_principal(ctx: RequestContext, object_id: str) -> None:
    await _require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await principals.get(session, object_id)
        if row is None or row.tenant_id != ctx.caller.tenant_id:
            raise NotFound(f"Service principal '{object_id}' does not exist.", code="Request_ResourceNotFound")
        if row.kind != PrincipalKind.SERVICE_PRINCIPAL.value:
            raise InvalidRequest(
                "A managed identity is deleted with its resource (tether identity delete, or the compute's detach).",
                code="Request_BadRequest",
            )
        await role_assignments.delete_for_principal(session, row.object_id)
        await principals.delete(session, row)
    ctx.authz.index.invalidate(object_id)
