"""Application registrations (Microsoft Graph ``/v1.0/applications``) and password credentials.

Tether keeps one principal per application: an application and its service principal are the same
directory row, so creating an application creates the principal that can sign in (``az ad sp
create-for-rbac`` then creates "its" service principal, which answers that principal), and deleting
either deletes both. The application's ``id`` is its ``appId`` (in Azure they differ; every lookup
az makes goes through ``appId`` or the ``id`` it was given, so both work). Secrets belong to the
principal: a password added to the application or to the service principal signs in as it.

Managed identities are service principals without an application: they are never listed here.
"""

from __future__ import annotations

import re
from typing import Any

from tether.domain.principals import Principal, PrincipalKind
from tether.errors import InvalidRequest, NotFound
from tether.providers.base import RequestContext
from tether.providers.directory import (
    add_password_to,
    credentials,
    remove_password_from,
    require_directory_admin,
    valid_display_name,
)
from tether.providers.envelope import rfc3339
from tether.store import Session, principals, role_assignments

_LITERAL = r"'((?:[^']|'')*)'"
_APP_EQ = re.compile(rf"^\s*(appId|displayName|id)\s+eq\s+{_LITERAL}\s*$", re.IGNORECASE)
_APP_STARTS = re.compile(rf"^\s*startswith\(\s*displayName\s*,\s*{_LITERAL}\s*\)\s*$", re.IGNORECASE)


def application_answer(row: Principal, passwords: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.application",
        "id": row.app_id,
        "appId": row.app_id,
        "displayName": row.display_name,
        "createdDateTime": rfc3339(row.created_at),
        "identifierUris": [],
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": passwords,
        "keyCredentials": [],
        "web": {"redirectUris": [], "homePageUrl": None},
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "appRoles": [],
    }


def _not_found(identifier: str) -> NotFound:
    return NotFound(
        f"Resource '{identifier}' does not exist or one of its queried reference-property objects are not present.",
        code="Request_ResourceNotFound",
    )


async def _require_application(session: Session, ctx: RequestContext, app_id: str) -> Principal:
    row = await principals.get_by_app_id(session, ctx.caller.tenant_id, app_id)
    if row is None or row.kind != PrincipalKind.SERVICE_PRINCIPAL.value:
        raise _not_found(app_id)
    return row


async def list_applications(ctx: RequestContext, *, filter_text: str | None) -> list[dict[str, Any]]:
    async with ctx.store.transaction() as session:
        rows = [
            r
            for r in await principals.list_in_tenant(session, ctx.caller.tenant_id)
            if r.kind == PrincipalKind.SERVICE_PRINCIPAL.value
        ]
        if not filter_text:
            pass
        elif match := _APP_EQ.match(filter_text):
            field, value = match.group(1).lower(), match.group(2).replace("''", "'").lower()
            rows = [r for r in rows if (r.display_name_key if field == "displayname" else r.app_id) == value]
        elif match := _APP_STARTS.match(filter_text):
            prefix = match.group(1).replace("''", "'").lower()
            rows = [r for r in rows if r.display_name_key.startswith(prefix)]
        else:
            raise InvalidRequest(
                f"Unsupported $filter '{filter_text}' on applications: use appId eq '...', id eq '...', "
                "displayName eq '...' or startswith(displayName,'...').",
                code="Request_UnsupportedQuery",
            )
        return [application_answer(r, await credentials(session, r.object_id)) for r in rows]


async def get_application(ctx: RequestContext, app_id: str) -> dict[str, Any]:
    async with ctx.store.transaction() as session:
        row = await _require_application(session, ctx, app_id)
        return application_answer(row, await credentials(session, row.object_id))


def _display_name(body: Any) -> str:
    return valid_display_name(body.get("displayName") if isinstance(body, dict) else None)


async def create_application(ctx: RequestContext, body: Any) -> dict[str, Any]:
    name = _display_name(body)
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await principals.create(
            session, tenant_id=ctx.caller.tenant_id, kind=PrincipalKind.SERVICE_PRINCIPAL.value, display_name=name
        )
    return application_answer(row, [])


async def update_application(ctx: RequestContext, app_id: str, body: Any) -> None:
    """PATCH: a new ``displayName`` is applied; Tether keeps no other application settings."""
    await require_directory_admin(ctx)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="Request_BadRequest")
    async with ctx.store.transaction() as session:
        row = await _require_application(session, ctx, app_id)
        if "displayName" in body:
            await principals.rename(session, row.object_id, display_name=_display_name(body))


async def delete_application(ctx: RequestContext, app_id: str) -> None:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require_application(session, ctx, app_id)
        await role_assignments.delete_for_principal(session, row.object_id)
        await principals.delete(session, row.object_id)
    ctx.authz.index.invalidate(row.object_id)


async def add_application_password(ctx: RequestContext, app_id: str, body: Any) -> dict[str, Any]:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require_application(session, ctx, app_id)
    return await add_password_to(ctx, row, body)


async def remove_application_password(ctx: RequestContext, app_id: str, body: Any) -> None:
    await require_directory_admin(ctx)
    async with ctx.store.transaction() as session:
        row = await _require_application(session, ctx, app_id)
    await remove_password_from(ctx, row, body)
