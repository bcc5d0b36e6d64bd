"""Users as the directory sees them (Microsoft Graph ``/v1.0/users`` subset: create, get, list).

A user is a principal of kind ``User`` that signs in with a password (the authorize endpoint's login
page, used by the Studio). Reading is open to every principal of the tenant, creating is for directory
admins, as for service principals. The password is hashed with scrypt in a worker thread (slow on
purpose) and never returned.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tether.crypto import hash_secret
from tether.domain.users import User
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.providers.base import RequestContext
from tether.providers.directory import require_directory_admin, valid_display_name
from tether.store import users

# user@domain: Azure's userPrincipalName shape (no spaces, one @, a domain with a dot-free label allowed).
_UPN = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,190}$")
_MIN_PASSWORD = 8


def answer(user: User) -> dict[str, Any]:
    return {
        "id": user.principal.object_id,
        "displayName": user.principal.display_name,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": True,
        "userType": "Member",
    }


def _not_found(object_id: str) -> NotFound:
    return NotFound(
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
        code="Request_ResourceNotFound",
    )


async def create_user(
    ctx: RequestContext, *, display_name: str, user_principal_name: str, password: str
) -> dict[str, Any]:
    await require_directory_admin(ctx)
    valid_display_name(display_name)
    if not _UPN.fullmatch(user_principal_name):
        raise InvalidRequest(
            f"userPrincipalName '{user_principal_name}' is invalid: use the form alias@domain.",
            code="Request_BadRequest",
        )
    if len(password) < _MIN_PASSWORD or len(password) > 256:
        raise InvalidRequest(
            f"passwordProfile.password must be {_MIN_PASSWORD}-256 characters.", code="Request_BadRequest"
        )
    password_hash = await asyncio.to_thread(hash_secret, password)
    async with ctx.store.transaction() as session:
        if await users.get_by_name(session, user_principal_name) is not None:
            raise Conflict(
                f"Another object with the same value for property userPrincipalName '{user_principal_name}' "
                "already exists.",
                code="Request_BadRequest",
            )
        user = await users.create(
            session,
            tenant_id=ctx.caller.tenant_id,
            display_name=display_name,
            user_principal_name=user_principal_name,
            password_hash=password_hash,
        )
    return answer(user)


async def get_user(ctx: RequestContext, id_or_name: str) -> dict[str, Any]:
    """By object id or by user principal name, as Graph allows."""
    async with ctx.store.transaction() as session:
        found = await (users.get_by_name if "@" in id_or_name else users.get)(session, id_or_name)
    if found is None or found.principal.tenant_id != ctx.caller.tenant_id:
        raise _not_found(id_or_name)
    return answer(found)


async def list_users(ctx: RequestContext) -> list[dict[str, Any]]:
    async with ctx.store.transaction() as session:
        found = await users.list_in_tenant(session, ctx.caller.tenant_id)
    return [answer(u) for u in found]
