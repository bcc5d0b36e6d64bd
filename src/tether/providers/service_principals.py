"""Service principals and managed identities as the directory sees them (a Microsoft Graph subset).

Reading is open to every principal of the tenant (role assignment needs to find principals by name,
as S9 requires for ``<workspace>/computes/<compute>``, and ``az role assignment list`` resolves ids
through ``directoryObjects/getByIds``). Creating or deleting service principals and their secrets is
for directory admins (``providers.directory``). Managed identities are listed but live and die with
their resource.
"""

from __future__ import annotations

import re
from typing import Any

from tether.domain.principals import Principal, PrincipalKind
from tether.errors import InvalidRequest, NotFound
from tether.providers.applications import application_answer
from tether.providers.base import RequestContext
from tether.providers.directory import (
    add_password_to,
    credentials,
    remove_password_from,
    require_directory_admin,
    valid_display_name,
)
from tether.store import Session, principals, role_assignments

# OData string literals: a quote inside is written twice ('o''brien').
_LITERAL = r"'((?:[^']|'')*)'"
_EQ = re.compile(rf"^\s*(displayName|appId|id)\s+eq\s+{_LITERAL}\s*$", re.IGNORECASE)
_STARTS = re.compile(rf"^\s*startswith\(\s*displayName\s*,\s*{_LITERAL}\s*\)\s*$", re.IGNORECASE)
# What az sends to resolve an appId (or a name) to a service principal.
_SPN_ANY = re.compile(rf"^\s*servicePrincipalNames/any\(\s*(\w+)\s*:\s*\1\s+eq\s+{_LITERAL}\s*\)\s*$", re.IGNORECASE)
_KIND_NAMES = {
    PrincipalKind.SERVICE_PRINCIPAL.value: "Application",
    PrincipalKind.USER_ASSIGNED_IDENTITY.value: "ManagedIdentity",
    PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value: "ManagedIdentity",
}


def _names(row: Principal) -> list[str]:
    """``servicePrincipalNames``: the app id, and a managed identity's resource id as Azure lists it."""
    return [row.app_id, *([row.resource_key] if row.resource_key else [])]


def answer(row: Principal, passwords: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": row.object_id,
        "appId": row.app_id,
        "displayName": row.display_name,
        "appDisplayName": row.display_name,
        "accountEnabled": True,
        "servicePrincipalType": _KIND_NAMES.get(row.kind, "Application"),
        "servicePrincipalNames": _names(row),
        "appOwnerOrganizationId": row.tenant_id,
        "alternativeNames": [],
        "passwordCredentials": passwords or [],
        "keyCredentials": [],
    }
    if row.resource_key:
        body["alternativeNames"] = [f"isExplicit={row.kind == PrincipalKind.USER_ASSIGNED_IDENTITY.value}"]
    return body


async def _answer_with_credentials(session: Session, row: Principal) -> dict[str, Any]:
    return answer(row, await credentials(session, row.object_id))


def _matching(rows: list[Principal], filter_text: str) -> list[Principal]:
    if match := _EQ.match(filter_text):
        field, value = match.group(1).lower(), match.group(2).replace("''", "'").lower()
        key = {"displayname": "display_name_key", "appid": "app_id", "id": "object_id"}[field]
        return [r for r in rows if getattr(r, key) == value]
    if match := _STARTS.match(filter_text):
        prefix = match.group(1).replace("''", "'").lower()
        return [r for r in rows if r.display_name_key.startswith(prefix)]
    if match := _SPN_ANY.match(filter_text):
        name = match.group(2).replace("''", "'").lower()
        return [r for r in rows if name in (n.lower() for n in _names(r))]
    raise InvalidRequest(
        f"Unsupported $filter '{filter_text}': use displayName eq '...', appId eq '...', id eq '...', "
        "startswith(displayName,'...') or servicePrincipalNames/any(c:c eq '...').",
        code="Request_UnsupportedQuery",
    )


