"""Storage accounts (``Microsoft.Storage/storageAccounts``): an ARM resource, two keys sealed at rest, a blob endpoint.

Names are global, as in Azure (they are the first segment of every blob URL): a name taken in any
subscription is refused with ``StorageAccountAlreadyTaken``. Creation is synchronous (the account's
Azurite process starts on its first blob request). Keys are generated here, sealed with the server's
``SecretBox`` and shown only through ``listKeys`` (``.../listKeys/action``). Deleting an account
removes its blobs too, through the injected ``BlobEngine``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.crypto import SecretBox, new_storage_key
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.storage import PrimaryEndpoints, StorageAccountRecord
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import Conflict, NotFound
from tether.protocol.storage import CreateStorageAccountRequest, storage_account_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.blob_engine import BlobEngine
from tether.providers.envelope import envelope, parse_body, require_parent
from tether.providers.reads import read_page, read_row
from tether.store import Session, cluster_secrets, resources


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"The storage account '{resource_id.name}' was not found in resource group "
        f"'{resource_id.resource_group}'. Create it with: tether storage account create -n {resource_id.name} "
        f"-g {resource_id.resource_group}",
        code="ResourceNotFound",
    )


def answer(row: Resource) -> dict[str, Any]:
    record = resources.read_properties(row, StorageAccountRecord)
    body = envelope(row, properties=storage_account_properties(record, provisioning_state=row.provisioning_state))
    body["kind"] = "StorageV2"
    body["sku"] = {"name": "Standard_LRS", "tier": "Standard"}
    return body


class StorageAccounts:
    full_type: ClassVar[str] = rt.STORAGE_ACCOUNTS

    def __init__(self, *, secrets: SecretBox, engine: BlobEngine, blob_url: str) -> None:
        self._secrets = secrets
        self._engine = engine
        self._blob_url = blob_url.rstrip("/")

    @property
    def blob_host(self) -> str:
        """``host:port`` of the blob endpoint (what datastores record as their endpoint)."""
        return self._blob_url.split("://", 1)[-1]

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateStorageAccountRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                row = await resources.update(session, row, tags=request.tags, principal_id=ctx.caller.object_id)
                return WriteResult(answer(row), created=False)
            await self._check_name_free(session, resource_id)
            location = (request.location or (group.location if group else None) or "local").replace(" ", "").lower()
            row = await self.insert(session, resource_id, location=location, tags=request.tags, ctx=ctx)
        return WriteResult(answer(row), created=True)

    async def insert(
        self, session: Session, resource_id: ResourceId, *, location: str, tags: dict[str, str], ctx: RequestContext
    ) -> Resource:
        """Write a new account and its sealed keys (also used by workspaces for their default account)."""
        properties = StorageAccountRecord(
            primary_endpoints=PrimaryEndpoints(blob=f"{self._blob_url}/{resource_id.name}/"), primary_location=location
        )
        row = await resources.insert(
            session,
            resource_id,
            location=location,
            tags=tags,
            identity=None,
            properties=properties,
            state=ProvisioningState.SUCCEEDED,
            principal_id=ctx.caller.object_id,
        )
        sealed = self._secrets.seal(json.dumps({"key1": new_storage_key(), "key2": new_storage_key()}))
        await cluster_secrets.put(
            session, resource_key=row.key, kind=cluster_secrets.STORAGE_ACCOUNT_KEYS, value=sealed
        )
        return row

    async def _check_name_free(self, session: Session, resource_id: ResourceId) -> None:
        if await resources.find_by_name(session, self.full_type, resource_id.name):
            raise Conflict(
                f"The storage account named {resource_id.name} is already taken. Storage account names are "
                "unique across all subscriptions: choose another name.",
                code="StorageAccountAlreadyTaken",
            )

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            await cluster_secrets.remove(session, resource_key=row.key)
            await resources.delete_tree_by_key(session, row.key)
        await self._engine.remove_account(resource_id.name)
        return DeleteResult(existed=True)

    async def list_keys(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
            sealed = (
                await cluster_secrets.get(session, resource_key=row.key, kind=cluster_secrets.STORAGE_ACCOUNT_KEYS)
                if row
                else None
            )
        if row is None or sealed is None:
            raise not_found(resource_id)
        keys = json.loads(self._secrets.open(sealed))
        return {
            "keys": [
                {
                    "keyName": name,
                    "value": keys[name],
                    "permissions": "FULL",
                    "creationTime": row.created_at.isoformat(),
                }
                for name in ("key1", "key2")
            ]
        }
