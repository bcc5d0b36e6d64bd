"""The Studio's reads and writes of ARM resources, through the API's own authorization and providers.

Every call authorizes the signed-in user's action on the resource exactly as ``tether.api.arm`` does
(``Authorizer.authorize`` with ``action_for``), then calls the type's provider: a page shows and
changes only what the same user could through the API, and a denial is the API's error.
``visible`` lists a type across a subscription and keeps the items the user may read (what ARM's
subscription-wide lists do for a user with narrower roles).
"""

from __future__ import annotations

from typing import Any

from tether.api.arm import provider_for
from tether.domain.actions import action_for
from tether.domain.ids import ResourceId, parse_resource_id
from tether.providers.base import DeleteResult, WriteResult
from tether.store import tenancy
from tether.studio.web import Studio

_LIST_LIMIT = 1000


async def get(studio: Studio, resource_id: ResourceId) -> dict[str, Any]:
    await studio.svc.authorizer.authorize(studio.caller, action_for(resource_id.full_type, "GET"), resource_id)
    return await provider_for(studio.svc, resource_id.full_type).get(studio.ctx, resource_id)


async def list_in(
    studio: Studio, scope: ResourceId, full_type: str, *, params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    await studio.svc.authorizer.authorize(studio.caller, action_for(full_type, "GET"), scope)
    provider = provider_for(studio.svc, full_type)
    page = await provider.list(studio.ctx, scope, offset=0, limit=_LIST_LIMIT, params=params or {})
    return page.items


async def may(studio: Studio, full_type: str, method: str, scope: ResourceId) -> bool:
    """Whether the user may do ``method`` on ``full_type`` at ``scope`` (to show or hide a button)."""
    return (await studio.svc.authorizer.decide(studio.caller.object_id, action_for(full_type, method), scope)).allowed


async def subscriptions(studio: Studio) -> list[str]:
    async with studio.svc.store.transaction() as session:
        rows = await tenancy.list_subscriptions(session, studio.caller.tenant_id)
    return [r.id for r in rows]


async def visible(studio: Studio, full_type: str) -> list[dict[str, Any]]:
    """Every resource of a type in the user's subscriptions that the user may read."""
    provider = provider_for(studio.svc, full_type)
    found: list[dict[str, Any]] = []
    for subscription in await subscriptions(studio):
        scope = ResourceId(subscription)
        page = await provider.list(studio.ctx, scope, offset=0, limit=_LIST_LIMIT, params={})
        for item in page.items:
            if await may(studio, full_type, "GET", parse_resource_id(item["id"])):
                found.append(item)
    return found


async def put(studio: Studio, resource_id: ResourceId, body: Any) -> WriteResult:
    await studio.svc.authorizer.authorize(studio.caller, action_for(resource_id.full_type, "PUT"), resource_id)
    return await provider_for(studio.svc, resource_id.full_type).put(studio.ctx, resource_id, body)


async def delete(studio: Studio, resource_id: ResourceId, params: dict[str, str]) -> DeleteResult:
    await studio.svc.authorizer.authorize(studio.caller, action_for(resource_id.full_type, "DELETE"), resource_id)
    return await provider_for(studio.svc, resource_id.full_type).delete(studio.ctx, resource_id, params=params)
