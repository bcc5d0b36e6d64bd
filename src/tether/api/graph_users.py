"""Microsoft Graph ``/v1.0/users`` (subset): create, get (by id or userPrincipalName), list.

The create body is Graph's: ``{"displayName", "userPrincipalName", "passwordProfile": {"password"}}``
(``accountEnabled`` and ``mailNickname`` are accepted and ignored). The password is never returned.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tether.api.actions import request_context
from tether.api.deps import CallerDep, ServicesDep, json_body
from tether.errors import InvalidRequest
from tether.providers import users

router = APIRouter(prefix="/v1.0/users")


@router.get("")
async def list_users(svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse({"value": await users.list_users(request_context(svc, caller))})


@router.get("/{id_or_name}")
async def get_user(id_or_name: str, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(await users.get_user(request_context(svc, caller), id_or_name))


@router.post("")
async def create_user(request: Request, svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    body: Any = await json_body(request, svc)
    profile = body.get("passwordProfile") if isinstance(body, dict) else None
    name, upn = (body.get("displayName"), body.get("userPrincipalName")) if isinstance(body, dict) else (None, None)
    password = profile.get("password") if isinstance(profile, dict) else None
    if not isinstance(name, str) or not isinstance(upn, str) or not isinstance(password, str):
        raise InvalidRequest(
            'The body must be {"displayName": "...", "userPrincipalName": "alias@domain", '
            '"passwordProfile": {"password": "..."}}.',
            code="Request_BadRequest",
        )
    created = await users.create_user(
        request_context(svc, caller), display_name=name, user_principal_name=upn, password=password
    )
    return JSONResponse(created, status_code=201)
