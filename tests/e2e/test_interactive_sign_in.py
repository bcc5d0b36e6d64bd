"""The unmodified ``azure-identity`` ``InteractiveBrowserCredential`` signs a user in against ``tether server``:
MSAL's authorization-code flow with PKCE and ``response_mode=form_post`` on a loopback redirect URI.

``webbrowser.open`` is the only thing replaced: instead of the desktop's browser it opens the URL in a
real headless Chromium (Debian's, through Playwright, as the Studio's tests do), where a thread plays the
person: it fills in the login page and signs in; the page's own script then posts the hand-back form to
MSAL's loopback server. The device-code flow is not served (no device authorization endpoint):
azure-identity says so.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import webbrowser
from typing import Any

import httpx2
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DeviceCodeCredential, InteractiveBrowserCredential
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM
from tests.e2e.conftest import Cli
from tether.server_process import ServerProcess

PASSWORD = "interactive-password-1"
MSAL_LOOPBACK = re.compile(r"^http://(localhost|127\.0\.0\.1):\d+/")


def person_at_browser(url: str, *, upn: str, seen: list[Any]) -> None:
    try:
        sign_in_and_hand_back(url, upn=upn, seen=seen)
    except Exception as e:  # reported by the test, not lost in the thread
        seen.append(e)


def sign_in_and_hand_back(url: str, *, upn: str, seen: list[Any]) -> None:
    """In Chromium: open the authorize URL, sign in, and let the page hand the code back to MSAL."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # The server's certificate comes from its own CA, which this Chromium profile does not trust.
            page = browser.new_context(ignore_https_errors=True).new_page()
            opened = page.goto(url)
            seen.append(opened.status if opened is not None else None)
            page.get_by_label("User name").fill(upn)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(MSAL_LOOPBACK, timeout=30_000)  # the page's script posted the code there
        finally:
            browser.close()


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
        threading.Thread(target=person_at_browser, args=(url,), kwargs={"upn": upn, "seen": seen}).start()
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
    with httpx2.Client(verify=ssl.create_default_context(cafile=server_process.ca_file)) as api:
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
