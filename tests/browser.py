"""Browser-test helpers shared by the Studio's tests: Debian's chromium driven by Playwright (no browser
download: ``make browser`` installs the package), a signed-in page, screenshots into docs/studio/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "studio"
PASSWORD = "studio-password-1"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed: run `make browser` (apt-get install chromium).")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield launched
    launched.close()


def new_context(browser: Browser, *, phone: bool = False) -> BrowserContext:
    # The server's certificate comes from its own CA, which this Chromium profile does not trust.
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    return browser.new_context(ignore_https_errors=True, viewport=viewport, locale="en-GB", timezone_id="Europe/Madrid")


def sign_in(browser: Browser, server_url: str, upn: str, *, phone: bool = False) -> Page:
    """A new browser context signed in to the Studio through the login page (keyboard only on a phone)."""
    page = new_context(browser, phone=phone).new_page()
    page.goto(f"{server_url}/studio/workspaces")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(PASSWORD)
    if phone:
        page.keyboard.press("Enter")
    else:
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    return page


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
