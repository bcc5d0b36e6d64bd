"""The token service over HTTP: tokens are issued to the right client only, and forged ones are refused.

A refused request answers 401 with the reason's ARM code and changes nothing: every forged token is
tried on a PUT of a resource group, which the admin then confirms does not exist. Each forgery is
built by the same helper that, with honest inputs, builds a token the API accepts (see the control test).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.helpers import API, create_group, rg_path, wait_operation
from tether.domain.principals import Caller, PrincipalKind
from tether.domain.roles import OWNER
from tether.store import principals, role_assignments, tenancy
from tether.testing.server import PUBLIC_URL, InProcessServer

SCOPE = f"{PUBLIC_URL}/.default"
GROUP_BODY = {"location": "westeurope"}
SERVER_KID = "<the server's current kid>"
Forgery = Callable[[InProcessServer], str]


# --- forging ----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value).encode())


@cache
def stranger_key() -> rsa.RSAPrivateKey:
    """An RSA key the server has never seen."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims_for(server: InProcessServer, **changes: Any) -> dict[str, Any]:
    """Honest claims of the admin for the API; ``changes`` override them (None removes a claim)."""
    now = int(time.time())
    tenant = server.bootstrap.tenant_id
    claims: dict[str, Any] = {
        "aud": PUBLIC_URL,
        "iss": f"{PUBLIC_URL}/{tenant}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": tenant,
        "oid": server.bootstrap.admin_object_id,
        "sub": server.bootstrap.admin_object_id,
        "appid": server.bootstrap.client_id,
        "xms_mirid": PrincipalKind.SERVICE_PRINCIPAL.value,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(
    server: InProcessServer,
    claims: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | None = None,
    kid: str | None = SERVER_KID,
    algorithm: str = "RS256",
) -> str:
    """An RS* token of ``claims``, by the server's signing key and kid unless told otherwise (None: no kid)."""
    signing = server.services.keys.signing_key()
    headers = {} if kid is None else {"kid": signing.kid if kid == SERVER_KID else kid}
    return jwt.encode(claims, key or signing.private_key, algorithm=algorithm, headers=headers)


def unsigned(server: InProcessServer) -> str:
    """``alg: none``: honest claims, the real kid, and no signature at all."""
    header = {"alg": "none", "typ": "JWT", "kid": server.services.keys.signing_key().kid}
    return f"{b64json(header)}.{b64json(claims_for(server))}."


def hs256_with_public_key(server: InProcessServer) -> str:
    """The algorithm-confusion attack: HMAC over the token with the server's *public* key as the secret."""
    signing = server.services.keys.signing_key()
    public_pem = signing.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": signing.kid}
    signing_input = f"{b64json(header)}.{b64json(claims_for(server))}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(server: InProcessServer) -> str:
    """A genuine token whose payload was edited afterwards (another object id) and kept its signature."""
    header, _, signature = sign(server, claims_for(server)).split(".")
    return f"{header}.{b64json(claims_for(server, oid=str(uuid.uuid4())))}.{signature}"


async def token_request(client: httpx2.AsyncClient, tenant: str, **fields: str) -> httpx2.Response:
    return await client.post(f"/{tenant}/oauth2/v2.0/token", data=fields)


def credentials(server: InProcessServer, **changes: str) -> dict[str, str]:
    fields = {
        "grant_type": "client_credentials",
        "client_id": server.bootstrap.client_id,
        "client_secret": server.bootstrap.client_secret,
        "scope": SCOPE,
    }
    return {**fields, **changes}


async def second_tenant(server: InProcessServer) -> tuple[str, str, Caller]:
    """Another tenant whose service principal owns its subscription: (tenant, subscription path, caller)."""
    tenant_id, subscription_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with server.services.store.transaction() as session:
        await tenancy.create_tenant(session, tenant_id=tenant_id, display_name="Other")
        await tenancy.create_subscription(
            session, subscription_id=subscription_id, tenant_id=tenant_id, display_name="Other"
        )
        row = await principals.create(
            session, tenant_id=tenant_id, kind=PrincipalKind.SERVICE_PRINCIPAL.value, display_name="other-admin"
        )
        scope = f"/subscriptions/{subscription_id}"
        await role_assignments.create(  # as the bootstrap does for its admin: Owner of its subscription
            session,
            assignment_id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            name=str(uuid.uuid4()),
            subscription_id=subscription_id,
            scope=scope,
            principal_id=row.object_id,
            principal_type="ServicePrincipal",
            role_definition_guid=OWNER.guid,
            description=None,
            created_by=row.object_id,
        )
    caller = Caller(
        tenant_id=tenant_id, object_id=row.object_id, app_id=row.app_id, kind=PrincipalKind.SERVICE_PRINCIPAL
    )
    return tenant_id, f"/subscriptions/{subscription_id}", caller


async def assert_group_missing(server: InProcessServer, name: str) -> None:
    async with server.client() as admin:
        response = await admin.get(rg_path(server.subscription, name), params=API)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


def assert_refused(response: httpx2.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "access_token" not in response.text


# --- the token endpoint -----------------------------------------------------------------------


async def test_client_credentials_of_the_bootstrap_client_answer_a_bearer_token_the_api_accepts(
    server: InProcessServer,
) -> None:
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, server.bootstrap.tenant_id, **credentials(server))

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == server.services.settings.tokens.access_token_lifetime_s
    async with server.client(token=answer["access_token"]) as client:
        subscriptions = (await client.get("/subscriptions", params=API)).json()["value"]
        created = await client.put(rg_path(server.subscription, "rg1"), params=API, json=GROUP_BODY)
    assert [s["subscriptionId"] for s in subscriptions] == [server.bootstrap.subscription_id]
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"client_secret": "wrong"}, id="wrong-secret"),
        pytest.param({"client_secret": ""}, id="empty-secret"),
        pytest.param({"client_id": str(uuid.uuid4())}, id="unknown-client"),
    ],
)
async def test_a_bad_client_credential_is_401_invalid_client_without_a_token(
    server: InProcessServer, changes: dict[str, str]
) -> None:
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, server.bootstrap.tenant_id, **credentials(server, **changes))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]
    assert "access_token" not in response.json()


