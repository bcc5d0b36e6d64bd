"""Workspace datastores (``Microsoft.MachineLearningServices/workspaces/datastores``): pointers to blob containers.

Only ``AzureBlob`` datastores are served. Every workspace gets ``workspaceblobstore`` (its default)
on its default storage account when it is created (``add_default_datastore``). A datastore stores no
secret: ``listSecrets`` (``.../datastores/listSecrets/action``) reads the account's sealed key. The
datastore's container is created in the blob engine when the datastore is written through the API;
the default one's on its first ``get`` (workspace creation does not wait for a blob engine to start).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from tether.crypto import SecretBox
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id, parse_typed_id
from tether.domain.models.datastores import DatastoreRecord
from tether.domain.models.workspaces import WorkspaceRecord
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import ProvisioningState
from tether.errors import InvalidRequest, NotFound, TetherError
from tether.protocol.answers import DatastoreAnswer, read_answer
from tether.protocol.arm import StrictModel
from tether.protocol.datastores import datastore_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.blob_engine import BlobEngine
from tether.providers.envelope import envelope, parse_body, require_parent
from tether.providers.reads import read_page, read_row
from tether.providers.storage_accounts import StorageAccounts
from tether.store import Session, cluster_secrets, resources

DEFAULT_DATASTORE = "workspaceblobstore"
log = logging.getLogger(__name__)


class BlobDatastoreProperties(StrictModel):
    datastoreType: str = Field(pattern=r"^(?i:AzureBlob)$")  # noqa: N815
    accountName: str = Field(pattern=r"^[a-z0-9]{3,24}$")  # noqa: N815
    containerName: str = Field(min_length=3, max_length=63)  # noqa: N815
    endpoint: str | None = Field(None, max_length=256)
    protocol: str | None = Field(None, pattern=r"^(?i:https)$")
    credentials: dict[str, Any] | None = None
    description: str | None = Field(None, max_length=2048)
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    serviceDataAccessAuthIdentity: str | None = None  # noqa: N815
    isDefault: bool | None = None  # noqa: N815


class CreateDatastoreRequest(StrictModel):
    properties: BlobDatastoreProperties


def not_found(resource_id: ResourceId) -> NotFound:
    workspace = resource_id.parent.name if resource_id.parent else ""
    return NotFound(f"The datastore '{resource_id.name}' does not exist in workspace '{workspace}'.", code="UserError")


def answer(row: Resource) -> dict[str, Any]:
    body = envelope(row, properties=datastore_properties(resources.read_properties(row, DatastoreRecord)))
    body.pop("location", None)
    return body


async def add_default_datastore(
    session: Session, workspace: Resource, *, account_name: str, blob_host: str, principal_id: str
) -> None:
    """Write ``workspaceblobstore`` for a new workspace (in the workspace's creating transaction)."""
    datastore_id = parse_resource_id(workspace.id).child("datastores", DEFAULT_DATASTORE)
    await resources.insert(
        session,
        datastore_id,
        location=None,
        tags={},
        identity=None,
        properties=DatastoreRecord(
            account_name=account_name,
            container_name=f"azureml-blobstore-{resources.read_properties(workspace, WorkspaceRecord).workspace_id}",
            endpoint=blob_host,
            is_default=True,
            service_data_access_auth_identity="WorkspaceSystemAssignedIdentity",
            properties={},
            tags={},
        ),
        state=ProvisioningState.SUCCEEDED,
        principal_id=principal_id,
    )


def _is_default(answered: dict[str, Any]) -> bool:
    return bool(read_answer(DatastoreAnswer, answered, what="datastore").properties.isDefault)


class Datastores:
    full_type: ClassVar[str] = rt.DATASTORES

    def __init__(self, *, sealed: SecretBox, engine: BlobEngine, blob_host: str) -> None:
        self._secrets = sealed
        self._engine = engine
        self._blob_host = blob_host

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        row = await read_row(ctx, resource_id, missing=not_found)
        record = resources.read_properties(row, DatastoreRecord)
        if record.is_default:
            try:
                await self._engine.create_container(record.account_name, record.container_name, metadata={})
            except TetherError as e:  # the datastore is still readable; its container comes on a later get
                log.warning("The default container of %s could not be created: %s", resource_id, e)
        return answer(row)

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        page = await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=answer)
        wanted = {k.lower(): v for k, v in params.items()}.get("isdefault", "").lower()
        if wanted in ("true", "false"):
            kept = [d for d in page.items if _is_default(d) == (wanted == "true")]
            return Page(kept, page.more)
        return page

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateDatastoreRequest, body)
        validate_name(self.full_type, resource_id.name)
        props = request.properties
        async with ctx.store.transaction() as session:
            await require_parent(session, resource_id)
            if not await resources.find_by_name(session, rt.STORAGE_ACCOUNTS, props.accountName):
                raise InvalidRequest(
                    f"The storage account '{props.accountName}' does not exist. Create it with: "
                    f"tether storage account create -n {props.accountName} -g {resource_id.resource_group}",
                    code="UserError",
                    target="properties.accountName",
                )
            row = await resources.get(session, resource_id, for_update=True)
            properties = DatastoreRecord(
                account_name=props.accountName,
                container_name=props.containerName,
                endpoint=self._blob_host,
                # Only workspaceblobstore is the default, whatever a PUT says.
                is_default=row is not None and resources.read_properties(row, DatastoreRecord).is_default,
                service_data_access_auth_identity=props.serviceDataAccessAuthIdentity,
                description=props.description,
                properties=props.properties,
                tags=props.tags,
            )
            if row is not None:
                row = await resources.update(session, row, properties=properties, principal_id=ctx.caller.object_id)
                created = False
            else:
                row = await resources.insert(
                    session,
                    resource_id,
                    location=None,
                    tags={},
                    identity=None,
                    properties=properties,
                    state=ProvisioningState.SUCCEEDED,
                    principal_id=ctx.caller.object_id,
                )
                created = True
        await self._engine.create_container(props.accountName, props.containerName, metadata={})
        return WriteResult(answer(row), created=created)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            await resources.delete_tree_by_key(session, row.key)
        return DeleteResult(existed=True)

    async def list_secrets(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id)
            if row is None:
                raise not_found(resource_id)
            account_name = resources.read_properties(row, DatastoreRecord).account_name
            accounts = await resources.find_by_name(session, rt.STORAGE_ACCOUNTS, account_name)
            sealed = (
                await cluster_secrets.get(
                    session, resource_key=accounts[0].key, kind=cluster_secrets.STORAGE_ACCOUNT_KEYS
                )
                if accounts
                else None
            )
        if sealed is None:
            raise NotFound(f"The storage account '{account_name}' of the datastore is gone.")
        return {"secretsType": "AccountKey", "key": json.loads(self._secrets.open(sealed))["key1"]}


