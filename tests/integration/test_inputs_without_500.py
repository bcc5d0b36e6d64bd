"""Inputs that once answered 500: each now gets a clear ARM error (400 or 401) and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.integration.helpers import API, rg_path
from tether.testing.server import PUBLIC_URL, InProcessServer


async def test_a_json_integer_past_4300_digits_is_a_400(server: InProcessServer) -> None:
    body = '{"location": "westeurope", "tags": {"n": ' + "9" * 5000 + "}}"
    async with server.client() as client:
        headers = {"content-type": "application/json"}
        response = await client.put(rg_path(server.subscription, "rg-big"), params=API, content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "InvalidRequestContent"
        assert "4300 digits" in response.json()["error"]["message"]
        assert (await client.get(rg_path(server.subscription, "rg-big"), params=API)).status_code == 404


@pytest.mark.parametrize("token", ["9223372036854775808", "1" * 400, "²", "-1"])
async def test_a_skip_token_out_of_range_is_a_400(server: InProcessServer, token: str) -> None:
    async with server.client() as client:
        response = await client.get(f"{server.subscription}/resourceGroups", params={**API, "$skipToken": token})
    assert response.status_code == 400, response.text
    assert "$skipToken" in response.json()["error"]["message"]


def _signed(server: InProcessServer, **overrides: Any) -> str:
    """A token signed with the server's own key whose claims are the admin's, changed by ``overrides``."""
    key = server.services.keys.signing_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": PUBLIC_URL,
        "iss": f"{PUBLIC_URL}/{server.bootstrap.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": server.bootstrap.tenant_id,
        "oid": server.bootstrap.admin_object_id,
        "appid": server.bootstrap.client_id,
    }
    claims.update(overrides)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


@pytest.mark.parametrize(
    "overrides",
    [
        {"oid": 12345},
        {"oid": ["a", "b"]},
        {"oid": None},
        {"appid": {"x": 1}},
        {"tid": 7},
        {"xms_mirid": "Wizard"},
        {"xms_mirid": ["ServicePrincipal"]},
    ],
)
async def test_a_token_with_a_claim_of_the_wrong_type_is_a_401(
    server: InProcessServer, overrides: dict[str, Any]
) -> None:
    async with server.client(token=_signed(server, **overrides)) as client:
        response = await client.get(f"{server.subscription}/resourceGroups", params=API)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


async def test_the_well_typed_token_of_the_same_shape_is_accepted(server: InProcessServer) -> None:
    async with server.client(token=_signed(server)) as client:
        response = await client.get(f"{server.subscription}/resourceGroups", params=API)
    assert response.status_code == 200, response.text