async def test_an_expired_client_secret_is_401_invalid_client(server: InProcessServer) -> None:
    async with server.services.store.transaction() as session:
        admin = await principals.get(session, server.bootstrap.admin_object_id)
        assert admin is not None
        expired = await principals.add_secret(session, admin.object_id, lifetime=dt.timedelta(seconds=-1))

    async with server.client(token="") as anonymous:
        response = await token_request(
            anonymous, server.bootstrap.tenant_id, **credentials(server, client_secret=expired)
        )

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


async def test_the_tenant_in_the_token_url_is_case_insensitive(server: InProcessServer) -> None:
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, server.bootstrap.tenant_id.upper(), **credentials(server))

    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["tid"] == server.bootstrap.tenant_id


async def test_a_token_request_to_an_unknown_tenant_is_refused(server: InProcessServer) -> None:
    unknown = str(uuid.uuid4())
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, unknown, **credentials(server))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert unknown in response.json()["error_description"]


async def test_a_client_of_one_tenant_gets_no_token_from_another_tenant(server: InProcessServer) -> None:
    other_tenant, _, _ = await second_tenant(server)

    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, other_tenant, **credentials(server))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant", ["password", "refresh_token", ""])
async def test_an_unsupported_grant_type_is_400_unsupported_grant_type(server: InProcessServer, grant: str) -> None:
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, server.bootstrap.tenant_id, **credentials(server, grant_type=grant))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unsupported_grant_type"
    assert "client_credentials" in response.json()["error_description"]


@pytest.mark.parametrize(
    "scope",
    [PUBLIC_URL, f"{PUBLIC_URL}/user_impersonation", f"{SCOPE} openid", f"{SCOPE} {SCOPE}"],
    ids=["no-default-suffix", "delegated-scope", "two-scopes", "repeated-scope"],
)
async def test_a_scope_other_than_one_default_scope_is_400_invalid_scope(server: InProcessServer, scope: str) -> None:
    async with server.client(token="") as anonymous:
        response = await token_request(anonymous, server.bootstrap.tenant_id, **credentials(server, scope=scope))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    assert "/.default" in response.json()["error_description"]


