"""Studio pages for jobs (a workspace's list, a job's timeline and live log) and for clusters.

The live log is a server-sent event stream fed by the same reader as ``GET <job>/logs?follow=true``
(``tether ml job stream``); each log line is one ``data:`` event, and an ``end`` event closes it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from tether.api.job_logs import job_log_lines
from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId
from tether.errors import TetherError
from tether.protocol.answers import JobAnswer, read_answer
from tether.studio import arm
from tether.studio.computes import clusters_with_extensions, workspace_id, workspace_link
from tether.studio.web import page, render, signed_in

router = APIRouter(prefix="/studio")

_WS = "/workspaces/{sub}/{rg}/{ws}"
_FINAL = {"Completed", "Failed", "Canceled", "NotResponding"}


@router.get(_WS + "/jobs")
@page
async def jobs(sub: str, rg: str, ws: str, request: Request) -> Response:
    studio = await signed_in(request)
    workspace = workspace_id(sub, rg, ws)
    found = await arm.list_in(studio, workspace, rt.JOBS)
    found.sort(key=lambda j: j.get("systemData", {}).get("createdAt") or "", reverse=True)
    return render(
        request, "jobs.html", studio=studio, workspace=workspace, base=workspace_link(workspace), jobs=found, tab="jobs"
    )


@router.get(_WS + "/jobs/{name}")
@page
async def job(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    workspace = workspace_id(sub, rg, ws)
    found = await arm.get(studio, ResourceId.resource(sub, rg, rt.JOBS, ws, name))
    properties = read_answer(JobAnswer, found, what=f"job '{name}'").properties
    return render(
        request,
        "job.html",
        studio=studio,
        workspace=workspace,
        base=workspace_link(workspace),
        job=found,
        timeline=properties.timeline,
        final=properties.status in _FINAL,
        tab="jobs",
    )


@router.get(_WS + "/jobs/{name}/logs")
@page
async def job_log_events(sub: str, rg: str, ws: str, name: str, request: Request) -> Response:
    studio = await signed_in(request)
    job_id = ResourceId.resource(sub, rg, rt.JOBS, ws, name)
    try:
        lines = await job_log_lines(studio.svc, studio.caller, job_id, follow=True)
    except TetherError as e:
        # Not dispatched yet, or not allowed: one event that says so (the page retries while the job runs).
        notice = json.dumps({"code": e.code, "message": e.message})
        return _events(_single(f"event: notice\ndata: {notice}\n\n"))

    async def events() -> AsyncIterator[str]:
        async for line in lines:
            yield f"data: {json.dumps(line.rstrip())}\n\n"
        yield "event: end\ndata: {}\n\n"

    return _events(events())


async def _single(text: str) -> AsyncIterator[str]:
    yield text


def _events(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get("/clusters")
@page
async def clusters(request: Request) -> Response:
    studio = await signed_in(request)
    found = await clusters_with_extensions(studio)
    return render(request, "clusters.html", studio=studio, clusters=found, tab="clusters")
