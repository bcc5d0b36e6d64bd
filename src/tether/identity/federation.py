"""Workload identity federation: the client-assertion grant that trades an external OIDC token (a
Kubernetes service-account token, say) for a Tether access token, as Entra ID workload identity does.

``FederatedTokens.exchange`` finds the principal by (tenant, client id), picks its federated
credentials whose issuer and subject equal the assertion's ``iss`` and ``sub``, verifies the assertion
with the issuer's published keys (``IssuerKeys``: OIDC discovery, then JWKS, cached per issuer) and
mints the principal's own token. Every refusal is a ``TokenRequestError`` worded like Entra's.

Hazards:

* Until verified, the assertion is attacker-controlled. Tether contacts an issuer only after a
  federated credential of the named principal has matched its ``iss`` exactly, so an assertion cannot
  point Tether at an arbitrary URL; redirects are not followed, proxies from the environment are not
  used, and documents larger than ``_MAX_DOCUMENT_BYTES`` are refused.
* Only RS256 and ES256 are accepted, bound to RSA and P-256 keys of the JWKS; ``none`` and HMAC are
  refused before any key lookup, and a JWK of another type never becomes a verification key.
* JWKS are cached for ``ttl_s``; an unknown ``kid`` refetches at most once per ``min_refetch_s`` per
  issuer, so random key ids cannot make Tether hammer an issuer; a failed fetch is remembered for as
  long. When the cache has expired and the issuer cannot be reached, exchanges fail (stale keys are
  not used).
* Network fetches run outside any store transaction and are bounded by ``timeout_s``.
* Why a fetch failed (refused, TLS, HTTP status) is logged, never answered: echoed, it would make the
  token endpoint a port scanner of the server's network for anyone who may write a federated credential.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
from cachetools import LRUCache, TTLCache

from tether.errors import TokenRequestError, Unavailable
from tether.identity.tokens import TokenService, resource_from_scope
from tether.settings import TokenSettings
from tether.store import Store, federated_credentials, principals, tenancy

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "ES256")
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "aud"]
_MAX_DOCUMENT_BYTES = 256 * 1024
_ACCEPT = "application/json, application/jwk-set+json"  # the apiserver answers 406 to JSON alone for its JWKS
_MAX_ASSERTION_CHARS = 16 * 1024
_MAX_CACHED_ISSUERS = 1024
_ISSUER_FIX = (
    "Check that the issuer URL is right, that the server reaches it over HTTPS at "
    "'<issuer>/.well-known/openid-configuration' and the 'jwks_uri' it names, and that the credential's "
    "issuerCaCertificate is the PEM CA that signed the issuer's certificate; the server log has the cause."
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Jwks:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float


class IssuerKeys:
    """The signing keys of external OIDC issuers, fetched through discovery and cached per issuer.

    TLS to an issuer is verified with the CA registered for it (``issuerCaCertificate``), else with the
    system trust store. ``http`` replaces that with a client of the caller's (tests serve an issuer
    in process through it); the caller then owns and closes it.
    """

    def __init__(
        self,
        store: Store,
        *,
        http: httpx2.AsyncClient | None = None,
        ttl_s: float = 300.0,
        min_refetch_s: float = 10.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._http = http
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._timeout_s = timeout_s
        self._clock = clock
        # Keyed by (tenant, issuer): the CA that verifies an issuer is registered per tenant, so one tenant's
        # registration can neither break nor redirect another tenant's exchanges.
        # Each bounded to _MAX_CACHED_ISSUERS (least recently used out first): keys until ttl_s, an issuer's
        # last failure for min_refetch_s (a dead issuer is not asked again on every request).
        self._cache: TTLCache[tuple[str, str], _Jwks] = TTLCache(_MAX_CACHED_ISSUERS, ttl=ttl_s, timer=clock)
        self._failures: TTLCache[tuple[str, str], str] = TTLCache(_MAX_CACHED_ISSUERS, ttl=min_refetch_s, timer=clock)
        self._locks: LRUCache[tuple[str, str], asyncio.Lock] = LRUCache(_MAX_CACHED_ISSUERS)
        self._closed = False

    async def key(self, issuer: str, kid: str, *, tenant_id: str) -> jwt.PyJWK | None:
        """The issuer's key ``kid`` (None if it publishes none); ``Unavailable`` if its keys can't be had."""
        if self._closed:
            raise Unavailable("The token service is shutting down.")
        trust = (tenant_id, issuer)
        cached = self._cache.get(trust)
        if cached is None:
            cached = await self._refresh(trust, unless_newer_than=None)
        elif kid not in cached.keys and self._clock() - cached.fetched_at >= self._min_refetch_s:
            cached = await self._refresh(trust, unless_newer_than=cached)  # the issuer may have rotated
        return cached.keys.get(kid)

    async def aclose(self) -> None:
        """Forget cached keys and refuse further fetches (the server is stopping)."""
        self._closed = True
        self._cache.clear()

    async def _refresh(self, trust: tuple[str, str], *, unless_newer_than: _Jwks | None) -> _Jwks:
        lock = self._locks.setdefault(trust, asyncio.Lock())
        async with lock:
            current = self._cache.get(trust)
            if current is not None and current is not unless_newer_than:
                return current  # another request refreshed it while this one waited
            failed = self._failures.get(trust)
            if failed is not None:
                raise Unavailable(failed)  # a dead issuer is not asked again on every request
            try:
                fetched = _Jwks(keys=await self._fetch(trust), fetched_at=self._clock())
            except Unavailable as e:
                if self._min_refetch_s > 0:
                    self._failures[trust] = e.message
                raise
            self._failures.pop(trust, None)
            if self._ttl_s > 0:
                self._cache[trust] = fetched
            return fetched

    async def _fetch(self, trust: tuple[str, str]) -> dict[str, jwt.PyJWK]:
        tenant_id, issuer = trust
        if not issuer.startswith("https://"):
            raise Unavailable(f"the issuer '{issuer}' is not an https URL")
        try:
            async with asyncio.timeout(2 * self._timeout_s), self._client_for(issuer, tenant_id=tenant_id) as http:
                discovery = await self._get_json(http, issuer.rstrip("/") + "/.well-known/openid-configuration")
                if discovery.get("issuer") != issuer:
                    raise Unavailable(
                        f"the discovery document names issuer '{discovery.get('issuer')}', not '{issuer}'"
                    )
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
                    raise Unavailable("the discovery document has no https 'jwks_uri'")
                jwks = await self._get_json(http, jwks_uri)
        except TimeoutError as e:
            raise Unavailable(f"the issuer did not answer within {2 * self._timeout_s:g} s") from e
        keys = _usable_keys(jwks)
        if not keys:
            raise Unavailable(f"the JWKS at '{jwks_uri}' has no RS256 or ES256 signing key with a 'kid'")
        return keys

    @asynccontextmanager
    async def _client_for(self, issuer: str, *, tenant_id: str) -> AsyncIterator[httpx2.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with self._store.transaction() as session:
            ca_pem = await federated_credentials.issuer_ca(session, tenant_id=tenant_id, issuer=issuer)
        try:
            context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
        except ssl.SSLError as e:
            raise Unavailable(f"the CA certificate registered for the issuer is not valid PEM ({e})") from e
        timeout = httpx2.Timeout(self._timeout_s)
        async with httpx2.AsyncClient(verify=context, timeout=timeout, trust_env=False) as http:
            yield http

    async def _get_json(self, http: httpx2.AsyncClient, url: str) -> dict[str, Any]:
        body = bytearray()
        try:
            async with http.stream("GET", url, headers={"Accept": _ACCEPT}) as response:
                if response.status_code != 200:
                    raise Unavailable(f"GET {url} answered HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_DOCUMENT_BYTES:
                        raise Unavailable(f"GET {url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
        except (httpx2.HTTPError, httpx2.InvalidURL) as e:
            raise Unavailable(f"GET {url} failed: {type(e).__name__}: {str(e) or 'no detail'}") from e
        try:
            document = json.loads(body)
        except ValueError as e:
            raise Unavailable(f"GET {url} did not answer JSON") from e
        if not isinstance(document, dict):
            raise Unavailable(f"GET {url} did not answer a JSON object")
        return document


def _usable_keys(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The JWKS's RSA/RS256 and P-256/ES256 signature keys by kid; anything else is skipped."""
    found: dict[str, jwt.PyJWK] = {}
    entries = jwks.get("keys")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") not in ("RSA", "EC") or entry.get("use", "sig") != "sig":
            continue
        if "alg" in entry and entry["alg"] not in ALGORITHMS:
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
            continue
        if key.algorithm_name in ALGORITHMS:
            found[entry["kid"]] = key
    return found


