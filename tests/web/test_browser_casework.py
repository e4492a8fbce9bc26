"""The officer's work on one case in a real browser, from "What to do next": a phone call
with the parents (by keyboard alone, through an error), a home visit requested and recorded,
an Early Help Assessment, Admissions through Fair Access, social care, enquiries complete.
Every page is axe-checked and screenshotted."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from gateway.db import utcnow
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

TODAY = utcnow().date()
SOON = TODAY + timedelta(days=10)
#: The enquiry form's boxes in the order Tab reaches them (the radios are one stop).
ENQUIRY_TAB_ORDER = [
    "method", "contact_on-day", "contact_on-month", "contact_on-year", "time",
    "outcome", "contact", "save",
]  # fmt: skip


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def _focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def _fill_date(page: Page, prefix: str, day: object) -> None:
    for part in ("day", "month", "year"):
        page.locator(f"#{prefix}-{part}").fill(str(getattr(day, part)))


def _banner(page: Page, text: str) -> None:
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(text)


def _action(page: Page, link: Locator, heading: str) -> None:
    """From the case page, follow a "What to do next" link by keyboard (focus, Enter)."""
    link.focus()
    page.keyboard.press("Enter")
    _heading(page, heading)
    check_page(page)


def _save(page: Page) -> None:
    page.locator("#save").click()


def test_an_officers_work_on_a_case_through_the_steps(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    case_id = web.add_case(
        carers=[{"name": "Carol Testwell", "relationship": "mother", "phone": "01642 000000"}]
    )
    sign_in(page, "olivia")
    page.goto(f"/cases/{case_id}")
    _heading(page, "Amelia Testwell")
    check_page(page, "case")
    expect(page.locator("#next-step-3 h3")).to_have_text("3. Check educational status")

    # Step 4: a phone call with the parents, by keyboard alone.
    _action(page, page.locator("#action-parent-call"), "Record an enquiry")
    expect(page.get_by_label("Who was the enquiry with?")).to_have_value("parent_carer")
    expect(page.get_by_label("Phone", exact=True)).to_be_checked()
    page.get_by_label("Who was the enquiry with?").focus()
    reached = []
    for box in ENQUIRY_TAB_ORDER:
        page.keyboard.press("Tab")
        reached.append(_focused(page))
        if box.startswith("contact_on-"):
            page.keyboard.type(str(getattr(TODAY, box.split("-")[1])))
    assert reached == ENQUIRY_TAB_ORDER
    page.keyboard.press("Enter")  # on "Record the enquiry", with no outcome yet
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter what the enquiry found")
    check_page(page, "enquiry-without-outcome", status=400)
    expect_errors_described(page)
    expect(page.locator("#contact_on-day")).to_have_value(str(TODAY.day))
    page.locator(".govuk-error-summary__list a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    page.keyboard.type("Mother answered: the family is staying with her sister")
    page.keyboard.press("Tab")
    page.keyboard.type("Carol Testwell")
    page.keyboard.press("Tab")
    assert _focused(page) == "save"
    page.keyboard.press("Enter")
    _banner(page, "Phone call with the parents recorded.")
    check_page(page, "case-after-phone-call")
    expect(page.locator("#enquiries")).to_contain_text("Parent or carer (Carol Testwell)")

    # Step 4: a home visit asked of Choice Advice, then its outcome.
    _action(page, page.locator("#action-home-visit"), "Request a home visit")
    page.get_by_label("Choice Advice").check()
    _fill_date(page, "visit_by", SOON)
    _save(page)
    _banner(page, "Home visit requested from Choice Advice")
    check_page(page, "case-visit-requested")
    expect(page.locator("#next-step-4")).to_contain_text("Home visit requested from Choice Advice")

    _action(page, page.locator("#action-home-visit-outcome"), "Record a home visit")
    expect(page.get_by_label("Choice Advice")).to_be_checked()
    page.get_by_label("Family seen, child not seen").check()
    _fill_date(page, "visited_on", TODAY)
    page.get_by_label("Note (optional)").fill("Aunt says the child is at the address most days")
    _save(page)
    _banner(page, "Home visit recorded: Family seen, child not seen.")
    check_page(page, "case-visit-recorded")

    # Step 5: an Early Help Assessment.
    _action(page, page.locator("#action-early-help"), "Record an assessment")
    expect(page.get_by_label("Early Help Assessment")).to_be_checked()
    page.get_by_label("Done", exact=True).check()
    _fill_date(page, "assessed_on", TODAY)
    page.get_by_label("Summary").fill("Needs a school place near the aunt's address")
    _save(page)
    _banner(page, "Early Help Assessment recorded: Done.")
    check_page(page, "case-assessed")

    # Step 6: School Admissions through the In-Year Fair Access Protocol, printed.
    _action(page, page.locator("#action-admissions"), "Refer to School Admissions")
    page.get_by_label("In-Year Fair Access Protocol", exact=True).check()
    _save(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the date of the Fair Access panel"
    )
    check_page(page, "admissions-without-panel", status=400)
    expect_errors_described(page)
    _fill_date(page, "panel_date", SOON)
    page.get_by_label("School named (optional)").fill("Coatham Academy")
    _save(page)
    _banner(page, "Referred to School Admissions: In-Year Fair Access Protocol.")
    check_page(page, "case-admissions")
    work = page.locator("#work")
    expect(work).to_contain_text("School named: Coatham Academy")
    print_link = page.locator("#onward a", has_text="Print")
    expect(print_link).to_have_attribute("href", re.compile(rf"^/cases/{case_id}/onward/\d+$"))
    print_link.click()
    expect(page.locator("body")).to_contain_text("In-Year Fair Access Protocol")
    check_page(page, "printed-admissions-referral")
    page.go_back()
    check_page(page, "case-again")

    # Step 7: escalated to Children's Social Care, with a reason and a review date.
    _action(page, page.locator("#action-escalate"), "Escalate the case")
    avenues = page.locator("#police-avenues")
    expect(avenues.locator("[data-agency='parent_carer']")).to_contain_text("Recorded")
    expect(avenues.locator("[data-agency='school']")).to_contain_text("Not recorded yet")
    page.get_by_label("Referred to Children's Social Care / MASH").check()
    page.get_by_label("Why is the case being escalated?").fill("Siblings known to social care")
    _fill_date(page, "review_on", SOON)
    _save(page)
    _banner(page, "Referred to Children's Social Care / MASH: review by")
    check_page(page, "case-escalated")
    expect(page.locator("#case-status")).to_contain_text(
        "Referred to Children's Social Care / MASH"
    )
    expect(page.locator("#next-step-7")).to_contain_text("Reason: Siblings known to social care")

    # An onward referral: what leaves, to whom, on what basis, is shown before it is sent.
    _action(page, page.locator("#action-onward"), "Refer the child to another team")
    page.get_by_label("Choice Advice").check()
    page.get_by_label("Why are you referring the child?").fill("Family needs advice on schools")
    page.locator("#continue").click()
    _heading(page, "Check the referral before you send it")
    check_page(page, "onward-check")
    expect(page.locator("#referral-body")).to_contain_text("Amelia Testwell")
    expect(page.locator("#disclosed")).to_contain_text("Date of birth")
    page.locator("#send").click()
    _banner(page, "Referral to Choice Advice recorded: print it")
    check_page(page, "case-onward")

    # Enquiries complete: the confirmation says who is acknowledged, then it is done.
    _action(page, page.locator("#action-enquiries-complete"), "Mark initial enquiries complete")
    expect(page.locator("#acknowledged")).to_contain_text("By email to head@school.example")
    page.locator("#confirm").click()
    _banner(page, "Initial enquiries marked complete.")
    check_page(page, "case-enquiries-complete")
    expect(page.locator("#next-step-finish")).to_contain_text("Initial enquiries marked complete")
    expect(page.locator("#action-enquiries-complete")).to_have_count(0)
    for words in (
        "Home visit requested: Asked Choice Advice",
        "Home visit: Family seen, child not seen",
        "Early Help Assessment: Done",
        "Referral to School Admissions: In-Year Fair Access Protocol",
        "Escalation: Referred to Children's Social Care / MASH",
    ):
        expect(work).to_contain_text(words)


def test_a_status_check_then_closing_and_reopening(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    case_id = web.add_case()
    sign_in(page, "olivia")
    page.goto(f"/cases/{case_id}")
    check_page(page, "case")

    _action(page, page.locator("#action-status-check"), "Record a status check")
    page.get_by_label("On a school roll", exact=True).check()
    page.get_by_label("There are concerns about the child's attendance").check()
    _fill_date(page, "checked_on", TODAY)
    _save(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the school the child is on roll at"
    )
    check_page(page, "status-check-without-school", status=400)
    expect_errors_described(page)
    page.get_by_label("School", exact=True).fill("Kirkleatham Primary")
    _save(page)
    _banner(page, "Status check recorded: On a school roll at Kirkleatham Primary.")
    check_page(page, "case-on-roll")
    expect(page.locator("#on-roll")).to_contain_text("On roll at Kirkleatham Primary")
    expect(page.locator("#onward")).to_contain_text("Attendance & Welfare Service")

    page.locator("#close-case").click()
    _heading(page, "Why is the case closing?")
    check_page(page)
    page.get_by_label("Not CME on investigation").check()
    page.get_by_role("button", name="Close case").click()
    expect(page.locator("#case-outcome")).to_contain_text("Not CME on investigation")
    check_page(page, "closed")
    expect(page.locator("#what-to-do-next")).to_have_count(0)

    page.locator("#reopen-case").click()
    _heading(page, "Reopen the case")
    check_page(page)
    _save(page)
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter why the case is being reopened"
    )
    check_page(page, "reopen-without-reason", status=400)
    expect_errors_described(page)
    page.get_by_label("Why is the case being reopened?").fill("The school says she never started")
    _save(page)
    _banner(page, f"Case CME-{case_id} reopened")
    check_page(page, "reopened")
    expect(page.locator("#what-to-do-next")).to_be_visible()
