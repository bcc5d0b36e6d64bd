"""ARM template deployments (``Microsoft.Resources/deployments``), narrowed to azure-ai-ml's workspace template.

A PUT recognises the SDK's workspace template (``tether.domain.deployments``) and creates the workspace
through the workspace provider, as a workspace PUT would (same authorization, same default storage and
identity); the deployment row records what was deployed and the workspace's create operation. The
deployment's state is that operation's: the PUT answers 201 with the operation as its
``Azure-AsyncOperation``, and GET reads Running, Succeeded or Failed from it, so the workspace
reconciler finishes both. ``.../deployments/{name}/operations`` lists one entry per resource deployed
(the default storage account, then the workspace), in ARM's shape, which the SDK prints as progress.

Hazard: the deployment's state is read from the operation row; if it is gone (its workspace's group was
deleted), the state stored at the PUT is answered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.deployments import (
    DEPLOYMENT_OPERATIONS,
    DEPLOYMENTS,
    validate_deployment_name,
    workspace_deployment,
)
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.deployments import DeploymentPrivate, DeploymentRecord
from tether.domain.operations import Operation
from tether.domain.resources import Resource
from tether.domain.states import OperationStatus, ProvisioningState
from tether.errors import InvalidRequest, NotFound
from tether.protocol.answers import WorkspaceAnswer, read_answer
from tether.protocol.arm import with_properties
from tether.protocol.deployments import deployment_properties
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import require_parent, rfc3339
from tether.providers.reads import read_row
from tether.providers.workspaces import Workspaces
from tether.store import Session, operations, resources

_STATE_OF_OPERATION = {
    OperationStatus.IN_PROGRESS.value: "Running",
    OperationStatus.SUCCEEDED.value: "Succeeded",
    OperationStatus.FAILED.value: "Failed",
    OperationStatus.CANCELED.value: "Canceled",
}


def not_found(resource_id: ResourceId) -> NotFound:
    return NotFound(
        f"Deployment '{resource_id.name}' could not be found in resource group '{resource_id.resource_group}'.",
        code="DeploymentNotFound",
    )


def _duration(start: dt.datetime, end: dt.datetime | None) -> str:
    """ISO 8601 duration, as ARM writes it (``PT12.345S``)."""
    seconds = ((end or dt.datetime.now(dt.UTC)) - start).total_seconds()
    return f"PT{max(seconds, 0):.3f}S"


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class _Progress:
    """A deployment's state, read from its workspace's create operation (or as stored without one)."""

    def __init__(self, row: Resource, operation: Operation | None) -> None:
        self.start = _as_utc(row.created_at)
        self.end: dt.datetime | None
        self.error: dict[str, Any] | None
        if operation is None:
            stored = row.provisioning_state
            self.state = stored if stored in ("Succeeded", "Failed") else "Running"
            self.end, self.error = self.start, None
        else:
            self.state = _STATE_OF_OPERATION.get(operation.status, "Running")
            self.end = _as_utc(operation.finished_at) if operation.finished_at else None
            self.error = operation.error


async def _read_progress(session: Session, row: Resource) -> _Progress:
    operation_id = resources.read_properties(row, DeploymentRecord).private.operation_id
    return _Progress(row, await operations.get(session, operation_id) if operation_id else None)


async def _progress(ctx: RequestContext, row: Resource) -> _Progress:
    async with ctx.store.transaction() as session:
        return await _read_progress(session, row)


def _answer(row: Resource, progress: _Progress) -> dict[str, Any]:
    properties = deployment_properties(
        resources.read_properties(row, DeploymentRecord),
        state=progress.state,
        timestamp=rfc3339(progress.end or progress.start),
        duration=_duration(progress.start, progress.end),
        error=progress.error,
    )
    return {"id": row.id, "name": row.name, "type": DEPLOYMENTS, "properties": properties}


class Deployments:
    full_type: ClassVar[str] = DEPLOYMENTS

    def __init__(self, *, workspaces: Workspaces) -> None:
        self._workspaces = workspaces

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        row = await read_row(ctx, resource_id, missing=not_found)
        return _answer(row, await _progress(ctx, row))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        async with ctx.store.transaction() as session:
            rows = await resources.list_children(session, parent, self.full_type, offset=offset, limit=limit + 1)
            items = [_answer(r, await _read_progress(session, r)) for r in rows[:limit]]
        return Page(items, more=len(rows) > limit)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        validate_deployment_name(resource_id.name)
        if resource_id.resource_group is None or resource_id.parent is None or resource_id.parent.segments:
            raise InvalidRequest("Tether deploys templates only at resource group scope.", code="InvalidTemplate")
        deployment = workspace_deployment(
            body, subscription_id=resource_id.subscription_id, resource_group=resource_id.resource_group
        )
        workspace_id = ResourceId.resource(
            resource_id.subscription_id, resource_id.resource_group, rt.WORKSPACES, deployment.workspace_name
        )
        # Deploying a template needs the permissions of each resource it writes, as in ARM.
        await ctx.authz.authorize(ctx.caller, action_for(rt.WORKSPACES, "PUT"), workspace_id)
        async with ctx.store.transaction() as session:
            await require_parent(session, resource_id)  # the group, or ResourceGroupNotFound before any write
        result = await self._workspaces.put(ctx, workspace_id, deployment.workspace_body)
        storage = read_answer(WorkspaceAnswer, result.resource, what="workspace").properties.storageAccount
        record = DeploymentRecord(
            correlation_id=str(uuid.uuid4()),
            parameters={k: {"value": v} for k, v in deployment.parameters.items()},
            deployed=[*([storage] if storage else []), result.resource["id"]],
            private=DeploymentPrivate(operation_id=result.operation_id),
        )
        state = ProvisioningState.CREATING if result.operation_id else ProvisioningState.SUCCEEDED
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            created = row is None
            if row is None:
                row = await resources.insert(
                    session,
                    resource_id,
                    location=None,
                    tags={},
                    identity=None,
                    properties=record,
                    state=state,
                    principal_id=ctx.caller.object_id,
                )
            else:
                row = await resources.update(
                    session, row, properties=record, state=state, principal_id=ctx.caller.object_id
                )
        answer = _answer(row, await _progress(ctx, row))
        if result.operation_id:
            answer = with_properties(answer, provisioningState="Accepted")
        return WriteResult(answer, created=created, operation_id=result.operation_id)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        """Deletes the deployment's record only; what it deployed stays, as in ARM."""
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            await resources.delete_tree_by_key(session, row.key)
        return DeleteResult(existed=True)


