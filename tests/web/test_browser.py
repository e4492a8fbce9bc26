"""A real headless Chromium signs in and opens a case page on a real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, BrowserUnavailable
from tests.web.conftest import PASSWORD, WebEnv
from web.server import WebServer


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


ASSETS = Path(__file__).resolve().parents[2] / "web" / "static" / "govuk" / "app.css"


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not ASSETS.exists() and not os.environ.get("CI"):
        pytest.skip("GOV.UK Frontend assets not built: run scripts/assets.sh")
    try:
        b = Browser()
    except BrowserUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"BROWSER UNAVAILABLE, browser test skipped: {exc}")
    try:
        yield b
    finally:
        b.quit()


def test_officer_signs_in_and_opens_a_case(web: WebEnv, browser: Browser, tmp_path: Path) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Testwell")
    server = WebServer(web.app, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        browser.get(f"{base}/cases/{case_id}")
        assert browser.current_url == f"{base}/sign-in?next=/cases/{case_id}"
        assert browser.title.startswith("Sign in")
        browser.type("#username", "olivia")
        browser.type("#password", PASSWORD)
        browser.click("#sign-in")
        browser.wait_for("#child")
        assert browser.current_url == f"{base}/cases/{case_id}"
        assert browser.text("h1") == "Amelia Testwell"
        assert browser.text("#case-status") == "Logged"
        # The stylesheet and the module script both loaded under the CSP.
        assert browser.script(
            "return getComputedStyle(document.querySelector('.govuk-tag')).textTransform"
        ) in ("none", "uppercase", "capitalize")
        assert (
            browser.script(
                "return getComputedStyle(document.querySelector('.govuk-header')).backgroundColor"
            )
            == "rgb(11, 12, 12)"
        )
        browser.wait_for("body.js-enabled")
        shot = browser.screenshot(tmp_path / "case.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        keep = os.environ.get("CME_TEST_SCREENSHOTS")
        if keep:
            shutil.copy(shot, Path(keep) / "case.png")
        browser.click("#move-case")
        browser.wait_for("#status-locating")
        browser.click("#status-locating")
        browser.click("button.govuk-button[type=submit]:not(.govuk-button--secondary)")
        browser.wait_for(".govuk-notification-banner--success")
        assert browser.text("#case-status") == "Locating child and family"
    finally:
        server.stop()
