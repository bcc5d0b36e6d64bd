"""Users, the authorization-code flow with PKCE, and the Studio's sign-in, sessions, CSRF and authorization,
through the in-process app (no browser: tests/cluster/test_studio_browser.py drives a real Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from tests.integration.helpers import API, create_group, create_workspace, rg_path
from tether.settings import TokenSettings
from tether.testing.server import PUBLIC_URL, InProcessServer, in_process_server, settings_for_tests

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
PASSWORD = "correct horse battery"


async def create_user(client: httpx2.AsyncClient, upn: str, *, password: str = PASSWORD) -> dict[str, Any]:
    body = {
        "displayName": upn.split("@")[0].title(),
        "userPrincipalName": upn,
        "passwordProfile": {"password": password},
    }
    response = await client.post("/v1.0/users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def grant(client: httpx2.AsyncClient, scope: str, principal: str, role: str) -> None:
    subscription = scope.split("/")[2]
    definitions = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions"
    body = {
        "properties": {
            "roleDefinitionId": f"{definitions}/{role}",
            "principalId": principal,
        }
    }
    path = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    response = await client.put(path, params=API, json=body)
    assert response.status_code == 201, response.text


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def sign_in_studio(server: InProcessServer, upn: str, password: str = PASSWORD) -> httpx2.AsyncClient:
    """A browser-like client (cookies, redirects) signed in to the Studio through the login page."""
    browser = httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL, follow_redirects=True)
    login = await browser.get("/studio/workspaces")
    assert login.status_code == 200, login.text
    assert "Sign in" in login.text
    form = {**hidden_fields(login.text), "username": upn, "password": password}
    landed = await browser.post(str(login.url), data=form)
    assert landed.status_code == 200, landed.text
    assert str(landed.url).endswith("/studio/workspaces")
    return browser


async def test_users_are_created_by_directory_admins_and_never_show_their_password(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    created = await create_user(client, "ada@tether.test")
    assert created["userPrincipalName"] == "ada@tether.test"
    assert PASSWORD not in str(created)
    assert (await client.get("/v1.0/users/ada@tether.test")).json()["id"] == created["id"]
    assert (await client.get(f"/v1.0/users/{created['id']}")).json()["displayName"] == "Ada"
    listed = (await client.get("/v1.0/users")).json()["value"]
    assert [u["userPrincipalName"] for u in listed] == ["ada@tether.test"]
    assert "password" not in str(listed).lower()
    again = await client.post(
        "/v1.0/users",
        json={"displayName": "A", "userPrincipalName": "ADA@tether.test", "passwordProfile": {"password": PASSWORD}},
    )
    assert again.status_code == 409
    short = await client.post(
        "/v1.0/users",
        json={"displayName": "B", "userPrincipalName": "b@tether.test", "passwordProfile": {"password": "x"}},
    )
    assert short.status_code == 400
    assert "8-256" in short.json()["error"]["message"]


async def test_authorization_code_with_pkce_gives_a_user_token_the_api_accepts(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    user = await create_user(client, "grace@tether.test")
    await create_group(client, server.subscription, "rg1")
    await grant(client, rg_path(server.subscription, "rg1"), user["id"], READER)
    tenant = server.bootstrap.tenant_id
    verifier = "v" * 50
    redirect = "http://localhost:8400/"
    params = {
        "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": f"{PUBLIC_URL}/.default openid offline_access",
        "state": "s1",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    browser = httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL)
    page = await browser.get(f"/{tenant}/oauth2/v2.0/authorize", params=params)
    assert page.status_code == 200
    form = {**hidden_fields(page.text), "username": "grace@tether.test"}
    wrong = await browser.post(f"/{tenant}/oauth2/v2.0/authorize", data={**form, "password": "wrong password"})
    assert wrong.status_code == 401
    assert "incorrect" in wrong.text
    right = await browser.post(f"/{tenant}/oauth2/v2.0/authorize", data={**form, "password": PASSWORD})
    assert right.status_code == 303
    location = urlsplit(right.headers["location"])
    assert location.netloc == "localhost:8400"
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    redeem = {
        "grant_type": "authorization_code",
        "client_id": params["client_id"],
        "code": query["code"][0],
        "redirect_uri": redirect,
    }
    bad = await browser.post(f"/{tenant}/oauth2/v2.0/token", data={**redeem, "code_verifier": "w" * 50})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"
    # A failed redemption uses the code up (as Entra does): sign in again for a new one.
    page = await browser.get(f"/{tenant}/oauth2/v2.0/authorize", params=params)
    form = {**hidden_fields(page.text), "username": "grace@tether.test"}
    right = await browser.post(f"/{tenant}/oauth2/v2.0/authorize", data={**form, "password": PASSWORD})
    redeem["code"] = parse_qs(urlsplit(right.headers["location"]).query)["code"][0]
    token = await browser.post(f"/{tenant}/oauth2/v2.0/token", data={**redeem, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    reused = await browser.post(f"/{tenant}/oauth2/v2.0/token", data={**redeem, "code_verifier": verifier})
    assert reused.status_code == 400
    as_user = server.client(token=access)
    assert (await as_user.get(rg_path(server.subscription, "rg1"), params=API)).status_code == 200
    denied = await as_user.put(rg_path(server.subscription, "rg2"), params=API, json={"location": "westeurope"})
    assert denied.status_code == 403
    assert "AuthorizationFailed" in denied.text


async def test_wrong_passwords_past_the_limit_refuse_even_the_right_one(tmp_path: Path) -> None:
    """Passwords go through the same throttled checks as client secrets: 3 wrong ones per user a minute here."""
    settings = settings_for_tests(tmp_path)
    settings.tokens = TokenSettings(failed_secrets_per_client=3, failed_secrets_per_source=100)
    async with in_process_server(tmp_path, settings=settings) as server, server.client() as admin:
        await create_user(admin, "mallory@tether.test")
        tenant = server.bootstrap.tenant_id
        params = {
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "response_type": "code",
            "redirect_uri": "http://localhost:8400/",
            "scope": f"{PUBLIC_URL}/.default",
            "state": "s1",
            "code_challenge": challenge("v" * 50),
            "code_challenge_method": "S256",
        }
        async with httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL) as browser:
            page = await browser.get(f"/{tenant}/oauth2/v2.0/authorize", params=params)
            form = {**hidden_fields(page.text), "username": "mallory@tether.test"}
            for n in range(3):
                wrong = await browser.post(f"/{tenant}/oauth2/v2.0/authorize", data={**form, "password": f"guess {n}"})
                assert wrong.status_code == 401
                assert "incorrect" in wrong.text
            right = await browser.post(f"/{tenant}/oauth2/v2.0/authorize", data={**form, "password": PASSWORD})
    assert right.status_code == 401
    assert "Too many wrong passwords" in right.text


async def test_authorize_refuses_foreign_redirects_and_missing_pkce(server: InProcessServer) -> None:
    browser = httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL)
    tenant = server.bootstrap.tenant_id
    base = {"client_id": "c", "response_type": "code", "state": "s", "scope": "openid"}
    foreign = await browser.get(
        f"/{tenant}/oauth2/v2.0/authorize",
        params={
            **base,
            "redirect_uri": "https://attacker.invalid/cb",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert foreign.status_code == 400
    assert "not allowed" in foreign.text
    no_pkce = await browser.get(
        f"/{tenant}/oauth2/v2.0/authorize", params={**base, "redirect_uri": "http://127.0.0.1:9/cb"}
    )
    assert no_pkce.status_code == 400
    assert "code_challenge" in no_pkce.text


async def test_studio_needs_a_session_and_a_csrf_token_and_a_reader_cannot_attach(
    server: InProcessServer, client: httpx2.AsyncClient
) -> None:
    user = await create_user(client, "rita@tether.test")
    await create_group(client, server.subscription, "rg1")
    await create_workspace(client, server.subscription, "rg1", "ws1")
    await grant(client, rg_path(server.subscription, "rg1"), user["id"], READER)
    sub = server.bootstrap.subscription_id
    attach_path = f"/studio/workspaces/{sub}/rg1/ws1/computes/attach"

    anonymous = httpx2.AsyncClient(transport=server.transport, base_url=PUBLIC_URL)
    assert (await anonymous.get("/studio/workspaces")).status_code == 303
    refused = await anonymous.post(attach_path, data={"name": "c1"})
    assert refused.status_code == 401

    browser = await sign_in_studio(server, "rita@tether.test")
    cookie = browser.cookies.jar
    flags = {c.name: c for c in cookie}
    assert flags["tether_studio"].secure
    assert flags["tether_studio"].has_nonstandard_attr("HttpOnly")
    listing = await browser.get("/studio/workspaces")
    assert "ws1" in listing.text
    computes = await browser.get(f"/studio/workspaces/{sub}/rg1/ws1/computes")
    assert computes.status_code == 200
    assert "No computes attached" in computes.text
    assert "Attach compute" not in computes.text
    assert "readonly-note" in computes.text

    no_csrf = await browser.post(attach_path, data={"name": "c1", "action": "attach"})
    assert no_csrf.status_code == 403
    assert "CsrfTokenInvalid" in no_csrf.text
    form = await browser.get(attach_path)
    csrf = hidden_fields(form.text)["csrf"]
    cluster = f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.ContainerService/managedClusters/none"
    denied = await browser.post(
        attach_path, data={"csrf": csrf, "name": "c1", "action": "attach", "cluster": cluster, "identity_type": "None"}
    )
    assert denied.status_code == 403
    assert "AuthorizationFailed" in denied.text
    assert "Microsoft.MachineLearningServices/workspaces/computes/write" in denied.text
    compute = (
        f"{rg_path(server.subscription, 'rg1')}/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c1"
    )
    assert (await client.get(compute, params=API)).status_code == 404

    signed_out = await browser.post("/studio/signout", data={"csrf": csrf})
    assert signed_out.status_code == 200
    assert "signed out" in signed_out.text
    after = await browser.get("/studio/workspaces", follow_redirects=False)
    assert after.status_code == 303