def _operation(deployment: Resource, target_id: str, progress: _Progress, *, last: bool) -> dict[str, Any]:
    """One deployment operation: resources before the last (storage) were created in the PUT itself."""
    state = progress.state if last else "Succeeded"
    target = parse_resource_id(target_id)
    correlation_id = resources.read_properties(deployment, DeploymentRecord).correlation_id
    operation_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{deployment.key}|{target.key}").hex.upper()[:16]
    properties: dict[str, Any] = {
        "provisioningOperation": "Create",
        "provisioningState": state,
        "timestamp": rfc3339(progress.end if last and progress.end else progress.start),
        "duration": _duration(progress.start, progress.end if last else progress.start),
        "trackingId": correlation_id,
        "serviceRequestId": correlation_id,
        "statusCode": {"Succeeded": "Created", "Failed": "BadRequest"}.get(state, "Accepted"),
        "targetResource": {"id": str(target), "resourceType": target.full_type, "resourceName": target.name},
    }
    if last and progress.error:
        properties["statusMessage"] = {"status": "Failed", "error": {**progress.error, "details": []}}
    return {"id": f"{deployment.id}/operations/{operation_id}", "operationId": operation_id, "properties": properties}


class DeploymentOperations:
    """``.../deployments/{name}/operations``: read-only, one entry per resource the deployment created."""

    full_type: ClassVar[str] = DEPLOYMENT_OPERATIONS

    async def _all(self, ctx: RequestContext, deployment_id: ResourceId) -> list[dict[str, Any]]:
        row = await read_row(ctx, deployment_id, missing=not_found)
        progress = await _progress(ctx, row)
        deployed = resources.read_properties(row, DeploymentRecord).deployed
        return [_operation(row, t, progress, last=i == len(deployed) - 1) for i, t in enumerate(deployed)]

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        assert resource_id.parent is not None  # an operation id always has its deployment as parent
        for operation in await self._all(ctx, resource_id.parent):
            if operation["operationId"].lower() == resource_id.name.lower():
                return operation
        raise NotFound(f"Deployment operation '{resource_id.name}' could not be found.", code="NotFound")

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        items = await self._all(ctx, parent)
        return Page(items[offset : offset + limit], more=len(items) > offset + limit)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        raise InvalidRequest("Deployment operations are read-only.", code="MethodNotAllowed")

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        raise InvalidRequest("Deployment operations are read-only.", code="MethodNotAllowed")
