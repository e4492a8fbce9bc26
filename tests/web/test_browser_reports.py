"""The Reports area in a real browser, on the report tests' known term: every report page and
print view axe-checked and screenshotted, the briefing's charts drawn (their styles allowed
by the page's CSP hashes, so a blocked style would fail the test as a console error)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from gateway.users import Role
from tests.gateway.reports.conftest import build
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv
from tests.web.test_reports import BUILT_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def _open_report(page: Page, name: str, heading: str) -> None:
    page.locator("#navigation").get_by_role("link", name="Reports").click()
    _heading(page, "Reports")
    check_page(page, "reports")
    page.locator("#reports").get_by_role("link", name=name).click()
    _heading(page, heading)


def _print_view(page: Page, heading: str, name: str) -> None:
    page.locator("#download-print").click()
    _heading(page, heading)
    check_page(page, name)
    page.go_back()
    check_page(page, f"{name}-back")


def _chart_is_styled(page: Page, key: str) -> None:
    """The chart is on screen with its own style applied: pygal's background is white only
    when the <style> inside the SVG ran (unstyled, an SVG rect is filled black)."""
    chart = page.locator(f"#chart-{key}")
    expect(chart).to_be_visible()
    fill = chart.locator(".graph > .background").evaluate("el => getComputedStyle(el).fill")
    assert fill == "rgb(255, 255, 255)", f"chart {key} is unstyled: {fill}"


def test_every_report_page_and_print_view(web: WebEnv, page: Page) -> None:
    ids = build(web.settings, web.engine)
    web.add_user("mary", Role.MANAGER)

    sign_in(page, "olivia", password=BUILT_PASSWORD)
    page.locator("#navigation").get_by_role("link", name="Reports").click()
    _heading(page, "Reports")
    expect(page.locator("#report-briefing")).to_contain_text("Ask a manager")
    check_page(page, "reports-for-an-officer")

    page.locator("#reports").get_by_role("link", name="Weekly caseload").click()
    _heading(page, "Weekly caseload")
    expect(page.locator(f"#case-{ids['C']} [data-marker='changed']")).to_be_visible()
    check_page(page, "caseload")
    page.get_by_label("Allocated to").select_option(label="Oscar Officer")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#caseload-count")).to_contain_text("1 open case,")
    check_page(page, "caseload-oscar")
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    assert re.fullmatch(r"caseload-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    _print_view(page, "Weekly caseload", "caseload-print")
    page.goto("/reports/caseload?status=closed&officer=nobody")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select an open status")
    check_page(page, "caseload-bad-filters", status=400)
    expect_errors_described(page)

    _open_report(page, "Vulnerable pupils", "Vulnerable pupils")
    expect(page.locator("#vulnerable")).to_contain_text("Elective Home Education team")
    check_page(page, "vulnerable")
    _print_view(page, "Vulnerable pupils: weekly inclusion meeting", "vulnerable-print")

    _open_report(page, "VEMT list", "VEMT list")
    expect(page.locator(f"#case-{ids['B']} [data-history]")).to_contain_text(
        "Possible exploitation"
    )
    check_page(page, "vemt")
    _print_view(page, "VEMT panel: long-term children missing education", "vemt-print")

    page.get_by_role("button", name="Sign out").click()
    check_page(page, "signed-out")
    sign_in(page, "mary")
    _open_report(page, "Termly briefing", "Termly briefing")
    check_page(page, "briefing-this-term")
    page.get_by_label("Term", exact=True).select_option("2026-autumn")
    page.get_by_role("button", name="Show the term").click()
    expect(page.locator("#period")).to_contain_text("Autumn term 2026")
    for key in ("referrals-source", "referrals-reason", "weekly", "time-to-locate",
                "time-to-place", "outcomes", "moves", "responses"):  # fmt: skip
        _chart_is_styled(page, key)
    check_page(page, "briefing")
    with page.expect_download() as download:
        page.locator("#download-pdf").click()
    assert download.value.suggested_filename == "briefing-2026-autumn.pdf"
    page.locator("#download-print").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Children Missing Education: termly briefing"
    )
    _chart_is_styled(page, "weekly")
    check_page(page, "briefing-print")
    page.goto("/reports/briefing?term=2099-autumn")
    expect(page.locator(".govuk-error-summary")).to_contain_text("has not started yet")
    check_page(page, "briefing-future-term", status=400)
    expect_errors_described(page)

    _open_report(page, "DfE return", "DfE return")
    check_page(page, "dfe-this-term")
    page.get_by_label("Term", exact=True).select_option("2026-autumn")
    page.get_by_role("button", name="Show the term").click()
    expect(page.locator("#counts-total")).to_contain_text("All children")
    expect(page.locator("#column-census_date")).to_contain_text("census counts are taken")
    check_page(page, "dfe")
    _print_view(page, "DfE return: children missing education, Autumn term 2026", "dfe-print")
