"""A registry's login server: ACR's token endpoints beside ``/v2/``, which is forwarded to the registry process.

- ``POST /oauth2/exchange`` (``grant_type=access_token``, ``service``, ``access_token``): a Tether
  access token for the API becomes a registry refresh token for this login server.
- ``POST /oauth2/token`` (``grant_type=refresh_token`` with ``refresh_token``, or ``password`` with
  the refresh token as password) and ``GET /oauth2/token`` (basic auth, as docker sends it): an access
  token whose ``access`` claims hold only the requested actions the caller's roles grant on this
  registry (pull: AcrPull, push: AcrPush, delete: AcrDelete, or any role with those actions).
- ``/v2/...``: forwarded unchanged to the registry process, which checks the access token itself.

Hazards: a token request for actions the caller lacks still succeeds, with fewer actions (the
registry then refuses the request), as Docker's token spec and ACR do; the refusal's reason is
logged here at info level, since the registry's 401 cannot carry it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.domain.registry_scopes import ScopeRequest, arm_action_for, parse_scopes
from tether.errors import Forbidden, NotFound, TetherError, Unauthenticated
from tether.identity.tokens import TokenService
from tether.registry.tokens import Grant, RegistrySigner
from tether.storage.forward import forward

log = logging.getLogger(__name__)

DOCKER_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
#: Layers go back in chunks of up to 1 MiB rather than the 64 KiB socket reads: fewer TLS records and event-loop
#: turns (a 50 MB pull: 1.55x -> 1.15x of the registry with auth off, bench/registry.py).
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ServedRegistry:
    resource_id: ResourceId
    login_server: str  # host:port, the tokens' audience and the registry's ``service``


def _error(status: int, code: str, message: str) -> JSONResponse:
    """ACR's token-endpoint error shape (the Distribution error list)."""
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)


def _basic_password(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class LoginServer:
    def __init__(
        self,
        registry: ServedRegistry,
        *,
        tokens: TokenService,
        authorizer: Authorizer,
        signer: RegistrySigner,
        upstream: Callable[[], Awaitable[str]],
        http: httpx2.AsyncClient,
    ) -> None:
        self.registry = registry
        self._tokens = tokens
        self._authorizer = authorizer
        self._signer = signer
        self._upstream = upstream
        self._http = http

    async def exchange(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") not in ("access_token", "access_token_refresh_token"):
            return _error(400, "UNSUPPORTED", "grant_type must be access_token.")
        if (service := form.get("service")) != self.registry.login_server:
            return _error(400, "DENIED", f"service must be this registry's login server, {self.registry.login_server}.")
        try:
            caller = await self._tokens.authenticate(str(form.get("access_token", "")))
        except Unauthenticated as e:
            return _error(401, "UNAUTHORIZED", e.message)
        return JSONResponse({"refresh_token": self._signer.refresh_token(caller, service=str(service))})

    async def token(self, request: Request) -> Response:
        fields: dict[str, str] = {k: str(v) for k, v in (await request.form()).items()}
        scopes = request.query_params.getlist("scope") + ([fields["scope"]] if "scope" in fields else [])
        service = fields.get("service") or request.query_params.get("service") or ""
        refresh = self._refresh_token_of(request, fields)
        if refresh is None:
            return _error(
                401,
                "UNAUTHORIZED",
                "A registry refresh token is required: log in with tether acr login -n <registry>.",
            )
        if service != self.registry.login_server:
            return _error(400, "DENIED", f"service must be this registry's login server, {self.registry.login_server}.")
        try:
            caller = self._signer.caller_of_refresh_token(refresh, service=service)
        except Unauthenticated as e:
            return _error(401, "UNAUTHORIZED", e.message)
        grants = [grant for scope in parse_scopes(scopes) if (grant := await self._granted(caller, scope)) is not None]
        token, expires_in = self._signer.access_token(subject=caller.object_id, service=service, grants=grants)
        issued = dt.datetime.now(dt.UTC).isoformat()
        body = {"access_token": token, "token": token, "expires_in": expires_in, "issued_at": issued}
        return JSONResponse(body)

    @staticmethod
    def _refresh_token_of(request: Request, fields: dict[str, str]) -> str | None:
        grant = fields.get("grant_type")
        if grant == "refresh_token":
            return fields.get("refresh_token") or None
        if grant == "password":
            return fields.get("password") or None
        basic = _basic_password(request)
        return basic[1] if basic and basic[0] == DOCKER_TOKEN_USER and basic[1] else None

    async def _granted(self, caller: Caller, scope: ScopeRequest) -> Grant | None:
        allowed: list[str] = []
        for action in scope.actions:
            arm_action = arm_action_for(scope, action)
            if arm_action is None:
                continue
            try:
                await self._authorizer.authorize(caller, arm_action, self.registry.resource_id)
            except (Forbidden, NotFound, Unauthenticated) as e:
                log.info("registry %s: %s not granted to %s: %s", self.registry.login_server, action, caller, e)
                continue
            allowed.append(action)
        return Grant(scope.type, scope.name, tuple(allowed)) if allowed else None

    async def v2(self, request: Request) -> Response:
        try:
            upstream = await self._upstream()
            return await forward(self._http, request, upstream=upstream, chunk_size=_CHUNK)
        except TetherError as e:
            return _error(503, "UNAVAILABLE", e.message)
        except httpx2.HTTPError as e:
            return _error(503, "UNAVAILABLE", f"The registry process did not answer: {e!r}")

    def app(self) -> Starlette:
        every = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]
        return Starlette(
            routes=[
                Route("/oauth2/exchange", self.exchange, methods=["POST"]),
                Route("/oauth2/token", self.token, methods=["GET", "POST"]),
                Route("/v2/{path:path}", self.v2, methods=every),
                Route("/v2", self.v2, methods=every),
            ]
        )