async def list_principals(ctx: RequestContext, *, filter_text: str | None) -> list[dict[str, Any]]:
    async with ctx.store.transaction() as session:
        rows = list(await principals.list_in_tenant(session, ctx.caller.tenant_id))
        if filter_text:
            rows = _matching(rows, filter_text)
        return [await _answer_with_credentials(session, r) for r in rows]


async def _require(session: Session, ctx: RequestContext, object_id: str) -> Principal:
    row = await principals.get(session, object_id)
    if row is None or row.tenant_id != ctx.caller.tenant_id:
        raise NotFound(
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
            code="Request_ResourceNotFound",
        )
    return row


async def get_principal(ctx: RequestContext, object_id: str) -> dict[str, Any]:
    async with ctx.store.transaction() as session:
        return await _answer_with_credentials(session, await _require(session, ctx, object_id))


async def get_by_ids(ctx: RequestContext, *, ids: list[str], types: list[str]) -> list[dict[str, Any]]:
    """``directoryObjects/getByIds``: each id that names a service principal (by object id) or an
    application (by its id, which is its appId), of the asked types; unknown ids are left out."""
    wanted = {t.lower().removeprefix("#microsoft.graph.") for t in types} or {"serviceprincipal", "application"}
    found: list[dict[str, Any]] = []
    async with ctx.store.transaction() as session:
        for object_id in ids:
            row = await principals.get(session, object_id)
            if row is not None and row.tenant_id == ctx.caller.tenant_id and "serviceprincipal" in wanted:
                found.append(answer(row))
                continue
            app = await principals.get_by_app_id(session, ctx.caller.tenant_id, object_id)
            if app is not None and app.kind == PrincipalKind.SERVICE_PRINCIPAL.value and "application" in wanted:
                found.append(application_answer(app, []))
    return found


async def create_service_principal(ctx: RequestContext, body: Any) -> dict[str, Any]:
    """``{"appId"}`` (Graph's form): the service principal of that application, which in Tether is the
    application's own principal; ``{"displayName"}`` (Tether's shortcut): a new application and principal."""
    if not isinstance(body, dict) or not isinstance(body.get("appId") or body.get("displayName"), str):
        raise InvalidRequest('The body must be {"appId": "<application id>"}.', code="Request_BadRequest")
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        if isinstance(app_id := body.get("appId"), str):
            row = await principals.get_by_app_id(session, ctx.caller.tenant_id, app_id)
            if row is None or row.kind != PrincipalKind.SERVICE_PRINCIPAL.value:
                raise InvalidRequest(
                    f"The appId '{app_id}' of the service principal does not reference a valid application object.",
                    code="Request_BadRequest",
                )
            return await _answer_with_credentials(session, row)
        name = valid_display_name(body["displayName"])
        row = await principals.create(
            session, tenant_id=ctx.caller.tenant_id, kind=PrincipalKind.SERVICE_PRINCIPAL.value, display_name=name
        )
        return answer(row)


async def add_password(ctx: RequestContext, object_id: str, body: Any = None) -> dict[str, Any]:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require(session, ctx, object_id)
    return await add_password_to(ctx, row, body)


async def remove_password(ctx: RequestContext, object_id: str, body: Any) -> None:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require(session, ctx, object_id)
    await remove_password_from(ctx, row, body)


async def delete_service_principal(ctx: RequestContext, object_id: str) -> None:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require(session, ctx, object_id)
        if row.kind != PrincipalKind.SERVICE_PRINCIPAL.value:
            raise InvalidRequest(
                "A managed identity is deleted with its resource (az identity delete or tether identity delete, "
                "or the compute's detach).",
                code="Request_BadRequest",
            )
        await role_assignments.delete_for_principal(session, row.object_id)
        await principals.delete(session, row.object_id)
    ctx.authz.index.invalidate(object_id)