# --- discovery --------------------------------------------------------------------------------


async def test_discovery_names_the_issuer_and_the_endpoints_of_the_tenant(server: InProcessServer) -> None:
    tenant = server.bootstrap.tenant_id
    async with server.client(token="") as anonymous:
        response = await anonymous.get(f"/{tenant}/v2.0/.well-known/openid-configuration")

    assert response.status_code == 200, response.text
    config = response.json()
    assert config["issuer"] == f"{PUBLIC_URL}/{tenant}/v2.0"
    assert config["token_endpoint"] == f"{PUBLIC_URL}/{tenant}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{PUBLIC_URL}/{tenant}/oauth2/v2.0/authorize"
    assert config["jwks_uri"] == f"{PUBLIC_URL}/{tenant}/discovery/v2.0/keys"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_discovery_of_an_unknown_tenant_is_404(server: InProcessServer) -> None:
    unknown = str(uuid.uuid4())
    async with server.client(token="") as anonymous:
        config = await anonymous.get(f"/{unknown}/v2.0/.well-known/openid-configuration")
        keys = await anonymous.get(f"/{unknown}/discovery/v2.0/keys")

    for response in (config, keys):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "TenantNotFound"


async def test_jwks_publishes_the_rs256_signing_key_and_nothing_private(server: InProcessServer) -> None:
    async with server.client(token="") as anonymous:
        config = (await anonymous.get(f"/{server.bootstrap.tenant_id}/v2.0/.well-known/openid-configuration")).json()
        jwks = (await anonymous.get(config["jwks_uri"])).json()

    [key] = jwks["keys"]
    assert key["kid"] == server.services.keys.signing_key().kid
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert {"n", "e"} <= key.keys()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


async def test_an_issued_token_verifies_against_the_published_jwks_with_its_claims(server: InProcessServer) -> None:
    tenant = server.bootstrap.tenant_id
    async with server.client(token="") as anonymous:
        token = (await token_request(anonymous, tenant, **credentials(server))).json()["access_token"]
        config = (await anonymous.get(f"/{tenant}/v2.0/.well-known/openid-configuration")).json()
        jwks = jwt.PyJWKSet.from_dict((await anonymous.get(config["jwks_uri"])).json())

    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in jwks.keys if k.key_id == kid]
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=PUBLIC_URL, issuer=config["issuer"])
    assert claims["tid"] == tenant
    assert claims["oid"] == server.bootstrap.admin_object_id
    assert claims["appid"] == server.bootstrap.client_id
    assert claims["exp"] - claims["iat"] == server.services.settings.tokens.access_token_lifetime_s


# --- refused requests -------------------------------------------------------------------------


