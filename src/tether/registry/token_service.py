"""ACR's token flow for every registry this server serves, answered by Tether's main server (``/oauth2/...``).

- exchange (``POST /oauth2/exchange``: ``grant_type=access_token``, ``service``, ``access_token``): a
  Tether access token for the API becomes a registry refresh token for the login server ``service``.
- access token (``POST /oauth2/token`` with a refresh token, ``GET /oauth2/token`` with basic auth): a
  token whose ``access`` claims hold only the requested actions the caller's roles grant on that
  registry (pull: AcrPull, push: AcrPush, delete: AcrDelete, or any role with those actions).

The registry is the one whose login server is ``service`` (``127.0.0.1:<port>``); the registry
process, on that address, names this realm and service in its ``401`` challenge. Nothing here knows
HTTP: refusals are ``TokenRefused`` carrying ACR's error code, which ``tether.api.registry_tokens`` answers.

Hazards: a token request for actions the caller lacks still succeeds, with fewer actions (the
registry then refuses the request), as Docker's token spec and ACR do; the refusal's reason is
logged here at info level, since the registry's 401 cannot carry it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.authz.service import Authorizer
from tether.domain.ids import ResourceId
from tether.domain.principals import Caller
from tether.domain.registry_scopes import ScopeRequest, arm_action_for, parse_scopes
from tether.errors import Forbidden, NotFound, Unauthenticated
from tether.identity.tokens import TokenService
from tether.registry.tokens import Grant, RegistrySigner

log = logging.getLogger(__name__)

DOCKER_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
UNAUTHORIZED = "UNAUTHORIZED"


@dataclass(frozen=True)
class ServedRegistry:
    resource_id: ResourceId
    login_server: str  # host:port, the tokens' audience and the registry's ``service``


@dataclass
class TokenRefused(Exception):
    """A token request refused, with ACR's error code: ``UNAUTHORIZED`` (no valid credential), ``DENIED``
    (not a login server this server serves), ``UNSUPPORTED`` (grant type)."""

    code: str
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)


class RegistryTokenService:
    def __init__(
        self,
        *,
        tokens: TokenService,
        authorizer: Authorizer,
        signer: RegistrySigner,
        find: Callable[[str], ServedRegistry | None],
    ) -> None:
        self._tokens = tokens
        self._authorizer = authorizer
        self._signer = signer
        self._find = find

    def _registry(self, service: str) -> ServedRegistry:
        registry = self._find(service)
        if registry is None:
            raise TokenRefused(
                "DENIED",
                f"service must be the login server of a registry of this server (127.0.0.1:<port>, the registry's "
                f"properties.loginServer); '{service}' is not one.",
            )
        return registry

    async def exchange(self, *, grant_type: str, service: str, access_token: str) -> str:
        """A registry refresh token (3 hours, for ``service`` only) for the caller of ``access_token``."""
        if grant_type not in ("access_token", "access_token_refresh_token"):
            raise TokenRefused("UNSUPPORTED", "grant_type must be access_token.")
        registry = self._registry(service)
        try:
            caller = await self._tokens.authenticate(access_token)
        except Unauthenticated as e:
            raise TokenRefused(UNAUTHORIZED, e.message) from e
        return self._signer.refresh_token(caller, service=registry.login_server)

    async def access_token(self, *, service: str, refresh_token: str | None, scopes: list[str]) -> dict[str, Any]:
        """An access token (5 minutes) for ``service`` with the requested ``scopes`` the caller's roles allow."""
        if not refresh_token:
            raise TokenRefused(
                UNAUTHORIZED, "A registry refresh token is required: log in with tether acr login -n <registry>."
            )
        registry = self._registry(service)
        try:
            caller = self._signer.caller_of_refresh_token(refresh_token, service=registry.login_server)
        except Unauthenticated as e:
            raise TokenRefused(UNAUTHORIZED, e.message) from e
        grants = [
            g for scope in parse_scopes(scopes) if (g := await self._granted(registry, caller, scope)) is not None
        ]
        token, expires_in = self._signer.access_token(
            subject=caller.object_id, service=registry.login_server, grants=grants
        )
        issued = dt.datetime.now(dt.UTC).isoformat()
        return {"access_token": token, "token": token, "expires_in": expires_in, "issued_at": issued}

    async def _granted(self, registry: ServedRegistry, caller: Caller, scope: ScopeRequest) -> Grant | None:
        allowed: list[str] = []
        for action in scope.actions:
            arm_action = arm_action_for(scope, action)
            if arm_action is None:
                continue
            try:
                await self._authorizer.authorize(caller, arm_action, registry.resource_id)
            except (Forbidden, NotFound, Unauthenticated) as e:
                log.info("registry %s: %s not granted to %s: %s", registry.login_server, action, caller, e)
                continue
            allowed.append(action)
        return Grant(scope.type, scope.name, tuple(allowed)) if allowed else None
