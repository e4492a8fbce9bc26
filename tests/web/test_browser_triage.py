"""Triage in a real browser: an emailed prose referral arrives by the real intake, the officer
opens it from /triage, corrects the pre-filled form by keyboard and opens its case; a second
is marked not CME by keyboard alone. Every page is axe-checked and screenshotted."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel
from gateway.models.referral import Referral
from tests.fixtures import mail
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Page

MAISIE = (
    "Hello, there's a girl called Maisie at 12 Coast Road, Redcar TS10 1AB, about 11, never "
    "at school. Please don't say it was me.\n"
)
SAM = "There's a boy called Sam, about 9, never at school. He has bruises on his arms.\n"
#: The open form's boxes in the order Tab reaches them (a radio group is one stop).
OPEN_TAB_ORDER = [
    "surname", "dob-day", "dob-month", "dob-year", "sex", "upn", "address_line1", "town",
    "postcode", "school", "reason", "urgency", "open-case-button",
]  # fmt: skip


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _emailed(web: WebEnv, body: str, n: int) -> int:
    """A neighbour's email, stored as the SMTP listener stores it and dispatched as the job
    does; returns the referral it became."""
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage()
    msg["From"] = "Nora Neighbour <nora@example.org>"
    msg["To"] = mail.INBOX
    msg["Subject"] = "A child who is not at school"
    msg["Message-ID"] = f"<browser-triage-{n}@example.org>"
    msg["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(
            msg.as_bytes(policy=SMTP), Arrival(IntakeChannel.SMTP, mail_from="nora@example.org")
        )
    finally:
        store.close()
    with web.session() as s:
        result = dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
        assert result.outcome.value == "triage"
        return s.execute(select(Referral.id).where(Referral.raw_id == stored.raw_id)).scalar_one()


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def _focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def test_an_emailed_prose_referral_is_triaged_into_a_case(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    maisie = _emailed(web, MAISIE, 1)
    sam = _emailed(web, SAM, 2)
    sign_in(page, "olivia")

    page.get_by_role("link", name=re.compile(r"^Triage \(2")).click()
    _heading(page, "Referrals awaiting triage")
    check_page(page)
    rows = page.locator("#referrals tbody tr")
    expect(rows.first).to_contain_text("Safeguarding concern")  # Sam: first, and marked
    expect(rows.nth(1)).to_contain_text("Maisie")

    page.get_by_role("link", name=f"Referral {maisie}", exact=True).click()
    _heading(page, "Maisie")
    check_page(page, "triage-maisie")
    expect(page.locator("#source-text")).to_contain_text("Please don't say it was me.")
    expect(page.locator("#anonymous")).to_contain_text("asked not to be named")
    expect(page.locator("#draft-forename")).to_contain_text("From the text: 'Hello, there's a girl")
    expect(page.get_by_label("Child's first name")).to_have_value("Maisie")
    expect(page.get_by_label("Postcode")).to_have_value("TS10 1AB")

    # The form by keyboard alone: each box is reached by Tab, in the order it is read.
    page.get_by_label("Child's first name").focus()
    reached = []
    for _ in OPEN_TAB_ORDER:
        page.keyboard.press("Tab")
        reached.append(_focused(page))
    assert reached == OPEN_TAB_ORDER
    page.keyboard.press("Enter")  # on "Open a new case", with no surname yet
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the child's last name")
    check_page(page, "open-without-surname", status=400)
    expect_errors_described(page)
    page.locator(".govuk-error-summary__list a").first.click()
    expect(page.get_by_label("Child's last name")).to_be_focused()
    page.keyboard.type("Rowe")
    for _ in range(OPEN_TAB_ORDER.index("open-case-button")):
        page.keyboard.press("Tab")
    assert _focused(page) == "open-case-button"
    page.keyboard.press("Enter")

    _heading(page, "Maisie Rowe")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"opened from referral {maisie}"
    )
    check_page(page, "case-opened")
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))

    # The second referral: marked not CME with the keyboard (radios by arrow keys).
    page.get_by_role("link", name=re.compile(r"^Triage \(1")).click()
    _heading(page, "Referrals awaiting triage")
    check_page(page, "triage-one-left")
    page.get_by_role("link", name=f"Referral {sam}", exact=True).click()
    _heading(page, "Sam")
    check_page(page, "triage-sam")
    expect(page.locator("#draft-safeguarding")).to_contain_text("bruises")
    page.get_by_label("On a school roll").focus()
    page.keyboard.press("ArrowDown")  # moves to, and selects, the second reason
    expect(page.get_by_label("Electively home educated")).to_be_checked()
    page.keyboard.press("Tab")
    assert _focused(page) == "dismiss_note"
    page.keyboard.type("Home educated; the EHE team knows the family.")
    page.keyboard.press("Tab")
    assert _focused(page) == "dismiss-button"
    page.keyboard.press("Enter")
    _heading(page, "Referrals awaiting triage")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "marked not CME: Electively home educated"
    )
    expect(page.locator("#triage-count")).to_have_text("No referrals are awaiting triage.")
    check_page(page, "triage-empty")

    page.goto(f"/triage/{sam}")
    expect(page.locator("#decision")).to_contain_text("Not CME")
    expect(page.locator("#decision")).to_contain_text("Decided by olivia")
    check_page(page, "triage-decided")


def test_a_referral_about_a_child_we_know_is_added_to_the_case(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Oliver", "Testbrook", dob="2014-06-02", postcode="TS10 2AB")
    ollie = _emailed(
        web,
        "Child: Ollie Testbrook\nDOB: 02/06/2014\nAddress: 1 Synthetic Street, Redcar TS10 2AB\n"
        "Reason: Not in school since half term\n",
        3,
    )
    sign_in(page, "olivia")
    page.goto(f"/triage/{ollie}")
    _heading(page, "Ollie Testbrook")
    check_page(page, "triage-ollie")
    card = page.locator("#candidates .govuk-summary-card").first
    expect(card).to_contain_text(f"Case CME-{case_id}")
    expect(card.get_by_role("link", name=re.compile("Review the match"))).to_have_attribute(
        "href", re.compile(r"^/matches/\d+$")
    )
    expect(page.locator("#draft-dob")).to_contain_text("From the line labelled 'DOB'")

    # "Another case" with its number: a number we do not have is refused.
    page.get_by_label("Another case", exact=True).check()
    page.get_by_label("Case number (for another case)").fill("CME-9999")
    page.get_by_role("button", name="Add to this case").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("There is no case CME-9999")
    check_page(page, "attach-unknown-case", status=400)
    expect_errors_described(page)
    expect(page.get_by_label("Another case", exact=True)).to_be_checked()  # the answer is kept

    page.get_by_label(re.compile(rf"^Case CME-{case_id}:")).check()
    page.get_by_label("Case number (for another case)").fill("")
    page.get_by_role("button", name="Add to this case").click()
    _heading(page, "Oliver Testbrook")
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Referral {ollie} added to case CME-{case_id}."
    )
    check_page(page, "attached")