async def test_the_forging_helper_builds_accepted_tokens_from_honest_inputs(server: InProcessServer) -> None:
    async with server.client(token=sign(server, claims_for(server))) as client:
        response = await client.put(rg_path(server.subscription, "rg1"), params=API, json=GROUP_BODY)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        pytest.param(None, "AuthenticationFailed", id="missing-header"),
        pytest.param("", "AuthenticationFailed", id="empty-header"),
        pytest.param("Basic dXNlcjpwYXNz", "AuthenticationFailedInvalidHeader", id="basic-scheme"),
        pytest.param("Token abc", "AuthenticationFailedInvalidHeader", id="other-scheme"),
        pytest.param("Bearer", "AuthenticationFailedInvalidHeader", id="bearer-without-token"),
        pytest.param("Bearer    ", "AuthenticationFailedInvalidHeader", id="bearer-blank-token"),
        pytest.param("Bearer not-a-jwt", "InvalidAuthenticationToken", id="garbage"),
        pytest.param("Bearer a.b.c", "InvalidAuthenticationToken", id="three-garbage-segments"),
    ],
)
async def test_a_request_without_a_usable_bearer_header_is_401_and_changes_nothing(
    server: InProcessServer, authorization: str | None, code: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with server.client(token="") as anonymous:
        response = await anonymous.put(
            rg_path(server.subscription, "rg1"), params=API, json=GROUP_BODY, headers=headers
        )

    assert_refused(response, code)
    await assert_group_missing(server, "rg1")


def _expired(server: InProcessServer) -> str:
    now = int(time.time())
    return sign(server, claims_for(server, iat=now - 7200, nbf=now - 7200, exp=now - 3600))


def _not_yet_valid(server: InProcessServer) -> str:
    now = int(time.time())
    return sign(server, claims_for(server, iat=now, nbf=now + 3600, exp=now + 7200))


def _other_tenants_issuer(server: InProcessServer) -> str:
    return sign(server, claims_for(server, iss=f"{PUBLIC_URL}/{uuid.uuid4()}/v2.0"))


FORGERIES = [
    pytest.param(unsigned, "InvalidAuthenticationToken", id="alg-none"),
    pytest.param(hs256_with_public_key, "InvalidAuthenticationToken", id="hs256-with-public-key"),
    pytest.param(
        lambda s: sign(s, claims_for(s), key=stranger_key()), "InvalidAuthenticationToken", id="other-key-same-kid"
    ),
    pytest.param(
        lambda s: sign(s, claims_for(s), key=stranger_key(), kid=uuid.uuid4().hex),
        "InvalidAuthenticationToken",
        id="other-key-unknown-kid",
    ),
    pytest.param(lambda s: sign(s, claims_for(s), kid=None), "InvalidAuthenticationToken", id="no-kid"),
    pytest.param(lambda s: sign(s, claims_for(s), algorithm="RS512"), "InvalidAuthenticationToken", id="rs512"),
    pytest.param(tampered, "InvalidAuthenticationToken", id="tampered-payload"),
    pytest.param(_expired, "ExpiredAuthenticationToken", id="expired"),
    pytest.param(_not_yet_valid, "InvalidAuthenticationToken", id="not-yet-valid"),
    pytest.param(
        lambda s: sign(s, claims_for(s, aud="https://management.azure.com")),
        "InvalidAuthenticationTokenAudience",
        id="wrong-audience",
    ),
    pytest.param(
        lambda s: s.token_for(s.admin(), audience="https://other.example"),
        "InvalidAuthenticationTokenAudience",
        id="minted-for-another-audience",
    ),
    pytest.param(lambda s: sign(s, claims_for(s, aud=None)), "InvalidAuthenticationToken", id="missing-audience"),
    pytest.param(lambda s: sign(s, claims_for(s, oid=None)), "InvalidAuthenticationToken", id="missing-oid"),
    pytest.param(lambda s: sign(s, claims_for(s, tid=None)), "InvalidAuthenticationToken", id="missing-tid"),
    pytest.param(lambda s: sign(s, claims_for(s, exp=None)), "InvalidAuthenticationToken", id="missing-exp"),
    pytest.param(_other_tenants_issuer, "InvalidAuthenticationTokenTenant", id="issuer-of-another-tenant"),
    pytest.param(
        lambda s: sign(s, claims_for(s, iss=f"https://login.microsoftonline.com/{s.bootstrap.tenant_id}/v2.0")),
        "InvalidAuthenticationTokenTenant",
        id="issuer-of-another-server",
    ),
]


@pytest.mark.parametrize(("forge", "code"), FORGERIES)
async def test_a_forged_or_unfit_token_is_401_and_changes_nothing(
    server: InProcessServer, forge: Forgery, code: str
) -> None:
    token = forge(server)
    async with server.client(token=token) as client:
        response = await client.put(rg_path(server.subscription, "rg1"), params=API, json=GROUP_BODY)

    assert_refused(response, code)
    await assert_group_missing(server, "rg1")


async def test_a_token_of_another_tenant_is_refused_on_this_tenants_subscription(server: InProcessServer) -> None:
    _, other_subscription, stranger = await second_tenant(server)
    token = server.token_for(stranger)

    async with server.client(token=token) as client:
        refused = await client.put(rg_path(server.subscription, "rg1"), params=API, json=GROUP_BODY)
        read = await client.get(server.subscription, params=API)
        own = await client.put(rg_path(other_subscription, "theirs"), params=API, json=GROUP_BODY)
        listed = (await client.get("/subscriptions", params=API)).json()["value"]

    assert_refused(refused, "InvalidAuthenticationTokenTenant")
    assert_refused(read, "InvalidAuthenticationTokenTenant")
    assert own.status_code == 201, own.text  # the same token is good in its own tenant
    assert [s["id"] for s in listed] == [other_subscription]
    await assert_group_missing(server, "rg1")


async def test_a_token_of_another_tenant_cannot_read_this_tenants_operations(server: InProcessServer) -> None:
    _, _, stranger = await second_tenant(server)
    async with server.client() as admin:
        await create_group(admin, server.subscription, "rg1")
        deleting = await admin.delete(rg_path(server.subscription, "rg1"), params=API)
        operation = deleting.headers["Azure-AsyncOperation"]
        await wait_operation(admin, operation)

    async with server.client(token=server.token_for(stranger)) as client:
        response = await client.get(operation)

    assert_refused(response, "InvalidAuthenticationTokenTenant")


# --- key rotation -----------------------------------------------------------------------------


async def test_rotating_keys_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    server: InProcessServer,
) -> None:
    old_kid = server.services.keys.signing_key().kid
    before = server.token_for(server.admin())  # never presented before the rotation (no cached verdict)

    new_kid = await server.services.keys.rotate()
    after = server.token_for(server.admin())

    assert new_kid != old_kid
    assert jwt.get_unverified_header(before)["kid"] == old_kid
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    for token, group in ((before, "rg-before"), (after, "rg-after")):
        async with server.client(token=token) as client:
            response = await client.put(rg_path(server.subscription, group), params=API, json=GROUP_BODY)
        assert response.status_code == 201, response.text
    async with server.client(token="") as anonymous:
        jwks = (await anonymous.get(f"/{server.bootstrap.tenant_id}/discovery/v2.0/keys")).json()
    assert sorted(k["kid"] for k in jwks["keys"]) == sorted([old_kid, new_kid])


