"""``GET <job id>/logs[?follow=true]``: the job's pod logs as plain text, streamed from the cluster.

Each line is prefixed with its pod when the job has several. With ``follow`` the answer stays open
until the pods end (or the client goes away).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tether.api.deps import CallerDep, ServicesDep
from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.ids import ResourceId, parse_resource_id
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
    await svc.authorizer.authorize(caller, action_for(rt.JOBS, "GET"), job_id)
    async with svc.store.transaction() as session:
        row = await resources.get(session, job_id)
    if row is None:
        raise NotFound(f"Job '{job}' was not found in workspace '{workspace}'.", code="JobNotFound")
    properties = row.properties
    if not properties.get("clusterJobName"):
        raise Conflict(
            f"Job '{job}' has not reached its cluster yet ({properties['status']}); try again shortly.",
            code="JobNotDispatched",
        )
    cluster_id = parse_resource_id(properties["clusterId"])
    follow = request.query_params.get("follow", "false").lower() == "true"
    namespace, name = properties["namespace"], properties["clusterJobName"]

    async def lines() -> AsyncIterator[bytes]:
        async with svc.access.connect(
            cluster_id.key, connected=cluster_id.full_type == rt.CONNECTED_CLUSTERS, timeout_s=30
        ) as connection:
            pods = await job_pods(connection, namespace=namespace, name=name)
            for pod in pods:
                prefix = f"[{pod}] " if len(pods) > 1 else ""
                async for line in stream_logs(connection, namespace=namespace, pod=pod, follow=follow):
                    yield f"{prefix}{line.rstrip()}\n".encode()

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")
