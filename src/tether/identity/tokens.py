"""The token service: an OpenID Connect issuer per tenant that mints and checks RS256 access tokens.

Tokens carry ``aud`` (the requested resource), ``iss`` (``<server>/<tenant>/v2.0``), ``tid``, ``oid``,
``appid`` and a short expiry. ``authenticate`` is on every API request's path, so it verifies against
the in-memory key ring and caches verified tokens until they expire. A cached verdict holds only while
the key that signed the token is still in the ring, so removing a key refuses its tokens at once.

Several servers share the keys through the store: a token whose ``kid`` the ring does not know (a key
another replica just made) reloads the ring first, at most once per second so that forged ``kid``s
cannot turn into a store read per request; and the ring is reloaded every ``key_refresh_s`` so that a
key removed on one replica stops verifying on the others within that time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, NamedTuple

import jwt
from cachetools import TLRUCache

from tether.domain.principals import Caller, PrincipalKind
from tether.errors import TokenRequestError, Unauthenticated
from tether.identity.keys import KeyRing
from tether.identity.secret_checks import SecretChecks
from tether.settings import TokenSettings
from tether.store import Store, principals, tenancy

log = logging.getLogger(__name__)

_CACHE_SIZE = 4096
_UNKNOWN_KID_REFRESH_S = 1.0
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "tid", "oid", "appid"]


class _Verified(NamedTuple):
    """A token's verified verdict: who presented it, until when (epoch seconds), signed by which key."""

    caller: Caller
    expires: float
    kid: str


def resource_from_scope(scope: str) -> str:
    """``https://server/.default`` → ``https://server``: the audience a client-credentials scope asks for."""
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise TokenRequestError(
            f"scope '{scope}' is not supported: ask for exactly one '<resource>/.default' scope.",
            code="invalid_scope",
        )
    return scopes[0].removesuffix("/.default").rstrip("/")