# --- anonymous endpoints ----------------------------------------------------------------------


async def test_cloud_metadata_is_anonymous_and_points_at_this_server(server: InProcessServer) -> None:
    async with server.client(token="") as anonymous:
        response = await anonymous.get("/metadata/endpoints", params={"api-version": "2019-05-01"})

    assert response.status_code == 200, response.text
    [cloud] = response.json()
    assert cloud["resourceManager"] == PUBLIC_URL + "/"
    assert cloud["authentication"]["loginEndpoint"] == PUBLIC_URL + "/"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/subscriptions"),
        ("GET", "{sub}"),
        ("GET", "{sub}/resourceGroups"),
        ("GET", "{sub}/resourceGroups/keep"),
        ("PUT", "{sub}/resourceGroups/rg1"),
        ("DELETE", "{sub}/resourceGroups/keep"),
        ("GET", "{sub}/providers/Microsoft.MachineLearningServices/workspaces"),
        ("PUT", "{sub}/resourceGroups/keep/providers/Microsoft.MachineLearningServices/workspaces/ws1"),
        ("GET", "{sub}/providers/Tether.Core/operationStatuses/" + str(uuid.UUID(int=1))),
    ],
)
async def test_nothing_under_subscriptions_is_reachable_without_a_token(
    server: InProcessServer, method: str, path: str
) -> None:
    async with server.client() as admin:
        await create_group(admin, server.subscription, "keep")

    async with server.client(token="") as anonymous:
        response = await anonymous.request(method, path.format(sub=server.subscription), params=API, json={})

    assert_refused(response, "AuthenticationFailed")
    async with server.client() as admin:
        groups = (await admin.get(f"{server.subscription}/resourceGroups", params=API)).json()["value"]
        workspaces = await admin.get(
            f"{server.subscription}/providers/Microsoft.MachineLearningServices/workspaces", params=API
        )
    assert [g["name"] for g in groups] == ["keep"]
    assert groups[0]["properties"]["provisioningState"] == "Succeeded"
    assert workspaces.json()["value"] == []