async def create_default_storage(
    session: Session,
    ctx: RequestContext,
    workspace: Resource,
    *,
    requested: str | None,
    accounts: StorageAccounts,
) -> str:
    """The workspace's default storage account (the one named, or a new one) and its ``workspaceblobstore``;
    returns the account's id."""
    if requested:
        account_id = parse_typed_id(requested, expected_types=(rt.STORAGE_ACCOUNTS,), what="storageAccount")
        if await resources.get(session, account_id) is None:
            raise NotFound(
                f"The storage account '{account_id}' does not exist. Create it first (tether storage account "
                "create), or leave --storage-account out to get a new one.",
                code="ResourceNotFound",
            )
    else:
        stem = re.sub(r"[^a-z0-9]", "", workspace.name.lower())[:14]
        group = parse_resource_id(workspace.id).parent
        assert group is not None
        account_id = ResourceId.resource(
            workspace.subscription_id, group.resource_group, rt.STORAGE_ACCOUNTS, f"st{stem}{secrets.token_hex(4)}"
        )
        await accounts.insert(session, account_id, location=workspace.location or "local", tags={}, ctx=ctx)
    await add_default_datastore(
        session,
        workspace,
        account_name=account_id.name,
        blob_host=accounts.blob_host,
        principal_id=ctx.caller.object_id,
    )
    return str(account_id)
