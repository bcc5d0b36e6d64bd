"""ACR's token endpoints, for every registry this server serves: ``POST /oauth2/exchange``, ``GET|POST /oauth2/token``.

A registry's process names ``<public URL>/oauth2/token`` as its challenge's realm, and ``az acr
login`` posts to ``/oauth2/exchange`` on the realm's host, as with ACR; the registry is the one whose
login server is the ``service`` parameter. Reachable without a token (a client needs them to get
one); errors use ACR's shape (``{"errors": [{"code", "message"}]}``): 401 without a valid
credential, 400 otherwise. The token logic is ``tether.registry.token_service``; this only parses and answers.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tether.api.deps import ServicesDep
from tether.registry.token_service import DOCKER_TOKEN_USER, UNAUTHORIZED, TokenRefused

router = APIRouter()


def _refused(e: TokenRefused) -> JSONResponse:
    status = 401 if e.code == UNAUTHORIZED else 400
    return JSONResponse({"errors": [{"code": e.code, "message": e.message}]}, status_code=status)


async def _fields(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.post("/oauth2/exchange", include_in_schema=False)
async def exchange(request: Request, svc: ServicesDep) -> JSONResponse:
    fields = await _fields(request)
    try:
        refresh = await svc.registries.token_service.exchange(
            grant_type=fields.get("grant_type", ""),
            service=fields.get("service", ""),
            access_token=fields.get("access_token", ""),
        )
    except TokenRefused as e:
        return _refused(e)
    return JSONResponse({"refresh_token": refresh})


@router.api_route("/oauth2/token", methods=["GET", "POST"], include_in_schema=False)
async def token(request: Request, svc: ServicesDep) -> JSONResponse:
    fields = await _fields(request) if request.method == "POST" else {}
    scopes = request.query_params.getlist("scope") + ([fields["scope"]] if "scope" in fields else [])
    try:
        answer = await svc.registries.token_service.access_token(
            service=fields.get("service") or request.query_params.get("service") or "",
            refresh_token=_refresh_token_of(request, fields),
            scopes=scopes,
        )
    except TokenRefused as e:
        return _refused(e)
    return JSONResponse(answer)


def _refresh_token_of(request: Request, fields: dict[str, str]) -> str | None:
    """The refresh token: a form's ``refresh_token`` grant, a ``password`` grant, or docker's basic auth."""
    grant = fields.get("grant_type")
    if grant == "refresh_token":
        return fields.get("refresh_token") or None
    if grant == "password":
        return fields.get("password") or None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == DOCKER_TOKEN_USER and password else None
