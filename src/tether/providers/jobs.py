"""Jobs on Kubernetes compute targets: create, show, list, cancel, delete (the job ARM resource).

Creating a job validates it and queues its dispatch (a long-running operation the dispatcher
finishes: the TetherJob in the compute's namespace); its ``status`` and ``timeline`` then follow
what the cluster reports. A job's spec never changes after creation. Cancel asks the cluster to
stop the job's pods; delete is for jobs that have ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.jobs import JobStatus, with_event
from tether.domain.names import validate_name
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.protocol.jobs import CreateJobRequest
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult
from tether.providers.envelope import envelope, parse_body
from tether.providers.reads import read_page, read_row
from tether.providers.workspaces import not_found as workspace_not_found
from tether.store import Session, operations, resources
from tether.store.tables import ResourceRow

_HIDDEN = ("clusterJobName", "namespace", "clusterId")


def answer(row: ResourceRow) -> dict[str, Any]:
    properties = {k: v for k, v in row.properties.items() if k not in _HIDDEN and not k.startswith("_")}
    return envelope(row, properties=properties)


def not_found(resource_id: ResourceId) -> NotFound:
    workspace = resource_id.parent.name if resource_id.parent else "?"
    return NotFound(f"Job '{resource_id.name}' was not found in workspace '{workspace}'.", code="JobNotFound")


def compute_id_of(workspace_id: ResourceId, text: str) -> ResourceId:
    """``azureml:<name>``, ``<name>`` or a full compute id → the compute's id in this workspace."""
    if text.lower().startswith("azureml:"):
        text = text.split(":", 1)[1]
    if "/" not in text:
        validate_name(rt.COMPUTES, text)
        return workspace_id.child("computes", text)
    compute_id = parse_resource_id(text)
    if compute_id.full_type != rt.COMPUTES or compute_id.parent is None or compute_id.parent.key != workspace_id.key:
        raise InvalidRequest(
            f"computeId '{text}' is not a compute of this workspace; use azureml:<compute name>.",
            code="InvalidComputeId",
            target="properties.computeId",
        )
    return compute_id


async def active_jobs_on(session: Session, compute_id: ResourceId) -> list[str]:
    """Names of the jobs of a compute that have not ended (a compute with those cannot be detached)."""
    workspace_id = compute_id.parent
    assert workspace_id is not None
    jobs = await resources.list_children(session, workspace_id, rt.JOBS)
    return [
        j.name
        for j in jobs
        if j.properties.get("computeId", "").lower() == str(compute_id).lower()
        and not JobStatus(j.properties.get("status", "Queued")).is_terminal
    ]


class Jobs:
    full_type: ClassVar[str] = rt.JOBS

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return await read_page(
            ctx, parent, self.full_type, offset=offset, limit=limit, render=answer, parent_missing=workspace_not_found
        )

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateJobRequest, body).properties
        validate_name(self.full_type, resource_id.name)
        if request.jobType.lower() != "command":
            raise InvalidRequest(
                f"jobType '{request.jobType}' is not supported: Tether runs command jobs.",
                code="InvalidJobType",
                target="properties.jobType",
            )
        if request.environment is None:
            detail = f" ('{request.environmentId}' names a registered environment)" if request.environmentId else ""
            raise InvalidRequest(
                f"The job needs a container image: environment: {{image: <image>}}{detail}. Registered "
                "environments (azureml:<name>@latest) are not supported yet.",
                code="InvalidEnvironment",
                target="properties.environment",
            )
        workspace_id = resource_id.parent
        assert workspace_id is not None
        compute_id = compute_id_of(workspace_id, request.computeId)
        async with ctx.store.transaction() as session:
            # The compute first: a compute's workspace exists (deletes take children along), so the
            # workspace is read only to say which of the two is missing.
            compute = await resources.get(session, compute_id)
            if compute is None and await resources.get(session, workspace_id) is None:
                raise workspace_not_found(workspace_id)
            if await resources.get(session, resource_id) is not None:
                raise Conflict(
                    f"A job named '{resource_id.name}' already exists; job names are unique in a workspace.",
                    code="JobAlreadyExists",
                )
            if compute is None:
                raise NotFound(
                    f"Compute '{compute_id.name}' does not exist in this workspace.",
                    code="ComputeNotFound",
                    target="properties.computeId",
                )
            if compute.provisioning_state != ProvisioningState.SUCCEEDED.value:
                raise Conflict(
                    f"Compute '{compute.name}' is {compute.provisioning_state}, not Succeeded: jobs cannot run on it. "
                    f"See why with: tether ml compute show -n {compute.name} ...",
                    code="ComputeNotAccessible",
                )
            properties = {
                **request.model_dump(exclude_none=True),
                "computeId": str(compute_id),
                "status": JobStatus.QUEUED.value,
                "timeline": with_event([], JobStatus.QUEUED.value, reason="waiting for dispatch to the cluster"),
                "error": None,
                "cancelRequested": False,
            }
            row = await resources.insert(
                session,
                resource_id,
                location=compute.location,
                tags=request.tags,
                identity=None,
                properties=properties,
                state=ProvisioningState.SUCCEEDED,
                principal_id=ctx.caller.object_id,
            )
            operation = await operations.create(session, row, OperationKind.CREATE)
            claim = await ctx.hints.claim(session, operation)  # dispatch without waiting for a poll or a lease
        ctx.hints.hand_off(claim, self.full_type)
        return WriteResult(answer(row), created=True)

    async def cancel(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        """Ask for the job to stop; the dispatcher cancels it in the cluster (or at once if never dispatched)."""
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                raise not_found(resource_id)
            if not JobStatus(row.properties["status"]).is_terminal and not row.properties.get("cancelRequested"):
                row.properties = {
                    **row.properties,
                    "cancelRequested": True,
                    "timeline": with_event(
                        row.properties["timeline"], "CancelRequested", reason=f"requested by {ctx.caller.object_id}"
                    ),
                }
                resources.touch(row, principal_id=ctx.caller.object_id)
                await operations.create(session, row, OperationKind.UPDATE)
        ctx.hints.wake(self.full_type)
        return answer(row)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            if not JobStatus(row.properties["status"]).is_terminal:
                raise Conflict(
                    f"Job '{row.name}' is {row.properties['status']}; cancel it first "
                    f"(tether ml job cancel -n {row.name} ...).",
                    code="JobNotTerminal",
                )
            await resources.delete_tree_by_key(session, row.key)
        return DeleteResult(existed=True)
