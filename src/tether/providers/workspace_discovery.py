"""Workspaces as azure-ai-ml reads them: the workspace answer plus ``discoveryUrl``.

The SDK finds the run-history API (``ml.jobs.stream``, ``ml.jobs.download``) through the document at the
workspace's ``discoveryUrl`` (fetched without a token, as Azure's regional one is); Tether serves one
document for all workspaces at ``<public url>/discovery`` (``tether.api.run_history``). This wraps the
workspace provider instead of changing it, so the workspace's own rules stay in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tether.domain.ids import ResourceId
from tether.providers.base import Page, RequestContext, WriteResult
from tether.providers.storage_accounts import StorageAccounts
from tether.providers.workspaces import Workspaces

DISCOVERY_PATH = "/discovery"


class DiscoverableWorkspaces(Workspaces):
    def __init__(self, *, storage_accounts: StorageAccounts | None, public_url: str) -> None:
        super().__init__(storage_accounts=storage_accounts)
        self._discovery_url = public_url.rstrip("/") + DISCOVERY_PATH

    def _with_discovery(self, body: dict[str, Any]) -> dict[str, Any]:
        body["properties"] = {**body.get("properties", {}), "discoveryUrl": self._discovery_url}
        return body

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return self._with_discovery(await super().get(ctx, resource_id))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        page = await super().list(ctx, parent, offset=offset, limit=limit, params=params)
        return Page([self._with_discovery(item) for item in page.items], page.more)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        result = await super().put(ctx, resource_id, body)
        return dataclasses.replace(result, resource=self._with_discovery(dict(result.resource)))
