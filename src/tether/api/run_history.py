"""What azure-ai-ml's ``jobs.stream`` and ``jobs.download`` read besides ARM: discovery, a run-history subset,
and the job's log behind a signed, short-lived URL.

- ``GET /discovery`` (no token, as Azure's regional document): the workspace's ``discoveryUrl``; every
  service URL is this server.
- ``GET /history/v1.0/<workspace id>/runs/<job>/details``: the run's ``status``, times and ``logFiles``
  (``user_logs/std_log.txt`` → a signed URL once the job has reached its cluster).
- ``POST /history/v1.0/<workspace id>/rundata``: the run's metadata; ``outputs`` is empty, so the SDK
  finds outputs at their default location in the default datastore (``azureml/<job>/<output>/``).
- ``GET /history/logs?job=<job id>&sig=<token>``: the job's log as text. The SDK fetches log URLs
  without a token, so the URL carries one: a token of the caller who read the details, for the audience
  ``tether-logs:<job id>`` only, valid ``LOG_URL_LIFETIME_S``.

Hazard: the signed URL is a bearer credential for that one job's log until it expires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from tether.api.deps import CallerDep, ServicesDep, json_body
from tether.api.job_logs import job_log_lines
from tether.api.services import Services
from tether.domain import resource_types as rt
from tether.domain.actions import action_for
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.jobs import JobRecord
from tether.domain.principals import Caller
from tether.domain.resources import Resource
from tether.errors import Conflict, InvalidRequest, NotFound
from tether.store import resources

router = APIRouter()

LOG_URL_LIFETIME_S = 300
LOG_NAME = "user_logs/std_log.txt"
_WS = (
    "/history/v1.0/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{workspace}"
)


@router.get("/discovery")
async def discovery(svc: ServicesDep) -> JSONResponse:
    url = svc.public_url
    keys = ("api", "catalog", "experimentation", "history", "modelmanagement", "pipelines")
    return JSONResponse({**{k: url for k in keys}, "studio": f"{url}/studio"})


def _log_audience(job_id: ResourceId) -> str:
    return f"tether-logs:{job_id.key}"


async def _job(svc: Services, caller: Caller, job_id: ResourceId) -> Resource:
    await svc.authorizer.authorize(caller, action_for(rt.JOBS, "GET"), job_id)
    async with svc.store.transaction() as session:
        row = await resources.get(session, job_id)
    if row is None:
        workspace = job_id.parent.name if job_id.parent else "?"
        raise NotFound(f"Run '{job_id.name}' was not found in workspace '{workspace}'.", code="UserError")
    return row


def _times(record: JobRecord) -> dict[str, Any]:
    timeline = record.state.timeline
    started = next((e.time for e in timeline if e.phase == "Running"), None)
    ended = next((e.time for e in timeline if e.phase in ("Completed", "Failed", "Canceled")), None)
    return {"startTimeUtc": started, "endTimeUtc": ended}


@router.get(_WS + "/runs/{run}/details")
async def run_details(
    subscription_id: str, resource_group: str, workspace: str, run: str, svc: ServicesDep, caller: CallerDep
) -> JSONResponse:
    job_id = ResourceId.resource(subscription_id, resource_group, rt.JOBS, workspace, run)
    row = await _job(svc, caller, job_id)
    record = resources.read_properties(row, JobRecord)
    log_files: dict[str, str] = {}
    if record.dispatched:
        token = svc.tokens.mint(caller, audience=_log_audience(job_id), lifetime_s=LOG_URL_LIFETIME_S)
        query = urlencode({"job": row.id, "sig": token["access_token"]})
        log_files[LOG_NAME] = f"{svc.public_url}/history/logs?{query}"
    error = record.state.error
    return JSONResponse(
        {
            "runId": row.name,
            "target": parse_resource_id(record.spec.computeId).name,
            "status": record.state.status.value,
            **_times(record),
            "logFiles": log_files,
            "warnings": [],
            "error": {"error": error.model_dump(mode="json")} if error else None,
            "properties": record.spec.properties,
            "inputDatasets": [],
            "outputDatasets": [],
        }
    )


@router.post(_WS + "/rundata")
async def run_data(
    subscription_id: str, resource_group: str, workspace: str, request: Request, svc: ServicesDep, caller: CallerDep
) -> JSONResponse:
    body = await json_body(request, svc)
    run = body.get("runId") if isinstance(body, dict) else None
    if not isinstance(run, str) or not run:
        raise InvalidRequest('The body needs the run\'s id: {"runId": "<job name>"}.', code="UserError")
    job_id = ResourceId.resource(subscription_id, resource_group, rt.JOBS, workspace, run)
    row = await _job(svc, caller, job_id)
    record = resources.read_properties(row, JobRecord)
    metadata = {
        "runId": row.name,
        "status": record.state.status.value,
        "experimentName": record.spec.experimentName,
        "displayName": record.spec.displayName,
        "tags": row.tags or {},
        "properties": record.spec.properties,
        **_times(record),
        "outputs": {},  # outputs are at their default location (see the module's docstring)
    }
    return JSONResponse({"runMetadata": metadata})


@router.get("/history/logs")
async def signed_log(job: str, sig: str, svc: ServicesDep) -> PlainTextResponse:
    job_id = parse_resource_id(job)
    if job_id.full_type != rt.JOBS:
        raise InvalidRequest(f"'{job}' is not a job id.", code="InvalidResourceId")
    caller = await svc.tokens.authenticate(sig, audiences=[_log_audience(job_id)])
    try:
        lines = [line async for line in await job_log_lines(svc, caller, job_id, follow=False)]
    except (Conflict, InvalidRequest):
        lines = []  # not started yet (pods initializing): an empty log, as Azure's before the first line
    return PlainTextResponse("".join(lines))
