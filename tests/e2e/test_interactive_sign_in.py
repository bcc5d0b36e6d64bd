"""The unmodified ``azure-identity`` ``InteractiveBrowserCredential`` signs a user in against ``tether server``:
MSAL's authorization-code flow with PKCE and ``response_mode=form_post`` on a loopback redirect URI.

The person at the browser is played by a thread that ``webbrowser.open`` starts (the only thing replaced):
it fills in the login page and posts the hand-back form to MSAL's loopback server, as the page's script
would. The device-code flow is not served (no device authorization endpoint): azure-identity says so.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import webbrowser
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DeviceCodeCredential, InteractiveBrowserCredential

from tests.e2e.conftest import Cli
from tether.server_process import ServerProcess

PASSWORD = "interactive-password-1"
HIDDEN = r'<input type="hidden" name="([^"]+)" value="([^"]*)"'


def person_at_browser(url: str, *, ca_file: str, upn: str, seen: list[Any]) -> None:
    try:
        sign_in_and_hand_back(url, ca_file=ca_file, upn=upn, seen=seen)
    except Exception as e:  # reported by the test, not lost in the thread
        seen.append(e)


def sign_in_and_hand_back(url: str, *, ca_file: str, upn: str, seen: list[Any]) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_file)) as browser:
        page = browser.get(url)
        form = {**dict(re.findall(HIDDEN, page.text)), "username": upn, "password": PASSWORD}
        signed_in = browser.post(url.split("?", 1)[0], data=form)
        seen.append(signed_in.status_code)
        target = re.search(r'<form method="post" action="([^"]+)"', signed_in.text)
        assert target is not None, signed_in.text
        httpx.post(target.group(1), data=dict(re.findall(HIDDEN, signed_in.text)))


def test_interactive_browser_credential_gets_a_user_token(
    cli: Cli, server_process: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    upn = "ivy@tether.test"
    user = json.loads(
        cli.run(
            "ad",
            "user",
            "create",
            "--display-name",
            "Ivy",
            "--user-principal-name",
            upn,
            "--password",
            PASSWORD,
            "-o",
            "json",
        ).stdout
    )
    tenant = json.loads(cli.run("account", "show", "-o", "json").stdout)["tenantId"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server_process.ca_file)
    seen: list[Any] = []

    def open_browser(url: str, *_args: Any, **_kwargs: Any) -> bool:
        threading.Thread(
            target=person_at_browser, args=(url,), kwargs={"ca_file": server_process.ca_file, "upn": upn, "seen": seen}
        ).start()
        return True

    monkeypatch.setattr(webbrowser, "open", open_browser)
    credential = InteractiveBrowserCredential(
        authority=server_process.url, tenant_id=tenant, disable_instance_discovery=True, timeout=60
    )
    try:
        token = credential.get_token(f"{server_process.url}/.default")
    except ClientAuthenticationError as e:
        raise AssertionError(f"the sign-in failed; the browser saw {seen}") from e

    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert seen == [200]
    assert claims["oid"] == user["id"]
    assert claims["upn"] == upn
    assert claims["idtyp"] == "user"
    assert claims["aud"] == server_process.url
    with httpx.Client(verify=ssl.create_default_context(cafile=server_process.ca_file)) as api:
        answer = api.get(f"{server_process.url}/v1.0/users/{upn}", headers={"Authorization": f"Bearer {token.token}"})
    assert answer.status_code == 200
    assert answer.json()["id"] == user["id"]


def test_device_code_is_not_served_and_azure_identity_says_so(
    server_process: ServerProcess, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = json.loads(cli.run("account", "show", "-o", "json").stdout)["tenantId"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server_process.ca_file)
    credential = DeviceCodeCredential(
        authority=server_process.url, tenant_id=tenant, disable_instance_discovery=True, timeout=5
    )
    with pytest.raises(ClientAuthenticationError, match="device authorization endpoint"):
        credential.get_token(f"{server_process.url}/.default")