class TokenService:
    """Mints tokens for principals and authenticates bearer tokens presented to the API."""

    def __init__(
        self, *, store: Store, keys: KeyRing, public_url: str, settings: TokenSettings, secret_checks: SecretChecks
    ) -> None:
        self._store = store
        self._secret_checks = secret_checks
        self._keys = keys
        self._public_url = public_url.rstrip("/")
        self._settings = settings
        self._api_audiences = [self._public_url, self._public_url + "/"]
        # token → its verdict, dropped when the token expires (wall clock: ``exp`` is one) or, least
        # recently used first, when more than _CACHE_SIZE are held.
        self._cache: TLRUCache[str, _Verified] = TLRUCache(
            maxsize=_CACHE_SIZE, ttu=lambda _token, verified, _now: verified.expires, timer=time.time
        )
        self._keys_loaded_at = time.monotonic()
        self._unknown_kid_at = -_UNKNOWN_KID_REFRESH_S

    @property
    def secret_checks(self) -> SecretChecks:
        return self._secret_checks

    @property
    def api_audience(self) -> str:
        return self._public_url

    def issuer(self, tenant_id: str) -> str:
        return f"{self._public_url}/{tenant_id}/v2.0"

    def openid_configuration(self, tenant_id: str) -> dict[str, Any]:
        base = f"{self._public_url}/{tenant_id}"
        return {
            "issuer": self.issuer(tenant_id),
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "tenant_region_scope": None,
            "cloud_instance_name": self._public_url.split("://", 1)[-1],
        }

    def jwks(self) -> dict[str, Any]:
        return self._keys.jwks()

    async def tenant_exists(self, tenant_id: str) -> bool:
        async with self._store.transaction() as session:
            return await tenancy.get_tenant(session, tenant_id) is not None

    # --- minting ------------------------------------------------------------------------------
    def mint(
        self,
        caller: Caller,
        *,
        audience: str,
        extra_claims: dict[str, Any] | None = None,
        lifetime_s: int | None = None,
    ) -> dict[str, Any]:
        """An OAuth token response carrying a fresh access token for ``caller`` (users get ``extra_claims``);
        ``lifetime_s`` shortens it (signed log URLs)."""
        key = self._keys.signing_key()
        now = int(time.time())
        lifetime = lifetime_s or self._settings.access_token_lifetime_s
        claims = {
            "aud": audience,
            "iss": self.issuer(caller.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": caller.tenant_id,
            "oid": caller.object_id,
            "sub": caller.object_id,
            "appid": caller.app_id,
            "idtyp": "app",
            "ver": "2.0",
            "xms_mirid": caller.kind.value,
            **(extra_claims or {}),
        }
        token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    async def client_credentials(
        self, tenant_id: str, *, client_id: str, client_secret: str, scope: str, source: str | None = None
    ) -> dict[str, Any]:
        """The client-credentials grant with a client secret (checked off the loop, after the transaction)."""
        audience = resource_from_scope(scope)
        async with self._store.transaction() as session:
            tenant = await tenancy.get_tenant(session, tenant_id)
            if tenant is None:
                raise TokenRequestError(f"Tenant '{tenant_id}' not found.", code="invalid_request")
            principal = await principals.get_by_app_id(session, tenant.id, client_id)
            hashes = (
                await principals.active_secret_hashes(session, principal.object_id) if principal is not None else []
            )
        valid = await self._secret_checks.verify(
            client_secret, hashes, client=f"{tenant_id}/{client_id}".lower(), source=source
        )
        if principal is None or not valid:
            raise TokenRequestError(
                f"Invalid client secret or unknown client '{client_id}' in tenant '{tenant_id}'.",
                code="invalid_client",
            )
        return self.mint(principal.as_caller(), audience=audience)

    # --- checking -----------------------------------------------------------------------------
    async def authenticate(self, token: str, *, audiences: list[str] | None = None) -> Caller:
        """The caller behind a bearer token for the API (or for ``audiences``, e.g. blob storage's);
        ``Unauthenticated`` with the reason otherwise."""
        if time.monotonic() - self._keys_loaded_at >= self._settings.key_refresh_s:
            await self._reload_keys()
        cache_key = token if audiences is None else f"{audiences[0]} {token}"
        cached = self._cache.get(cache_key)
        if cached is not None:
            if self._keys.verification_key(cached.kid) is not None:
                return cached.caller
            del self._cache[cache_key]  # its key is gone: verify again (and refuse)
        await self._reload_keys_if_kid_unknown(token)
        claims, kid = self._verify(token, audiences=audiences or self._api_audiences)
        caller = Caller(
            tenant_id=claims["tid"],
            object_id=claims["oid"],
            app_id=claims["appid"],
            kind=PrincipalKind(claims.get("xms_mirid", PrincipalKind.SERVICE_PRINCIPAL.value)),
            display_name=str(claims.get("name", "")),
        )
        self._cache[cache_key] = _Verified(caller=caller, expires=float(claims["exp"]), kid=kid)
        return caller

    async def _reload_keys_if_kid_unknown(self, token: str) -> None:
        """A key another replica made since the last reload: reload now (at most once a second)."""
        try:
            kid = str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.InvalidTokenError:
            return  # _verify refuses it
        now = time.monotonic()
        if self._keys.verification_key(kid) is None and now - self._unknown_kid_at >= _UNKNOWN_KID_REFRESH_S:
            self._unknown_kid_at = now
            await self._reload_keys()

    async def _reload_keys(self) -> None:
        self._keys_loaded_at = time.monotonic()  # before the await: concurrent requests do not reload too
        try:
            await self._keys.refresh()
        except Exception:  # the store is unreachable: keep verifying with the keys already loaded
            log.warning("could not reload the signing keys from the store", exc_info=True)

    def _verify(self, token: str, *, audiences: list[str]) -> tuple[dict[str, Any], str]:
        """The token's verified claims and the kid of the key that signed it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as e:
            raise Unauthenticated("The access token is not a well-formed JWT.") from e
        if header.get("alg") != "RS256":
            raise Unauthenticated(
                f"The access token's algorithm '{header.get('alg')}' is not accepted; RS256 is required."
            )
        kid = str(header.get("kid", ""))
        key = self._keys.verification_key(kid)
        if key is None:
            raise Unauthenticated("The access token was not signed by this server's token service.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=["RS256"],
                audience=audiences,
                leeway=dt.timedelta(seconds=self._settings.clock_skew_s),
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthenticated(
                "The access token has expired; get a new one (tether login).",
                code="ExpiredAuthenticationToken",
            ) from e
        except jwt.InvalidAudienceError as e:
            raise Unauthenticated(
                f"The access token's audience is wrong; request a token for '{audiences[0]}/.default'.",
                code="InvalidAuthenticationTokenAudience",
            ) from e
        except jwt.InvalidTokenError as e:
            raise Unauthenticated(f"The access token is invalid: {e}.") from e
        _check_claim_types(claims)
        if claims["iss"] != self.issuer(claims["tid"]):
            raise Unauthenticated(
                "The access token's issuer does not match its tenant.",
                code="InvalidAuthenticationTokenTenant",
            )
        return claims, kid


_STRING_CLAIMS = ("iss", "tid", "oid", "appid")
_KINDS = frozenset(k.value for k in PrincipalKind)


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Claims of the wrong type are an invalid token (401), not a crash further down the request."""
    wrong = [name for name in _STRING_CLAIMS if not isinstance(claims[name], str) or not claims[name]]
    if wrong:
        raise Unauthenticated(f"The access token is invalid: the claims {', '.join(wrong)} must be non-empty strings.")
    kind = claims.get("xms_mirid", PrincipalKind.SERVICE_PRINCIPAL.value)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise Unauthenticated("The access token is invalid: the claim xms_mirid names no kind of principal.")
