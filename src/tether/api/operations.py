"""The status of long-running operations, polled through the ``Azure-AsyncOperation`` URL.

The status only reports: reconcilers finish operations on their own, whether or not anyone polls.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tether.api.deps import CallerDep, ServicesDep
from tether.domain.actions import action_for
from tether.domain.ids import parse_resource_id
from tether.errors import NotFound
from tether.providers.envelope import rfc3339
from tether.store import operations

router = APIRouter()

_PATH = "/subscriptions/{subscription_id}/providers/Tether.Core/operationStatuses/{operation_id}"


def operation_url(public_url: str, subscription_id: str, operation_id: str) -> str:
    path = _PATH.format(subscription_id=subscription_id, operation_id=operation_id)
    return f"{public_url}{path}?api-version=2023-10-01"


@router.get(_PATH)
async def get_operation_status(
    subscription_id: str, operation_id: str, svc: ServicesDep, caller: CallerDep
) -> JSONResponse:
    async with svc.store.transaction() as session:
        row = await operations.get(session, operation_id)
    if row is None or row.subscription_id.lower() != subscription_id.lower():
        raise NotFound(f"Operation '{operation_id}' could not be found.", code="OperationNotFound")
    resource_id = parse_resource_id(row.resource_key)
    await svc.authorizer.authorize(caller, action_for(row.resource_type, "GET"), resource_id)
    body = {
        "id": _PATH.format(subscription_id=subscription_id, operation_id=operation_id),
        "name": operation_id,
        "status": row.status,
        "startTime": rfc3339(row.created_at),
        "endTime": rfc3339(row.finished_at) if row.finished_at else None,
        "error": row.error,
    }
    # azure-core waits Retry-After between polls, and 30 s when it is missing.
    return JSONResponse(body, headers={"Retry-After": "1"} if row.status == "InProgress" else {})
