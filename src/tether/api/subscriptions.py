"""``GET /subscriptions``: the subscriptions of the caller's tenant (read by ``tether login``, ``account list``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tether.api.deps import ApiVersionDep, CallerDep, ServicesDep
from tether.store import tenancy

router = APIRouter()


@router.get("/subscriptions")
async def list_subscriptions(svc: ServicesDep, caller: CallerDep, _api_version: ApiVersionDep) -> JSONResponse:
    async with svc.store.transaction() as session:
        rows = await tenancy.list_subscriptions(session, caller.tenant_id)
    value = [
        {
            "id": f"/subscriptions/{r.id}",
            "subscriptionId": r.id,
            "tenantId": r.tenant_id,
            "displayName": r.display_name,
            "state": "Enabled",
        }
        for r in rows
    ]
    return JSONResponse({"value": value, "nextLink": None})
