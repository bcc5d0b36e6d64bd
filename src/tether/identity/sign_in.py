"""People signing in: password checks and the OAuth 2.0 authorization-code grant with PKCE (RFC 7636).

The authorize endpoint's login form calls ``sign_in``; on success ``issue_code`` hands back a one-time
code bound to the client, the redirect URI and the PKCE challenge, which the token endpoint redeems
with ``redeem`` for the user's access token.

Hazards: a password check is scrypt, tens of milliseconds of CPU, so it goes through the same
``SecretChecks`` as client secrets: off the event loop in its bounded thread pool, an unknown name
checked against a dummy hash (same cost, no enumeration), and wrong passwords counted per user name and
per source address until 429-style refusals (online guessing). Codes live in this process's memory:
with several server replicas a code must be redeemed at the replica that issued it (the Studio and
loopback clients do).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tether.domain.principals import Caller, PrincipalKind
from tether.errors import InvalidRequest, Throttled, TokenRequestError
from tether.identity.secret_checks import SecretChecks
from tether.identity.tokens import TokenService, resource_from_scope
from tether.store import Store, tenancy, users

_CODE_LIFETIME_S = 120.0
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class SignInFailed(Exception):
    """The user name or the password is wrong, or too many wrong ones came lately; the message says which."""


@dataclass(frozen=True)
class _Grant:
    caller: Caller
    client_id: str
    redirect_uri: str
    challenge: str
    audience: str
    user_principal_name: str
    expires: float
    openid: bool
    nonce: str


def allowed_redirect(redirect_uri: str, *, public_url: str) -> bool:
    """Codes go only to this server (the Studio) or to a loopback address (native clients such as
    azure-identity's interactive browser flow); anything else would hand a code to a stranger."""
    parts = urlsplit(redirect_uri)
    try:
        parts.port  # noqa: B018 - raises on a malformed port ("host:8443.evil.test")
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.fragment or parts.username is not None:
        return False
    if (parts.hostname or "") in _LOOPBACK_HOSTS:
        return True
    own = urlsplit(public_url)
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc) and parts.path.startswith("/")


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def audience_of(scope: str, *, default: str) -> str:
    """The resource an interactive scope asks for: ``<resource>/.default`` among OpenID scopes, else the API."""
    resources = [s for s in scope.split() if s.endswith("/.default")]
    return resource_from_scope(resources[0]) if resources else default


class SignIn:
    def __init__(self, *, store: Store, tokens: TokenService, checks: SecretChecks) -> None:
        self._store = store
        self._tokens = tokens
        self._checks = checks
        self._grants: dict[str, _Grant] = {}

    async def sign_in(
        self, tenant_id: str, *, user_principal_name: str, password: str, source: str | None = None
    ) -> Caller:
        """The user, once the password matches; ``SignInFailed`` otherwise (wrong, or too many wrong ones)."""
        key = user_principal_name.strip().lower()
        async with self._store.transaction() as session:
            found = await users.get_for_sign_in(session, key)
        if found is not None and found[0].principal.tenant_id != tenant_id:
            found = None  # a user of another tenant is unknown here
        try:
            matches = await self._checks.verify(
                password, [found[1]] if found else [], client=f"user:{key}", source=source
            )
        except Throttled as e:
            raise SignInFailed(f"Too many wrong passwords: {e.message}") from e
        if found is None or not matches:
            raise SignInFailed("The user name or password is incorrect.")
        user = found[0]
        principal = user.principal
        return Caller(
            tenant_id=principal.tenant_id,
            object_id=principal.object_id,
            app_id=principal.app_id,
            kind=PrincipalKind.USER,
            display_name=principal.display_name or user.user_principal_name,
        )

    async def user_principal_name(self, object_id: str) -> str:
        async with self._store.transaction() as session:
            found = await users.get(session, object_id)
        return found.user_principal_name if found else ""

    async def default_tenant(self) -> str:
        """The tenant the Studio signs people in to: the first one made (at bootstrap)."""
        async with self._store.transaction() as session:
            tenants = await tenancy.list_tenants(session)
        if not tenants:
            raise InvalidRequest("This server has no tenant yet; start it once to bootstrap.", code="TenantNotFound")
        return min(tenants, key=lambda t: t.created_at).id

    async def tenant_exists(self, tenant_id: str) -> bool:
        async with self._store.transaction() as session:
            return await tenancy.get_tenant(session, tenant_id) is not None

    def issue_code(
        self,
        caller: Caller,
        *,
        client_id: str,
        redirect_uri: str,
        challenge: str,
        scope: str,
        user_principal_name: str,
        nonce: str = "",
    ) -> str:
        """A one-time authorization code for ``caller``, bound to client, redirect URI and PKCE challenge."""
        now = time.monotonic()
        for code in [c for c, g in self._grants.items() if g.expires < now]:
            del self._grants[code]
        code = secrets.token_urlsafe(32)
        self._grants[code] = _Grant(
            caller=caller,
            client_id=client_id,
            redirect_uri=redirect_uri,
            challenge=challenge,
            audience=audience_of(scope, default=self._tokens.api_audience),
            user_principal_name=user_principal_name,
            expires=now + _CODE_LIFETIME_S,
            openid="openid" in scope.split(),
            nonce=nonce,
        )
        return code

    def redeem(self, *, code: str, client_id: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        """The token response for an authorization code (used once), after checking client, URI and PKCE."""
        grant = self._grants.pop(code, None)
        if grant is None or grant.expires < time.monotonic():
            raise TokenRequestError(
                "The authorization code is invalid, used or expired; sign in again.", code="invalid_grant"
            )
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            raise TokenRequestError(
                "The authorization code was issued to another client or redirect_uri.", code="invalid_grant"
            )
        if not secrets.compare_digest(pkce_challenge(verifier), grant.challenge):
            raise TokenRequestError("The code_verifier does not match the code_challenge.", code="invalid_grant")
        claims = {
            "idtyp": "user",
            "upn": grant.user_principal_name,
            "preferred_username": grant.user_principal_name,
            "name": grant.caller.display_name,
            "scp": "user_impersonation",
        }
        answer = self._tokens.mint(grant.caller, audience=grant.audience, extra_claims=claims)
        answer["scope"] = f"{grant.audience}/user_impersonation"
        if grant.openid:
            answer.update(self._id_token(grant, claims))
        return answer

    def _id_token(self, grant: _Grant, claims: dict[str, Any]) -> dict[str, str]:
        """OpenID Connect's ID token (audience: the client) and Entra's ``client_info``, which MSAL (and so
        azure-identity's interactive credentials) read to know who signed in."""
        id_claims = {**claims, "idtyp": "id", **({"nonce": grant.nonce} if grant.nonce else {})}
        id_claims.pop("scp")
        id_token = self._tokens.mint(grant.caller, audience=grant.client_id, extra_claims=id_claims)["access_token"]
        info = json.dumps({"uid": grant.caller.object_id, "utid": grant.caller.tenant_id}).encode()
        return {"id_token": id_token, "client_info": base64.urlsafe_b64encode(info).rstrip(b"=").decode()}


def check_challenge(challenge: str | None, method: str | None) -> str:
    """PKCE is required, with S256 (plain would let a stolen code be redeemed)."""
    if not challenge:
        raise InvalidRequest("code_challenge is required (PKCE, RFC 7636).", code="invalid_request")
    if (method or "plain") != "S256":
        raise InvalidRequest("code_challenge_method must be S256.", code="invalid_request")
    return challenge
