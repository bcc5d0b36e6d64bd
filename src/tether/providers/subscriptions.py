"""Subscriptions as ARM resources: readable; created only by the server's bootstrap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain.ids import SUBSCRIPTIONS, ResourceId
from tether.errors import InvalidRequest, NotFound
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.store import tenancy


class Subscriptions:
    full_type: ClassVar[str] = SUBSCRIPTIONS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await tenancy.get_subscription(session, resource_id.subscription_id)
        if row is None:
            raise NotFound(
                f"The subscription '{resource_id.subscription_id}' could not be found.",
                code="SubscriptionNotFound",
            )
        return {
            "id": f"/subscriptions/{row.id}",
            "subscriptionId": row.id,
            "tenantId": row.tenant_id,
            "displayName": row.display_name,
            "state": "Enabled",
        }

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        raise InvalidRequest("List subscriptions with GET /subscriptions.")

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        raise InvalidRequest(
            "Subscriptions are created by the server's bootstrap, not through the API.",
            code="OperationNotAllowed",
        )

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        raise InvalidRequest("Subscriptions cannot be deleted through the API.", code="OperationNotAllowed")
