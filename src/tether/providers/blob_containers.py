"""Blob containers (``Microsoft.Storage/storageAccounts/blobServices/containers``), ARM's view of the engine's.

The only blob service of an account is ``default``. Containers are read from and written to the blob
engine directly (``tether.providers.blob_engine``), synchronously, as Azure's container operations
are; the account must exist in the resources table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.names import validate_name
from tether.errors import InvalidRequest, NotFound
from tether.protocol.storage import CreateContainerRequest, blob_container_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.blob_engine import BlobEngine
from tether.providers.envelope import parse_body
from tether.providers.storage_accounts import not_found as account_not_found
from tether.store import resources


def _account_of(resource_id: ResourceId) -> ResourceId:
    """The storage account of a container id or of a ``blobServices/default`` id."""
    service = resource_id.parent if resource_id.full_type == rt.BLOB_CONTAINERS else resource_id
    if service is None or service.name.lower() != "default" or service.parent is None:
        raise InvalidRequest(
            f"'{resource_id}' is not under a blob service: use .../storageAccounts/<name>/blobServices/default.",
            code="InvalidResourceId",
        )
    return service.parent


def answer(container_id: ResourceId, found: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(container_id),
        "name": container_id.name,
        "type": rt.BLOB_CONTAINERS,
        "etag": found.get("etag"),
        "properties": blob_container_properties(found),
    }


class BlobContainers:
    full_type: ClassVar[str] = rt.BLOB_CONTAINERS

    def __init__(self, *, engine: BlobEngine) -> None:
        self._engine = engine

    async def _require_account(self, ctx: RequestContext, account_id: ResourceId) -> None:
        async with ctx.store.transaction() as session:
            if await resources.get(session, account_id) is None:
                raise account_not_found(account_id)

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        account_id = _account_of(resource_id)
        await self._require_account(ctx, account_id)
        found = await self._engine.get_container(account_id.name, resource_id.name)
        if found is None:
            raise NotFound(
                f"The container '{resource_id.name}' does not exist in storage account '{account_id.name}'. "
                f"Create it with: tether storage container create -n {resource_id.name} --account-name "
                f"{account_id.name}",
                code="ContainerNotFound",
            )
        return answer(resource_id, found)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        account_id = _account_of(parent)
        await self._require_account(ctx, account_id)
        found = await self._engine.list_containers(account_id.name)
        items = [answer(parent.child("containers", c["name"]), c) for c in found[offset : offset + limit]]
        return Page(items, more=len(found) > offset + limit)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateContainerRequest, body if body is not None else {})
        validate_name(self.full_type, resource_id.name)
        account_id = _account_of(resource_id)
        await self._require_account(ctx, account_id)
        created = await self._engine.create_container(
            account_id.name, resource_id.name, metadata=request.properties.metadata or {}
        )
        found = await self._engine.get_container(account_id.name, resource_id.name) or {}
        return WriteResult(answer(resource_id, found), created=created)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        account_id = _account_of(resource_id)
        await self._require_account(ctx, account_id)
        existed = await self._engine.delete_container(account_id.name, resource_id.name)
        return DeleteResult(existed=existed)
