"""ML workspaces: created and deleted through long-running operations; tags and descriptions update in place
(by PUT, or by PATCH as azure-ai-ml's ``begin_update`` sends it: ``workspace_updates``).

A workspace gets a system-assigned identity unless a user-assigned one is named (the reconciler
creates the principal); its location defaults to its resource group's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.domain.models.workspaces import WorkspaceRecord
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.identity.managed import parse_identity_type, user_assigned_block, user_assigned_principal
from tether.protocol.workspaces import CreateWorkspaceRequest, workspace_properties
from tether.providers import lro
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.datastores import create_default_storage
from tether.providers.envelope import envelope, parse_body, require_parent
from tether.providers.reads import read_page, read_row
from tether.providers.storage_accounts import StorageAccounts
from tether.providers.workspace_updates import patch_workspace
from tether.store import Session, resources

#: Where the discovery document is served (tether.api.run_history), under the public URL.
DISCOVERY_PATH = "/discovery"


def answer(row: Resource, *, discovery_url: str | None) -> dict[str, Any]:
    record = resources.read_properties(row, WorkspaceRecord)
    properties = workspace_properties(record, provisioning_state=row.provisioning_state, discovery_url=discovery_url)
    body = envelope(row, properties=properties)
    body["identity"] = row.identity or {"type": "None"}
    body["kind"] = "Default"
    body["sku"] = {"name": "Basic", "tier": "Basic"}
    return body


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"Workspace '{resource_id.name}' could not be found in resource group '{resource_id.resource_group}'. "
        f"Create it with: tether ml workspace create -n {resource_id.name} -g {resource_id.resource_group}",
        code="WorkspaceNotFound",
    )


async def _requested_identity(session: Session, request: CreateWorkspaceRequest) -> dict[str, Any]:
    """The identity block to store: SystemAssigned by default, or the one user-assigned identity named."""
    primary = request.properties.primaryUserAssignedIdentity
    kind = parse_identity_type(request.identity.type) if request.identity else None
    if kind is None:
        kind = "UserAssigned" if primary else "SystemAssigned"
    if kind == "SystemAssigned":
        return {"type": "SystemAssigned"}
    if kind == "None":
        raise InvalidRequest(
            "A workspace needs an identity: SystemAssigned or UserAssigned.", code="InvalidIdentityType"
        )
    named = list((request.identity.userAssignedIdentities or {}).keys()) if request.identity else []
    chosen = primary or (named[0] if named else None)
    if chosen is None:
        raise InvalidRequest(
            "A UserAssigned workspace identity needs the identity's id (--primary-user-assigned-identity).",
            code="InvalidIdentityType",
            target="properties.primaryUserAssignedIdentity",
        )
    principal = await user_assigned_principal(session, chosen)
    return user_assigned_block(chosen, principal)


class Workspaces:
    full_type: ClassVar[str] = rt.WORKSPACES

    def __init__(self, *, storage_accounts: StorageAccounts | None = None, public_url: str | None = None) -> None:
        self._accounts = storage_accounts  # None: workspaces get no default storage (the bare registry)
        # azure-ai-ml finds the run-history API (jobs.stream) through the document at the workspace's
        # discoveryUrl, fetched without a token as Azure's regional one is: one for all, at /discovery.
        self._discovery_url = public_url.rstrip("/") + DISCOVERY_PATH if public_url else None

    def _answer(self, row: Resource) -> dict[str, Any]:
        return answer(row, discovery_url=self._discovery_url)

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return self._answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(ctx, parent, self.full_type, offset=offset, limit=limit, render=self._answer)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateWorkspaceRequest, body)
        validate_name(self.full_type, resource_id.name)
        async with ctx.store.transaction() as session:
            group = await require_parent(session, resource_id)
            row = await resources.get(session, resource_id, for_update=True)
            if row is not None:
                return await self._update(ctx, session, row, request)
            identity = await _requested_identity(session, request)
            primary = next(iter(identity["userAssignedIdentities"])) if identity["type"] == "UserAssigned" else None
            record = WorkspaceRecord(
                workspace_id=str(uuid.uuid4()),
                friendly_name=request.properties.friendlyName,
                description=request.properties.description,
                primary_user_assigned_identity=primary,
            )
            location = (request.location or (group.location if group else None) or "local").replace(" ", "").lower()
            row = await resources.insert(
                session,
                resource_id,
                location=location,
                tags=request.tags,
                identity=identity,
                properties=record,
                state=ProvisioningState.CREATING,
                principal_id=ctx.caller.object_id,
            )
            if self._accounts is not None:
                requested = (request.properties.model_extra or {}).get("storageAccount")
                storage = await create_default_storage(session, ctx, row, requested=requested, accounts=self._accounts)
                row = await resources.update(
                    session, row, properties=record.model_copy(update={"storage_account": storage})
                )
            row, started = await lro.start(
                session, row, OperationKind.CREATE, principal_id=ctx.caller.object_id, starter=ctx.starter
            )
        ctx.starter.run(started)
        return WriteResult(self._answer(row), created=True, operation_id=started.operation.id)

    async def _update(
        self,
        ctx: RequestContext,
        session: Session,
        row: Resource,
        request: CreateWorkspaceRequest,
    ) -> WriteResult:
        if ProvisioningState(row.provisioning_state) is not ProvisioningState.SUCCEEDED:
            raise Conflict(
                f"Workspace '{row.name}' is {row.provisioning_state}; wait until it has Succeeded to update it.",
                code="ConflictingOperation",
            )
        if request.location and request.location.replace(" ", "").lower() != row.location:
            raise InvalidRequest(
                f"Workspace '{row.name}' is in '{row.location}'; a workspace cannot move.",
                code="LocationNotAvailable",
            )
        record = resources.read_properties(row, WorkspaceRecord)
        sent = request.properties
        row = await resources.update(
            session,
            row,
            tags=request.tags,
            properties=record.described(friendly_name=sent.friendlyName, description=sent.description),
            principal_id=ctx.caller.object_id,
        )
        return WriteResult(self._answer(row), created=False)

    async def patch(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> dict[str, Any]:
        """``ml.workspaces.begin_update``: tags, description and display name (``workspace_updates``)."""
        return self._answer(await patch_workspace(ctx, resource_id, body, current=await self.get(ctx, resource_id)))

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            if row.provisioning_state == ProvisioningState.DELETING:
                raise Conflict(f"Workspace '{row.name}' is already being deleted.", code="ConflictingOperation")
            _, started = await lro.start(
                session, row, OperationKind.DELETE, principal_id=ctx.caller.object_id, starter=ctx.starter
            )
        ctx.starter.run(started)
        return DeleteResult(existed=True, operation_id=started.operation.id)
