"""A real headless Chromium signs in and opens a case page on a real server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import check_page, expect
from tests.web.conftest import PASSWORD, WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.support.browser import LiveServer


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


def test_officer_signs_in_and_opens_a_case(
    web: WebEnv, live_server: LiveServer, page: Page
) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Testwell")

    page.goto(f"/cases/{case_id}")
    expect(page).to_have_url(f"{live_server.url}/sign-in?next=/cases/{case_id}")
    expect(page).to_have_title(re.compile(r"^Sign in – CME Gateway"))
    check_page(page)
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#sign-in").click()

    expect(page).to_have_url(f"{live_server.url}/cases/{case_id}")
    expect(page.locator("h1")).to_have_text("Amelia Testwell")
    expect(page.locator("#case-status")).to_have_text("Logged")
    # The stylesheet and the module script both loaded under the CSP (which stays on).
    expect(page.locator(".govuk-header")).to_have_css("background-color", "rgb(11, 12, 12)")
    expect(page.locator("body")).to_have_class(re.compile(r"\bjs-enabled\b"))
    shot = check_page(page)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The icon the base template links is served (headless Chromium does not fetch it).
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(icon).ok

    page.locator("#move-case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Move the case to")
    check_page(page)
    page.get_by_label("Locating the child and family").check()
    page.locator("button.govuk-button[type=submit]:not(.govuk-button--secondary)").click()
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
    expect(page.locator("#case-status")).to_have_text("Locating the child and family")
    check_page(page)
