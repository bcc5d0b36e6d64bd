"""What the directory's objects share: who may manage them, and their password credentials.

Managing service principals, applications and their secrets is for directory admins: principals
allowed to assign roles on a subscription of the tenant. A secret belongs to a principal (an
application and its service principal are one principal in Tether, see ``providers.applications``);
its clear text appears once, in the answer that creates it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tether.domain.ids import ResourceId
from tether.domain.principals import ClientSecret, Principal, PrincipalKind
from tether.errors import Forbidden, InvalidRequest, NotFound
from tether.providers.base import RequestContext
from tether.providers.envelope import rfc3339
from tether.store import Session, principals, tenancy

DEFAULT_SECRET_LIFETIME = dt.timedelta(days=365)
_MAX_SECRET_LIFETIME = dt.timedelta(days=730)


def valid_display_name(name: object) -> str:
    """A directory object's ``displayName``, as Graph takes it: 1-256 characters, not only spaces."""
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidRequest(
            'The body must carry "displayName": a name of 1-256 characters.', code="Request_BadRequest"
        )
    return name


async def require_directory_admin(ctx: RequestContext) -> None:
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


def password_credential(secret: ClientSecret, *, secret_text: str | None = None) -> dict[str, Any]:
    """Graph's ``passwordCredential``; ``secretText`` only in the answer that creates it."""
    return {
        "customKeyIdentifier": None,
        "displayName": None,
        "endDateTime": rfc3339(secret.expires_at),
        "hint": secret.hint,
        "keyId": secret.key_id,
        "secretText": secret_text,
        "startDateTime": rfc3339(secret.created_at),
    }


async def credentials(session: Session, principal_id: str) -> list[dict[str, Any]]:
    return [password_credential(s) for s in await principals.list_secrets(session, principal_id)]


def _lifetime(body: Any) -> dt.timedelta:
    """The secret's lifetime from ``passwordCredential.endDateTime`` (default one year, at most two)."""
    credential = body.get("passwordCredential") if isinstance(body, dict) else None
    end_text = credential.get("endDateTime") if isinstance(credential, dict) else None
    if not isinstance(end_text, str):
        return DEFAULT_SECRET_LIFETIME
    try:
        end = dt.datetime.fromisoformat(end_text.replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidRequest(f"endDateTime '{end_text}' is not an ISO 8601 time.", code="Request_BadRequest") from e
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    lifetime = end - dt.datetime.now(dt.UTC)
    if lifetime <= dt.timedelta(0) or lifetime > _MAX_SECRET_LIFETIME:
        raise InvalidRequest("endDateTime must be in the future and at most two years away.", code="Request_BadRequest")
    return lifetime


async def add_password_to(ctx: RequestContext, principal: Principal, body: Any) -> dict[str, Any]:
    """Add a secret to a service principal (its application's or its own); the answer shows it once."""
    if principal.kind != PrincipalKind.SERVICE_PRINCIPAL:
        raise InvalidRequest(
            "Managed identities have no secrets; they get tokens through their resource.", code="Request_BadRequest"
        )
    lifetime = _lifetime(body)
    async with ctx.store.transaction() as session:
        secret, text = await principals.add_password_credential(session, principal.object_id, lifetime=lifetime)
    return password_credential(secret, secret_text=text)


async def remove_password_from(ctx: RequestContext, principal: Principal, body: Any) -> None:
    key_id = body.get("keyId") if isinstance(body, dict) else None
    if not isinstance(key_id, str):
        raise InvalidRequest('The body must be {"keyId": "<key id>"}.', code="Request_BadRequest")
    async with ctx.store.transaction() as session:
        if not await principals.delete_secret(session, principal.object_id, key_id):
            raise NotFound(f"No password credential with keyId '{key_id}' exists.", code="Request_ResourceNotFound")
