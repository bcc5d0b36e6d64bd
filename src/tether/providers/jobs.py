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
from tether.domain.models.jobs import MUTABLE_SPEC_FIELDS, JobPrivate, JobRecord, JobRun, JobSpec, JobState
from tether.domain.names import validate_name
from tether.domain.resources import Resource
from tether.domain.states import OperationKind, ProvisioningState
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.protocol.answers import JobAnswer, read_answer
from tether.protocol.jobs import CreateJobRequest, job_properties, without_output_fields
from tether.providers import job_inputs
from tether.providers.base import DeleteResult, Page, RequestContext, StartedOperation, WriteResult
from tether.providers.envelope import envelope, parse_body
from tether.providers.reads import read_page, read_row
from tether.providers.workspaces import not_found as workspace_not_found
from tether.store import Session, resources


def answer(row: Resource, *, public_url: str | None = None) -> dict[str, Any]:
    """The job as ARM answers it; with ``public_url``, ``services.Studio`` links to the job's Studio page."""
    studio_endpoint = None
    if public_url is not None:
        job_id = parse_resource_id(row.id)
        workspace = job_id.parent
        assert workspace is not None
        page = f"{public_url}/studio/workspaces/{job_id.subscription_id}/{job_id.resource_group}/{workspace.name}"
        studio_endpoint = f"{page}/jobs/{row.name}"
    record = resources.read_properties(row, JobRecord)
    return envelope(row, properties=job_properties(record, studio_endpoint=studio_endpoint))


async def _update(ctx: RequestContext, session: Session, row: Resource, request: JobSpec) -> Resource:
    """A PUT of an existing job: the same spec with other ``MUTABLE_SPEC_FIELDS`` (archive, tags...), else 409.
    Answers the job as now stored.

    ``request`` is the spec as it would be stored (outputs resolved, the full compute id)."""
    record = resources.read_properties(row, JobRecord)
    sent, stored = request.stored(), record.spec.stored()
    changed = sorted(
        k
        for k in set(sent) | set(stored)
        if k not in MUTABLE_SPEC_FIELDS
        and sent.get(k) != stored.get(k)
        and not (k == "computeId" and _same_id(sent[k], stored[k]))
    )
    if changed:
        raise Conflict(
            f"A job named '{row.name}' already exists with another spec ({', '.join(changed)}); a job's spec never "
            "changes: only isArchived, tags, description, displayName and properties can be updated.",
            code="JobAlreadyExists",
        )
    # A field the PUT leaves out (a description...) keeps its value.
    update = {k: getattr(request, k) for k in MUTABLE_SPEC_FIELDS if k in sent}
    updated = record.model_copy(update={"spec": record.spec.model_copy(update=update)})
    return await resources.update(
        session, row, properties=updated, tags=request.tags, principal_id=ctx.caller.object_id
    )


def _same_id(first: str, second: str) -> bool:
    return first.lower() == second.lower()


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
    records = ((j.name, resources.read_properties(j, JobRecord)) for j in jobs)
    return [
        name
        for name, record in records
        if _same_id(record.spec.computeId, str(compute_id)) and not record.state.status.is_terminal
    ]


