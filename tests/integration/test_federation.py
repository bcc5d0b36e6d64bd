"""Workload identity federation without a cluster: an OIDC issuer Tether does not control, run in process.

The issuer is a small Starlette app (discovery + JWKS, counting its requests) with its own keys,
reached by ``IssuerKeys`` through ``httpx2.ASGITransport``; everything else is the real token endpoint
of an in-process Tether. Every refusal is a 400 ``invalid_grant`` (or the named OAuth error) with no
token, and each bad assertion is built by the same helper that, with honest inputs, builds one Tether
accepts (see the control test).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.integration.helpers import API, create_group, rg_path
from tether.domain.principals import PrincipalKind
from tether.identity.federation import JWT_BEARER, FederatedTokens, IssuerKeys
from tether.store import federated_credentials, principals
from tether.testing.server import PUBLIC_URL, InProcessServer

ISSUER = "https://issuer.test/tenant-1"
SUBJECT = "system:serviceaccount:team-a:trainer"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
SCOPE = f"{PUBLIC_URL}/.default"
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per name, made once per session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: SigningKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


@dataclass
class Issuer:
    """An OIDC issuer served in process: ``keys`` are published (mutable, for rotation); ``requests`` counts paths."""

    url: str = ISSUER
    keys: dict[str, SigningKey] = field(default_factory=lambda: {"key-1": rsa_key("issuer")})
    requests: Counter[str] = field(default_factory=Counter)
    broken: bool = False

    def app(self) -> Starlette:
        prefix = httpx2.URL(self.url).path

        async def discovery(request: Request) -> JSONResponse:
            self.requests["discovery"] += 1
            if self.broken:
                return JSONResponse({"error": "down"}, status_code=500)
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/keys"})

        async def jwks(request: Request) -> JSONResponse:
            self.requests["jwks"] += 1
            return JSONResponse({"keys": [public_jwk(k, kid) for kid, k in self.keys.items()]})

        return Starlette(
            routes=[Route(f"{prefix}/.well-known/openid-configuration", discovery), Route(f"{prefix}/keys", jwks)]
        )

    def assertion(
        self,
        *,
        kid: str = "key-1",
        key: SigningKey | None = None,
        algorithm: str | None = None,
        **changes: Any,
    ) -> str:
        """An assertion signed by the published key ``kid`` (or ``key``); ``changes`` override claims (None removes)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": SUBJECT,
            "aud": [EXCHANGE_AUDIENCE],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        signer = key if key is not None else self.keys[kid]
        alg = algorithm or ("RS256" if isinstance(signer, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(claims, signer, algorithm=alg, headers={"kid": kid})


@dataclass
class Identity:
    client_id: str
    principal_id: str


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


def use_issuer_keys(server: InProcessServer, monkeypatch: pytest.MonkeyPatch, *, keys: IssuerKeys) -> None:
    """Make the server's token endpoint reach issuers through ``keys``."""
    svc = server.services
    federation = FederatedTokens(store=svc.store, tokens=svc.tokens, issuer_keys=keys, settings=svc.settings.tokens)
    monkeypatch.setattr(svc, "federation", federation)


@pytest.fixture
async def issuer_http(issuer: Issuer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=issuer.app())) as http:
        yield http


@pytest.fixture
async def federated(
    server: InProcessServer, issuer_http: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> InProcessServer:
    """The server, reaching the in-process issuer (JWKS cached for the default 5 minutes, no refetch throttle)."""
    use_issuer_keys(server, monkeypatch, keys=IssuerKeys(server.services.store, http=issuer_http, min_refetch_s=0))
    return server


async def create_identity(
    client: httpx2.AsyncClient,
    server: InProcessServer,
    *,
    name: str = "trainer",
    issuer: str = ISSUER,
    subject: str = SUBJECT,
    audiences: list[str] | None = None,
) -> Identity:
    """A user-assigned identity with one federated credential, through the ARM API."""
    await create_group(client, server.subscription, "rg1")
    path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    created = await client.put(path, params=API, json={"location": "westeurope"})
    assert created.status_code in (200, 201), created.text
    properties = created.json()["properties"]
    credential = {"issuer": issuer, "subject": subject, "audiences": audiences or [EXCHANGE_AUDIENCE]}
    put = await client.put(f"{path}/federatedIdentityCredentials/fic1", params=API, json={"properties": credential})
    assert put.status_code in (200, 201), put.text
    return Identity(client_id=properties["clientId"], principal_id=properties["principalId"])


def assertion_form(identity: Identity, assertion: str, **changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_id": identity.client_id,
        "scope": SCOPE,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        **changes,
    }
    return {k: v for k, v in form.items() if v is not None}


async def exchange(server: InProcessServer, form: dict[str, str]) -> httpx2.Response:
    async with server.client(token="") as anonymous:
        return await anonymous.post(f"/{server.bootstrap.tenant_id}/oauth2/v2.0/token", data=form)


async def tether_claims(server: InProcessServer, token: str) -> dict[str, Any]:
    """The claims of a Tether access token, verified against Tether's published JWKS."""
    async with server.client(token="") as anonymous:
        jwks = (await anonymous.get(f"/{server.bootstrap.tenant_id}/discovery/v2.0/keys")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=PUBLIC_URL)
    return claims


def assert_refused(response: httpx2.Response, *, error: str = "invalid_grant", says: tuple[str, ...] = ()) -> None:
    assert response.status_code == (401 if error == "invalid_client" else 400), response.text
    body = response.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    for text in says:
        assert text in body["error_description"], body


# --- the honest path --------------------------------------------------------------------------


async def test_an_assertion_from_a_trusted_issuer_gets_the_identitys_token(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    identity = await create_identity(client, federated)

    response = await exchange(federated, assertion_form(identity, issuer.assertion()))

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    claims = await tether_claims(federated, answer["access_token"])
    assert claims["oid"] == identity.principal_id
    assert claims["appid"] == identity.client_id
    assert claims["tid"] == federated.bootstrap.tenant_id
    assert claims["xms_mirid"] == PrincipalKind.USER_ASSIGNED_IDENTITY.value
    async with federated.client(token=answer["access_token"]) as as_identity:
        listed = await as_identity.get("/subscriptions", params=API)
    assert listed.status_code == 200, listed.text


async def test_an_es256_assertion_is_accepted(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    issuer.keys["ec-1"] = ec.generate_private_key(ec.SECP256R1())
    identity = await create_identity(client, federated)

    response = await exchange(federated, assertion_form(identity, issuer.assertion(kid="ec-1")))

    assert response.status_code == 200, response.text
    assert (await tether_claims(federated, response.json()["access_token"]))["oid"] == identity.principal_id


async def test_a_credential_written_through_the_store_works_for_a_system_assigned_identity(
    federated: InProcessServer, issuer: Issuer
) -> None:
    async with federated.services.store.transaction() as session:
        principal = await principals.create(
            session,
            tenant_id=federated.bootstrap.tenant_id,
            kind=PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value,
            display_name="compute-1",
        )
        await federated_credentials.upsert(
            session,
            principal_id=principal.object_id,
            name="compute-1",
            issuer=ISSUER,
            subject=SUBJECT,
            audiences=[EXCHANGE_AUDIENCE],
        )
        identity = Identity(client_id=principal.app_id, principal_id=principal.object_id)

    response = await exchange(federated, assertion_form(identity, issuer.assertion()))

    assert response.status_code == 200, response.text
    claims = await tether_claims(federated, response.json()["access_token"])
    assert claims["oid"] == identity.principal_id
    assert claims["xms_mirid"] == PrincipalKind.SYSTEM_ASSIGNED_IDENTITY.value


# --- the issuer's keys: caching and rotation ----------------------------------------------------


async def test_the_issuers_keys_are_fetched_once_and_then_cached(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    identity = await create_identity(client, federated)

    for _ in range(3):
        response = await exchange(federated, assertion_form(identity, issuer.assertion()))
        assert response.status_code == 200, response.text

    assert issuer.requests == Counter({"discovery": 1, "jwks": 1})


async def test_expired_cached_keys_are_fetched_again(
    server: InProcessServer,
    client: httpx2.AsyncClient,
    issuer: Issuer,
    issuer_http: httpx2.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_issuer_keys(server, monkeypatch, keys=IssuerKeys(server.services.store, http=issuer_http, ttl_s=0))
    identity = await create_identity(client, server)

    for _ in range(2):
        response = await exchange(server, assertion_form(identity, issuer.assertion()))
        assert response.status_code == 200, response.text

    assert issuer.requests == Counter({"discovery": 2, "jwks": 2})


async def test_a_rotated_key_is_found_by_fetching_the_keys_again(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    identity = await create_identity(client, federated)
    first = await exchange(federated, assertion_form(identity, issuer.assertion()))
    assert first.status_code == 200, first.text

    issuer.keys = {"key-2": rsa_key("rotated")}
    second = await exchange(federated, assertion_form(identity, issuer.assertion(kid="key-2")))

    assert second.status_code == 200, second.text
    assert issuer.requests == Counter({"discovery": 2, "jwks": 2})


async def test_unknown_key_ids_refetch_at_most_once_per_interval(
    server: InProcessServer,
    client: httpx2.AsyncClient,
    issuer: Issuer,
    issuer_http: httpx2.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    keys = IssuerKeys(server.services.store, http=issuer_http, min_refetch_s=10, clock=lambda: now[0])
    use_issuer_keys(server, monkeypatch, keys=keys)
    identity = await create_identity(client, server)
    stranger = rsa_key("stranger")

    refusals = [
        await exchange(server, assertion_form(identity, issuer.assertion(kid=f"made-up-{i}", key=stranger)))
        for i in range(3)
    ]
    now[0] += 10
    after_interval = await exchange(server, assertion_form(identity, issuer.assertion(kid="made-up-4", key=stranger)))

    for response in refusals:
        assert_refused(response, says=("AADSTS700027", ISSUER, "made-up-"))
    assert_refused(after_interval, says=("AADSTS700027", "made-up-4"))
    assert issuer.requests == Counter({"discovery": 2, "jwks": 2})


# --- refusals -----------------------------------------------------------------------------------

Mutation = Callable[[Issuer], str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none(issuer: Issuer) -> str:
    _, payload, _ = issuer.assertion().split(".")
    return f"{b64url(json.dumps({'alg': 'none', 'kid': 'key-1'}).encode())}.{payload}."


def hs256_with_the_public_key(issuer: Issuer) -> str:
    """The classic confusion: HMAC keyed with the issuer's public key (its JWK), which anyone has."""
    public = json.dumps(public_jwk(issuer.keys["key-1"], "key-1")).encode()
    _, payload, _ = issuer.assertion().split(".")
    signing_input = f"{b64url(json.dumps({'alg': 'HS256', 'kid': 'key-1'}).encode())}.{payload}"
    return f"{signing_input}.{b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())}"


def tampered(issuer: Issuer) -> str:
    """A genuine signature over changed claims (a later expiry)."""
    header, _, signature = issuer.assertion().split(".")
    _, payload, _ = issuer.assertion(exp=int(time.time()) + 86400).split(".")
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("mutation", "says"),
    [
        pytest.param(
            lambda i: i.assertion(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000, nbf=None),
            ("AADSTS700024", "not within its valid time range"),
            id="expired",
        ),
        pytest.param(
            lambda i: i.assertion(nbf=int(time.time()) + 3600),
            ("AADSTS700024", "valid from"),
            id="nbf-in-the-future",
        ),
        pytest.param(
            lambda i: i.assertion(iat=int(time.time()) + 3600, nbf=None),
            ("AADSTS700024",),
            id="iat-in-the-future",
        ),
        pytest.param(
            lambda i: i.assertion(aud=["api://someone-else"]),
            ("AADSTS700212", "api://someone-else"),
            id="wrong-audience",
        ),
        pytest.param(
            lambda i: i.assertion(key=rsa_key("stranger")),
            ("AADSTS700027", "signature"),
            id="forged-with-the-issuers-kid",
        ),
        pytest.param(tampered, ("AADSTS700027",), id="tampered-claims"),
        pytest.param(alg_none, ("AADSTS700027", "'none' is not accepted"), id="alg-none"),
        pytest.param(hs256_with_the_public_key, ("AADSTS700027", "'HS256' is not accepted"), id="hs256"),
        pytest.param(lambda i: i.assertion(exp=None), ("AADSTS50027", "exp"), id="no-exp"),
        pytest.param(lambda i: i.assertion(iat=None), ("AADSTS50027", "iat"), id="no-iat"),
        pytest.param(lambda i: "not-a-jwt", ("AADSTS50027",), id="not-a-jwt"),
        pytest.param(
            lambda i: i.assertion(sub="system:serviceaccount:team-a:someone-else"),
            ("AADSTS70021", ISSUER, "system:serviceaccount:team-a:someone-else", EXCHANGE_AUDIENCE),
            id="another-subject",
        ),
        pytest.param(
            lambda i: i.assertion(iss="https://issuer.test/tenant-2"),
            ("AADSTS70021", "https://issuer.test/tenant-2", SUBJECT),
            id="another-issuer",
        ),
        pytest.param(
            lambda i: i.assertion(sub=SUBJECT.upper()),
            ("AADSTS70021",),
            id="subject-compared-case-sensitively",
        ),
    ],
)
async def test_a_bad_assertion_is_400_invalid_grant_without_a_token(
    federated: InProcessServer,
    client: httpx2.AsyncClient,
    issuer: Issuer,
    mutation: Mutation,
    says: tuple[str, ...],
) -> None:
    identity = await create_identity(client, federated)

    response = await exchange(federated, assertion_form(identity, mutation(issuer)))

    assert_refused(response, says=says)


async def test_the_control_assertion_of_the_refusal_table_is_accepted(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    """The helpers above, with honest inputs, build what Tether accepts: the refusals are the mutations'."""
    identity = await create_identity(client, federated)

    response = await exchange(federated, assertion_form(identity, issuer.assertion(kid="key-1")))

    assert response.status_code == 200, response.text


async def test_no_issuer_is_contacted_for_an_assertion_no_credential_trusts(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    identity = await create_identity(client, federated, subject="system:serviceaccount:team-a:other")

    response = await exchange(federated, assertion_form(identity, issuer.assertion()))

    assert_refused(response, says=("AADSTS70021",))
    assert issuer.requests == Counter()


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_why_an_issuer_cannot_be_reached_goes_to_the_log_not_to_the_caller(
    server: InProcessServer, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """No injected client: the real path. A port nothing listens on (refused) and a port that answers
    plain text to TLS (handshake failure) must be indistinguishable to the caller: no port scanning."""

    async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    plain = await asyncio.start_server(not_tls, "127.0.0.1", 0)
    refused_url = f"https://127.0.0.1:{free_loopback_port()}"
    plain_url = f"https://127.0.0.1:{plain.sockets[0].getsockname()[1]}"
    answers = {}
    async with plain:
        for url in (refused_url, plain_url):
            identity = await create_identity(client, server, issuer=url, name=f"id-{len(answers)}")
            response = await exchange(server, assertion_form(identity, Issuer(url=url).assertion()))
            assert_refused(response, says=("AADSTS90061", f"'{url}'", "could not be fetched", "issuerCaCertificate"))
            answers[url] = response.json()["error_description"].replace(url, "<issuer>")

    assert answers[refused_url] == answers[plain_url]
    for text in ("ConnectError", "SSL", "refused", "Connect"):
        assert text not in answers[refused_url]
    logged = caplog.text
    assert "ConnectError" in logged
    assert refused_url in logged
    assert plain_url in logged


async def test_a_registered_ca_that_is_not_pem_is_logged_as_the_reason(
    server: InProcessServer, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """No injected client: the CA registered with the credential is what verifies the issuer's TLS."""
    identity = await create_identity(client, server, issuer="https://issuer.invalid")
    path = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/trainer"
    credential = {"issuer": "https://issuer.invalid", "subject": SUBJECT, "issuerCaCertificate": "not a certificate"}
    put = await client.put(f"{path}/federatedIdentityCredentials/fic1", params=API, json={"properties": credential})
    assert put.status_code == 200, put.text

    response = await exchange(server, assertion_form(identity, Issuer(url="https://issuer.invalid").assertion()))

    assert_refused(response, says=("AADSTS90061", "'https://issuer.invalid'", "issuerCaCertificate"))
    assert "not valid PEM" not in response.json()["error_description"]
    assert "not valid PEM" in caplog.text


async def test_an_issuer_that_answers_an_error_is_refused_and_not_asked_again_at_once(
    server: InProcessServer,
    client: httpx2.AsyncClient,
    issuer: Issuer,
    issuer_http: httpx2.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_issuer_keys(server, monkeypatch, keys=IssuerKeys(server.services.store, http=issuer_http, min_refetch_s=3600))
    identity = await create_identity(client, server)
    issuer.broken = True

    first = await exchange(server, assertion_form(identity, issuer.assertion()))
    second = await exchange(server, assertion_form(identity, issuer.assertion()))

    for response in (first, second):
        assert_refused(response, says=("AADSTS90061",))
        assert "HTTP 500" not in response.json()["error_description"]
    assert issuer.requests == Counter({"discovery": 1})


async def test_a_discovery_document_naming_another_issuer_is_refused(
    federated: InProcessServer, client: httpx2.AsyncClient, issuer: Issuer
) -> None:
    identity = await create_identity(client, federated, issuer=ISSUER + "/")
    assertion = issuer.assertion(iss=ISSUER + "/")

    response = await exchange(federated, assertion_form(identity, assertion))

    assert_refused(response, says=("AADSTS90061",))
    assert "names issuer" not in response.json()["error_description"]


# --- the token request's form ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error", "says"),
    [
        pytest.param({"client_secret": "s3cret"}, "invalid_request", "not both", id="secret-and-assertion"),
        pytest.param({"client_assertion_type": "urn:other"}, "invalid_request", "urn:other", id="wrong-type"),
        pytest.param({"client_assertion_type": None}, "invalid_request", JWT_BEARER, id="type-missing"),
        pytest.param({"client_assertion": None}, "invalid_request", "client_assertion is required", id="no-assertion"),
        pytest.param(
            {"client_assertion": None, "client_assertion_type": None},
            "invalid_client",
            "client_secret or client_assertion",
            id="neither",
        ),
        pytest.param({"client_id": str(uuid.uuid4())}, "invalid_client", "AADSTS700016", id="unknown-client"),
        pytest.param({"scope": "https://x/.default other"}, "invalid_scope", "scope", id="two-scopes"),
    ],
)
async def test_a_malformed_assertion_request_is_refused_without_a_token(
    federated: InProcessServer,
    client: httpx2.AsyncClient,
    issuer: Issuer,
    changes: dict[str, str | None],
    error: str,
    says: str,
) -> None:
    identity = await create_identity(client, federated)

    response = await exchange(federated, assertion_form(identity, issuer.assertion(), **changes))

    assert_refused(response, error=error, says=(says,))
