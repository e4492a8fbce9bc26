"""The officer's day from the dashboard in a real browser: its counts, allocation, monitoring."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from gateway.triage.service import receive
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv
from tests.web.test_monitoring import monitored

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def _dashboard(page: Page) -> None:
    page.get_by_role("link", name="Dashboard", exact=True).click()
    _heading(page, "Dashboard")
    check_page(page)


def test_dashboard_counts_allocation_and_monitoring(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Testwell", urgency="safeguarding")
    moved = monitored(web, "Ben")
    with web.session() as s:
        receive(s, web.settings, {"forename": "Dee", "reason": "Not seen", "channel": "phone",
                                  "urgency": "urgent"}, actor="test")  # fmt: skip
        s.commit()

    sign_in(page, "olivia")
    expect(page).to_have_url(re.compile(r"/$"))
    _heading(page, "Dashboard")
    urgent = page.locator("#urgent")
    expect(urgent).to_contain_text("1 open case is urgent or a safeguarding concern")
    expect(urgent).to_contain_text("1 urgent referral is awaiting triage")
    expect(page.locator("#my-open")).to_have_text("0 open cases allocated to you")

    # Each count opens its list.
    urgent.get_by_role("link", name=re.compile("awaiting triage")).click()
    _heading(page, "Referrals awaiting triage")
    check_page(page, "from-urgent-triage")
    _dashboard(page)
    page.locator("#matches-to-review").get_by_role("link").click()
    _heading(page, "Matches to review")
    check_page(page, "from-matches-count")
    _dashboard(page)
    page.locator("#held-messages").get_by_role("link").click()
    _heading(page, "Quarantine")
    check_page(page, "from-held-count")
    _dashboard(page)
    page.locator("#monitored").get_by_role("link").click()
    _heading(page, "Monitoring")
    check_page(page, "from-monitored-count")
    _dashboard(page)

    # The unallocated case: give it to this officer from its page.
    page.locator("#team-unallocated").get_by_role("link").click()
    _heading(page, "Cases")
    check_page(page, "from-unallocated-count")
    page.get_by_role("link", name=f"CME-{case_id}", exact=True).click()
    _heading(page, "Amelia Testwell")
    expect(page.locator("#allocated-to")).to_contain_text("Not allocated")
    check_page(page)
    page.get_by_role("link", name="Change who the case is allocated to").click()
    _heading(page, "Who is the case allocated to?")
    check_page(page)
    expect(page.get_by_label("Not allocated")).to_be_checked()
    page.get_by_label("Olivia Tester").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        f"Case CME-{case_id} is now allocated to Olivia Tester."
    )
    expect(page.locator("#allocated-to")).to_contain_text("Olivia Tester")
    check_page(page, "allocated")
    _dashboard(page)
    expect(page.locator("#my-open")).to_have_text("1 open case allocated to you")
    expect(page.locator(f"#my-case-{case_id}")).to_contain_text("Safeguarding concern")
    page.locator(f"#my-case-{case_id}").get_by_role("link").click()
    _heading(page, "Amelia Testwell")
    check_page(page, "my-case")

    # The child who moved away: ask now, then stop monitoring with a reason.
    page.get_by_role("link", name="Monitoring", exact=True).click()
    _heading(page, "Monitoring")
    check_page(page)
    row = page.locator(f"#monitored-{moved}")
    expect(row).to_contain_text("Test LA 806 (806)")
    row.get_by_role("button", name=re.compile("Send a status request now")).click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "A status request about Ben Testmover will be sent to Test LA 806"
    )
    check_page(page, "requested")
    page.locator(f"#monitored-{moved}").get_by_role(
        "link", name=re.compile("Stop monitoring")
    ).click()
    _heading(page, "Stop monitoring Ben Testmover")
    check_page(page)
    page.get_by_role("button", name="Stop monitoring").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why monitoring stops")
    check_page(page, "stop-without-reason", status=400)
    expect_errors_described(page)
    page.get_by_label("Why does monitoring stop?").fill("The family moved on to Scotland")
    page.get_by_role("button", name="Stop monitoring").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Monitoring stopped for Ben Testmover. The case stays open."
    )
    expect(page.locator("#none-monitored")).to_be_visible()
    check_page(page, "stopped")
