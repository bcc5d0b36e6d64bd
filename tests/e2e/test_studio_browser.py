"""The Studio in a real browser (Debian's ``chromium`` driven by Playwright) against a real ``tether server``
process, for what needs no cluster: sign-in, a Reader's view and refusal, CSRF-less and session-less
requests refused, the phone layout, sign-out. tests/cluster/test_studio_browser.py does attach, the
identity pencil and jobs on the local cluster.

Users and roles are made with the CLI (``tether ad user create``, ``tether role assignment create``).
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import PASSWORD, new_context, shoot, sign_in
from tests.e2e.conftest import Cli
from tether.server_process import ServerProcess

RG, WS = "browser-rg", "browser-ws"
ENGINEER, READER_USER = "eng@browser.test", "rita@browser.test"


@pytest.fixture(scope="module")
def setup(server_process: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cli = Cli(server_process, tmp_path_factory.mktemp("browser-config"))
    cli.run("login", "--bootstrap", str(server_process.data_dir))
    cli.run("group", "create", "-n", RG, "-l", "westeurope", "-o", "none")
    cli.run("ml", "workspace", "create", "-n", WS, "-g", RG, "-o", "none")
    sub = json.loads(cli.run("account", "show", "-o", "json").stdout)["id"]
    group = f"/subscriptions/{sub}/resourceGroups/{RG}"
    for upn, name, role in ((ENGINEER, "Eng", "Owner"), (READER_USER, "Rita", "Reader")):
        user = json.loads(
            cli.run(
                "ad",
                "user",
                "create",
                "--display-name",
                name,
                "--user-principal-name",
                upn,
                "--password",
                PASSWORD,
                "-o",
                "json",
            ).stdout
        )
        cli.run(
            "role", "assignment", "create", "--assignee", user["id"], "--role", role, "--scope", group, "-o", "none"
        )
    return {
        "sub": sub,
        "url": server_process.url,
        "workspace": f"{server_process.url}/studio/workspaces/{sub}/{RG}/{WS}",
    }


def test_a_reader_sees_the_workspace_but_cannot_attach(browser: Browser, setup: dict[str, str]) -> None:
    page = sign_in(browser, setup["url"], READER_USER)
    expect(page.get_by_role("link", name=WS)).to_be_visible()
    page.get_by_role("link", name=WS).click()
    expect(page.get_by_role("heading", name="No computes attached")).to_be_visible()
    expect(page.get_by_role("link", name="+ Attach compute")).to_have_count(0)
    expect(page.locator("#readonly-note")).to_contain_text("not attach")

    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    denied = page.request.post(
        f"{setup['workspace']}/computes/attach", form={"csrf": csrf, "name": "reader-compute", "action": "attach"}
    )
    assert denied.status == 403
    assert "AuthorizationFailed" in denied.text()
    assert "Microsoft.MachineLearningServices/workspaces/computes/write" in denied.text()


def test_posts_without_csrf_and_requests_without_a_session_are_refused(browser: Browser, setup: dict[str, str]) -> None:
    page = sign_in(browser, setup["url"], ENGINEER)
    attach = f"{setup['workspace']}/computes/attach"
    no_csrf = page.request.post(attach, form={"name": "csrf-less", "action": "attach"})
    assert no_csrf.status == 403
    assert "CsrfTokenInvalid" in no_csrf.text()
    forged = page.request.post(attach, form={"csrf": "forged", "name": "csrf-less", "action": "attach"})
    assert forged.status == 403
    signout_forged = page.request.post(f"{setup['url']}/studio/signout", form={"csrf": "forged"})
    assert signout_forged.status == 403

    anonymous = new_context(browser)
    session_less = anonymous.request.post(attach, form={"name": "x", "action": "attach"}, max_redirects=0)
    assert session_less.status == 401
    listing = anonymous.request.get(f"{setup['url']}/studio/workspaces", max_redirects=0)
    assert listing.status == 303
    assert listing.headers["location"].startswith("/studio/signin")
    stolen = anonymous.request.get(
        f"{setup['url']}/studio/workspaces", headers={"Cookie": "tether_studio=guessed"}, max_redirects=0
    )
    assert stolen.status == 303


def test_a_wrong_password_is_refused_on_the_login_page(browser: Browser, setup: dict[str, str]) -> None:
    page = new_context(browser).new_page()
    page.goto(f"{setup['url']}/studio/workspaces")
    shoot(page, "sign-in")
    page.get_by_label("User name").fill(ENGINEER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("incorrect")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_workspace_works_on_a_phone_and_sign_out_ends_the_session(browser: Browser, setup: dict[str, str]) -> None:
    page = sign_in(browser, setup["url"], ENGINEER, phone=True)
    page.goto(f"{setup['workspace']}/computes")
    expect(page.get_by_role("link", name="+ Attach compute")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    page.goto(f"{setup['workspace']}/computes")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
