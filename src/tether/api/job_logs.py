"""``GET <job id>/logs[?follow=true]``: the job's pod logs as plain text, streamed from the cluster.

Each line is prefixed with its pod when the job has several. With ``follow`` the answer stays open
until the pods end (or the client goes away).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tether.api.deps import CallerDep, ServicesDep
from tether.api.services import Services
from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.jobs import JobRecord
from tether.domain.principals import Caller
from tether.errors import Conflict, NotFound
from tether.kube.jobs import job_pods, stream_logs
from tether.store import resources

router = APIRouter()

_PATH = (
    "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{workspace}/jobs/{job}/logs"
)


@router.get(_PATH)
async def job_logs(
    subscription_id: str,
    resource_group: str,
    workspace: str,
    job: str,
    request: Request,
    svc: ServicesDep,
    caller: CallerDep,
) -> StreamingResponse:
    job_id = ResourceId.resource(subscription_id, resource_group, rt.JOBS, workspace, job)
    follow = request.query_params.get("follow", "false").lower() == "true"
    lines = await job_log_lines(svc, caller, job_id, follow=follow)

    async def encoded() -> AsyncIterator[bytes]:
        async for line in lines:
            yield line.encode()

    return StreamingResponse(encoded(), media_type="text/plain; charset=utf-8")


async def job_log_lines(svc: Services, caller: Caller, job_id: ResourceId, *, follow: bool) -> AsyncIterator[str]:
    """The job's log lines (each ending in a newline), once the caller may read the job and it has reached its
    cluster; the API's log route and the Studio's live log both read them here."""
    await svc.authorizer.authorize(caller, action_for(rt.JOBS, "GET"), job_id)
    async with svc.store.transaction() as session:
        row = await resources.get(session, job_id)
    if row is None:
        workspace = job_id.parent.name if job_id.parent else "?"
        raise NotFound(f"Job '{job_id.name}' was not found in workspace '{workspace}'.", code="JobNotFound")
    record = resources.read_properties(row, JobRecord)
    placement = record.private.placement
    if placement is None:
        raise Conflict(
            f"Job '{job_id.name}' has not reached its cluster yet ({record.state.status}); try again shortly.",
            code="JobNotDispatched",
        )
    cluster_id = parse_resource_id(placement.cluster_id)
    namespace, name = placement.namespace, placement.cluster_job_name

    async def lines() -> AsyncIterator[str]:
        async with svc.access.connect(
            cluster_id.key, connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS, timeout_s=30
        ) as connection:
            pods = await job_pods(connection, namespace=namespace, name=name)
            for pod in pods:
                prefix = f"[{pod}] " if len(pods) > 1 else ""
                async for line in stream_logs(connection, namespace=namespace, pod=pod, follow=follow):
                    yield f"{prefix}{line.rstrip()}\n"

    return lines()