def _show(value: Any) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value if value is not None else "")
    return text if len(text) <= 256 else text[:253] + "..."


def _utc(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "unknown"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refused(message: str) -> TokenRequestError:
    return TokenRequestError(message, code="invalid_grant")


class FederatedTokens:
    """The client-assertion grant: an external issuer's token in, the matching principal's token out."""

    def __init__(self, *, store: Store, tokens: TokenService, issuer_keys: IssuerKeys, settings: TokenSettings) -> None:
        self._store = store
        self._tokens = tokens
        self._issuer_keys = issuer_keys
        self._leeway = dt.timedelta(seconds=settings.clock_skew_s)

    async def exchange(self, tenant_id: str, *, client_id: str, assertion: str, scope: str) -> dict[str, Any]:
        """A token response for the principal ``client_id`` whose federated credential trusts ``assertion``."""
        audience = resource_from_scope(scope)
        header, unverified = _parse(assertion)
        issuer, subject = unverified["iss"], unverified["sub"]
        async with self._store.transaction() as session:
            tenant = await tenancy.get_tenant(session, tenant_id)
            if tenant is None:
                raise TokenRequestError(f"Tenant '{tenant_id}' not found.", code="invalid_request")
            principal = await principals.get_by_app_id(session, tenant.id, client_id)
            if principal is None:
                raise TokenRequestError(
                    f"AADSTS700016: Application with identifier '{_show(client_id)}' was not found in the "
                    f"directory '{tenant_id}'.",
                    code="invalid_client",
                )
            credentials = await federated_credentials.for_principal(session, principal.object_id)
        matching = [c for c in credentials if c.issuer == issuer and c.subject == subject]
        if not matching:
            raise _refused(
                "AADSTS70021: No matching federated identity record found for presented assertion. "
                f"Assertion Issuer: '{_show(issuer)}'. Assertion Subject: '{_show(subject)}'. "
                f"Assertion Audience: '{_show(unverified.get('aud'))}'."
            )
        audiences = sorted({a for c in matching for a in c.audiences})
        try:
            key = await self._issuer_keys.key(issuer, header["kid"], tenant_id=principal.tenant_id)
        except Unavailable as e:
            # The cause (connection refused, TLS failure, HTTP status...) would let a caller probe which ports
            # answer what from the server's network: it goes to the log only, the caller gets the fix.
            log.warning("keys of issuer %r (tenant %s) could not be fetched: %s", issuer, principal.tenant_id, e)
            raise _refused(
                f"AADSTS90061: The signing keys of issuer '{_show(issuer)}' could not be fetched. {_ISSUER_FIX}"
            ) from e
        if key is None:
            raise _refused(
                f"AADSTS700027: Client assertion failed signature validation: issuer '{_show(issuer)}' "
                f"publishes no key with kid '{_show(header['kid'])}'."
            )
        self._verify(assertion, key, issuer=issuer, audiences=audiences, unverified=unverified)
        return self._tokens.mint(principal.as_caller(), audience=audience)

    async def aclose(self) -> None:
        await self._issuer_keys.aclose()

    def _verify(
        self, assertion: str, key: jwt.PyJWK, *, issuer: str, audiences: list[str], unverified: dict[str, Any]
    ) -> None:
        try:
            jwt.decode(
                assertion,
                key,
                algorithms=list(ALGORITHMS),
                audience=audiences,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as e:
            raise _refused(
                "AADSTS700024: Client assertion is not within its valid time range. "
                f"Current time: {_utc(time.time())}, assertion valid from {_utc(unverified.get('nbf'))}, "
                f"issued at {_utc(unverified.get('iat'))}, expiry time of assertion {_utc(unverified.get('exp'))}."
            ) from e
        except jwt.InvalidAudienceError as e:
            raise _refused(
                "AADSTS700212: No matching federated identity record found for presented assertion audience "
                f"'{_show(unverified.get('aud'))}'; the credential accepts '{_show(audiences)}' (compared "
                "case-sensitively)."
            ) from e
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as e:
            raise _refused(f"AADSTS700027: Client assertion failed signature validation ({e}).") from e
        except jwt.InvalidTokenError as e:
            raise _refused(f"AADSTS50027: JWT token is invalid or malformed: {e}.") from e


def _parse(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The assertion's header and claims, unverified, after the checks that need no key."""
    if len(assertion) > _MAX_ASSERTION_CHARS:
        raise _refused(f"AADSTS50027: JWT token is invalid or malformed: longer than {_MAX_ASSERTION_CHARS} chars.")
    try:
        header = jwt.get_unverified_header(assertion)
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as e:
        raise _refused(f"AADSTS50027: JWT token is invalid or malformed: {e}.") from e
    if header.get("alg") not in ALGORITHMS:
        raise _refused(
            f"AADSTS700027: Client assertion failed signature validation: algorithm '{_show(header.get('alg'))}' "
            f"is not accepted; sign with {' or '.join(ALGORITHMS)}."
        )
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise _refused("AADSTS700027: Client assertion failed signature validation: its header has no 'kid'.")
    for claim in ("iss", "sub"):
        if not isinstance(claims.get(claim), str) or not claims[claim]:
            raise _refused(f"AADSTS50027: JWT token is invalid or malformed: it has no '{claim}' claim.")
    return header, claims
