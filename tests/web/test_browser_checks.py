"""The browser-test checks catch what they promise to: axe findings, console errors, failed
requests, unexpected statuses, pages never checked, and the CSP stays in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.browser import check_page, expect, sign_in, watch_of
from tests.web.conftest import WebEnv, totp_now

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_an_axe_violation_fails_with_the_rule_its_help_and_where(page: Page) -> None:
    page.goto("/sign-in")
    page.evaluate(
        """() => {
            const img = document.createElement('img');
            img.id = 'no-alt';
            img.src = '/static/govuk/assets/images/govuk-crest.svg';
            document.querySelector('main').append(img);
        }"""
    )
    with pytest.raises(AssertionError) as failed:
        check_page(page)
    message = str(failed.value)
    assert "axe-core: 1 serious or critical accessibility violation(s)" in message
    assert "image-alt (critical): Images must have alternative text" in message
    assert "at #no-alt:" in message
    assert "screenshot: " in message


def test_console_errors_and_failed_requests_fail_the_page(page: Page) -> None:
    page.goto("/sign-in")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("() => console.error('synthetic script failure')")
    with page.expect_response(lambda r: r.url.endswith("/static/no-such-file.css")):
        page.evaluate("() => fetch('/static/no-such-file.css')")
    with pytest.raises(AssertionError) as failed:
        check_page(page)
    message = str(failed.value)
    assert "console error: synthetic script failure" in message
    assert "HTTP 404 for http://127.0.0.1:" in message
    watch_of(page).forget()


def test_an_error_status_must_be_expected(page: Page) -> None:
    page.goto("/no-such-page")
    with pytest.raises(AssertionError, match="answered HTTP 404; pass status=404"):
        check_page(page)
    watch_of(page).forget()
    page.goto("/no-such-page")
    check_page(page, status=404)  # the 404 and Chromium's console line about it are expected


def test_a_page_visited_but_not_checked_is_reported(page: Page) -> None:
    page.goto("/sign-in")
    page.goto("/refer")
    check_page(page)
    watch = watch_of(page)
    assert [u.rsplit("/", 1)[1] for u in watch.unchecked()] == ["sign-in"]
    watch.forget()


def test_check_page_waits_for_the_page_a_click_opens(page: Page) -> None:
    page.goto("/refer")
    check_page(page)
    page.get_by_role("button", name="Send referral").click(no_wait_after=True)
    check_page(page, status=400)  # no expect() first: check_page itself waits
    expect(page.locator(".govuk-error-summary")).to_be_visible()


def test_the_csp_stays_in_force(page: Page) -> None:
    page.goto("/sign-in")
    check_page(page)
    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(content="window.inlineRan = true")
    assert page.evaluate("() => window.inlineRan") is None
    watch_of(page).forget()  # the CSP's console error was the point


def test_the_sign_in_helper_takes_a_code(web: WebEnv, page: Page) -> None:
    secret = web.add_user("tom", totp=True)
    assert secret
    sign_in(page, "tom", code=totp_now(secret))
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Tom Tester (officer)")


_REFUSED = "Page.screenshot: Protocol error (Page.captureScreenshot): Unable to capture screenshot"


def test_a_refused_full_page_capture_is_tried_again_then_taken_of_the_viewport(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.goto("/sign-in")
    real, asked = page.screenshot, []

    def refusing(**kwargs: object) -> bytes:
        asked.append(kwargs["full_page"])
        if kwargs["full_page"]:
            raise RuntimeError(_REFUSED)  # what Chromium answers now and then under load
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(page, "screenshot", refusing)
    shot = check_page(page)
    assert asked == [True, True, False]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_any_other_capture_error_fails_the_check(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.goto("/sign-in")

    def broken(**kwargs: object) -> bytes:
        raise RuntimeError("Page.screenshot: Target page, context or browser has been closed")

    monkeypatch.setattr(page, "screenshot", broken)
    with pytest.raises(RuntimeError, match="has been closed"):
        check_page(page)