class Jobs:
    full_type: ClassVar[str] = rt.JOBS

    def __init__(self, *, public_url: str | None = None) -> None:
        self._public_url = public_url.rstrip("/") if public_url else None

    def _answer(self, row: Resource) -> dict[str, Any]:
        return answer(row, public_url=self._public_url)

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        return self._answer(await read_row(ctx, resource_id, missing=not_found))

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        """The workspace's jobs; ``listViewType`` as the SDK sends it: ``ActiveOnly`` (its default) leaves
        archived jobs out, ``ArchivedOnly`` lists only those, ``All`` (and no parameter) every job."""
        page = await read_page(
            ctx,
            parent,
            self.full_type,
            offset=offset,
            limit=limit,
            render=self._answer,
            parent_missing=workspace_not_found,
        )
        view = {k.lower(): v for k, v in params.items()}.get("listviewtype", "All").lower()
        if view not in ("activeonly", "archivedonly"):
            return page
        archived = view == "archivedonly"
        kept = [j for j in page.items if read_answer(JobAnswer, j, what="job").properties.isArchived == archived]
        return Page(kept, page.more)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        request = parse_body(CreateJobRequest, without_output_fields(body)).properties
        validate_name(self.full_type, resource_id.name)
        if request.jobType.lower() != "command":
            raise InvalidRequest(
                f"jobType '{request.jobType}' is not supported: Tether runs command jobs.",
                code="InvalidJobType",
                target="properties.jobType",
            )
        workspace_id = resource_id.parent
        assert workspace_id is not None
        compute_id = compute_id_of(workspace_id, request.computeId)
        outputs = job_inputs.resolve_outputs(resource_id.name, request)
        command = job_inputs.command_for_pods(request)
        timeout = job_inputs.timeout_seconds(request)
        spec = request.model_copy(update={"outputs": outputs, "computeId": str(compute_id)})
        async with ctx.store.transaction() as session:
            existing = await resources.get(session, resource_id, for_update=True)
            if existing is not None:
                existing = await _update(ctx, session, existing, spec)
                return WriteResult(self._answer(existing), created=False)
            # The compute first: a compute's workspace exists (deletes take children along), so the
            # workspace is read only to say which of the two is missing.
            compute = await resources.get(session, compute_id)
            if compute is None and await resources.get(session, workspace_id) is None:
                raise workspace_not_found(workspace_id)
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
            job_inputs.check_identity(request, compute)
            job_inputs.check_instance_type(request, compute, await job_inputs.known_instance_types(session, compute))
            image = await job_inputs.resolve_image(session, workspace_id, request)
            snapshot = await job_inputs.resolve_code(session, workspace_id, request)
            record = JobRecord(
                spec=spec,
                state=JobState(
                    status=JobStatus.QUEUED,
                    timeline=with_event([], JobStatus.QUEUED.value, reason="waiting for dispatch to the cluster"),
                ),
                private=JobPrivate(run=JobRun(image=image, command=command, code=snapshot, timeout_seconds=timeout)),
            )
            row = await resources.insert(
                session,
                resource_id,
                location=compute.location,
                tags=request.tags,
                identity=None,
                properties=record,
                state=ProvisioningState.SUCCEEDED,
                principal_id=ctx.caller.object_id,
            )
            # Handed off: its dispatch runs next, without waiting for a poll or a lease.
            started = await ctx.starter.start(session, row, OperationKind.CREATE)
        ctx.starter.run(started)
        return WriteResult(self._answer(row), created=True)

    async def cancel(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        """Ask for the job to stop; the dispatcher cancels it in the cluster (or at once if never dispatched)."""
        started: StartedOperation | None = None
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                raise not_found(resource_id)
            record = resources.read_properties(row, JobRecord)
            state = record.state
            if not state.status.is_terminal and not state.cancel_requested:
                reason = f"requested by {ctx.caller.object_id}"
                timeline = with_event(state.timeline, "CancelRequested", reason=reason)
                state = state.model_copy(update={"cancel_requested": True, "timeline": timeline})
                row = await resources.update(
                    session,
                    row,
                    properties=record.model_copy(update={"state": state}),
                    principal_id=ctx.caller.object_id,
                )
                started = await ctx.starter.start(session, row, OperationKind.UPDATE)
        if started is not None:
            ctx.starter.run(started)
        return self._answer(row)

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        async with ctx.store.transaction() as session:
            row = await resources.get(session, resource_id, for_update=True)
            if row is None:
                return DeleteResult(existed=False)
            status = resources.read_properties(row, JobRecord).state.status
            if not status.is_terminal:
                raise Conflict(
                    f"Job '{row.name}' is {status}; cancel it first (tether ml job cancel -n {row.name} ...).",
                    code="JobNotTerminal",
                )
            await resources.delete_tree_by_key(session, row.key)
        return DeleteResult(existed=True)
