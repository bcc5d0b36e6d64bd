"""Microsoft Graph ``/v1.0/applications`` and ``/v1.0/directoryObjects/getByIds``, as az uses them.

``az ad sp create-for-rbac`` lists applications by ``startswith(displayName,...)``, creates one,
adds a password and creates its service principal; ``az ad app``/``ad sp ... --id <appId>`` look
applications up by ``appId eq``; ``az role assignment list`` resolves principal ids through
``getByIds``. Graph answers collections as ``{"@odata.context", "value"}`` and its actions that
return nothing as 204. The model behind them is in ``providers.applications``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from tether.api.actions import request_context
from tether.api.deps import CallerDep, ServicesDep, json_body
from tether.errors import InvalidRequest
from tether.providers import applications, service_principals

router = APIRouter(prefix="/v1.0")


def _collection(svc: ServicesDep, kind: str, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"@odata.context": f"{svc.public_url}/v1.0/$metadata#{kind}", "value": items})


@router.get("/applications")
async def list_applications(
    svc: ServicesDep, caller: CallerDep, filter_text: Annotated[str | None, Query(alias="$filter")] = None
) -> JSONResponse:
    items = await applications.list_applications(request_context(svc, caller), filter_text=filter_text)
    return _collection(svc, "applications", items)


@router.get("/applications/{app_id}")
async def get_application(app_id: str, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(await applications.get_application(request_context(svc, caller), app_id))


@router.post("/applications")
async def create_application(request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    created = await applications.create_application(request_context(svc, caller), await json_body(request, svc))
    return JSONResponse(created, status_code=201)


@router.patch("/applications/{app_id}")
async def update_application(app_id: str, request: Request, svc: ServicesDep, caller: CallerDep) -> Response:
    await applications.update_application(request_context(svc, caller), app_id, await json_body(request, svc))
    return Response(status_code=204)


@router.delete("/applications/{app_id}")
async def delete_application(app_id: str, svc: ServicesDep, caller: CallerDep) -> Response:
    await applications.delete_application(request_context(svc, caller), app_id)
    return Response(status_code=204)


@router.post("/applications/{app_id}/addPassword")
async def add_password(app_id: str, request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    body = await json_body(request, svc) if await request.body() else None
    return JSONResponse(await applications.add_application_password(request_context(svc, caller), app_id, body))


@router.post("/applications/{app_id}/removePassword")
async def remove_password(app_id: str, request: Request, svc: ServicesDep, caller: CallerDep) -> Response:
    body = await json_body(request, svc)
    await applications.remove_application_password(request_context(svc, caller), app_id, body)
    return Response(status_code=204)


@router.post("/directoryObjects/getByIds")
async def get_by_ids(request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    body = await json_body(request, svc)
    ids = body.get("ids") if isinstance(body, dict) else None
    types = body.get("types", []) if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        raise InvalidRequest(
            'The body must be {"ids": ["<object id>", ...]} (at most 1000).', code="Request_BadRequest"
        )
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidRequest('"types" must be a list of names such as "servicePrincipal".', code="Request_BadRequest")
    found = await service_principals.get_by_ids(request_context(svc, caller), ids=ids, types=types)
    return _collection(svc, "directoryObjects", found)
