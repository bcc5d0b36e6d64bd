"""A Microsoft Graph subset for the directory: ``/v1.0/servicePrincipals`` (list, get, create, secrets, delete).

Applications and ``directoryObjects/getByIds`` are in ``api.graph_applications``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from tether.api.actions import request_context
from tether.api.deps import CallerDep, ServicesDep, json_body
from tether.providers import service_principals

router = APIRouter(prefix="/v1.0/servicePrincipals")


@router.get("")
async def list_service_principals(
    svc: ServicesDep, caller: CallerDep, filter_text: Annotated[str | None, Query(alias="$filter")] = None
) -> JSONResponse:
    items = await service_principals.list_principals(request_context(svc, caller), filter_text=filter_text)
    return JSONResponse({"value": items})


@router.get("/{object_id}")
async def get_service_principal(object_id: str, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(await service_principals.get_principal(request_context(svc, caller), object_id))


@router.post("")
async def create_service_principal(request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    body: Any = await json_body(request, svc)
    created = await service_principals.create_service_principal(request_context(svc, caller), body)
    return JSONResponse(created, status_code=201)


@router.post("/{object_id}/addPassword")
async def add_password(object_id: str, request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    body = await json_body(request, svc) if await request.body() else None
    return JSONResponse(await service_principals.add_password(request_context(svc, caller), object_id, body))


@router.post("/{object_id}/removePassword")
async def remove_password(object_id: str, request: Request, svc: ServicesDep, caller: CallerDep) -> Response:
    await service_principals.remove_password(request_context(svc, caller), object_id, await json_body(request, svc))
    return Response(status_code=204)


@router.delete("/{object_id}")
async def delete_service_principal(object_id: str, svc: ServicesDep, caller: CallerDep) -> Response:
    await service_principals.delete_service_principal(request_context(svc, caller), object_id)
    return Response(status_code=204)
