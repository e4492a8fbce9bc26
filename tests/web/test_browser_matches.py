"""Match review in a real browser: a second referral under a short name confirmed by keyboard
alone, two cases confirmed as one and merged, and a lost-pupil record confirmed for a case."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from gateway import jobs
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.matching import candidates
from gateway.models.intake import IntakeChannel, Outcome
from gateway.models.referral import Referral
from lost_pupil.tokens import issue_token
from tests.fixtures import ctf_gen, mail
from tests.support.browser import check_page, expect, sign_in
from tests.web.conftest import WebEnv

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _emailed(web: WebEnv, sender: str, body: str) -> int:
    """A referral emailed to the inbox, stored and dispatched as intake does; it waits in
    triage (it may be a child we know). Returns the referral's id."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.INBOX
    msg["Subject"] = "Child missing education"
    msg["Message-ID"] = "<ollie-1@health.example>"
    msg["Date"] = "Fri, 20 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(msg.as_bytes(policy=SMTP), Arrival(IntakeChannel.SMTP, sender))
    finally:
        store.close()
    with web.session() as s:
        result = dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
        assert result.outcome is Outcome.TRIAGE, result
        found = s.execute(select(Referral.id).where(Referral.raw_id == stored.raw_id))
        return int(found.scalar_one())


def _tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    """Press Tab until the target has the focus (as a keyboard user moves through a page)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never took the focus in {limit} presses of Tab")


def _decide_by_keyboard(page: Page) -> None:
    """Skip to the decision, choose "Yes, the same child" and save: Tab, Enter, Space only."""
    _tab_to(page, page.locator("#skip-to-decision"))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#verdict")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_label("Yes, the same child")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save decision")).to_be_focused()
    page.keyboard.press("Enter")


def _review(page: Page, query: str, target: str) -> None:
    """From the service navigation to the review of one candidate."""
    page.get_by_role("link", name=re.compile(r"^Matches \(\d+\)$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Matches to review")
    check_page(page, "matches")
    page.get_by_role("link", name=f"Review {query} and {target}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Is {query} the same child as {target}?"
    )
    expect(page.locator("svg#waterfall")).to_be_visible()
    check_page(page, "review")


def test_a_second_referral_under_a_short_name_is_confirmed_by_keyboard(
    web: WebEnv, page: Page
) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Oliver", "Testwell", sex="M")
    referral_id = _emailed(
        web,
        "gp@health.example",
        "Child: Ollie Testwell\nDOB: 03/04/2015\nSex: Male\n"
        "Address: 1 Synthetic Street, Redcar, TS10 1AA\n"
        "Reason: Not seen at school since half term.\nReferrer: Gail Practice\n",
    )

    sign_in(page, "olivia")
    expect(page.locator("#nav-matches")).to_have_text("Matches (1)")
    _review(page, f"Referral {referral_id}", f"Case CME-{case_id}")
    comparison = page.locator("#comparison")
    expect(comparison.locator("tr[data-field='forename']")).to_contain_text("Ollie")
    expect(comparison.locator("tr[data-field='forename']")).to_contain_text("Oliver")

    _decide_by_keyboard(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"The referral was added to case CME-{case_id}."
    )
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    check_page(page, "case-with-both-referrals")
    referrals = page.locator("#referrals")
    expect(referrals).to_contain_text("head@school.example")  # the first referral's
    expect(referrals).to_contain_text("gp@health.example")  # the second, under "Ollie"
    expect(page.locator("#nav-matches")).to_have_text("Matches (0)")


def test_two_cases_confirmed_as_one_are_merged(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    older = web.add_case("Oliver", "Testwell", sex="M")
    newer = web.add_case("Ollie", "Testwell", sex="M", referrer_email="gp@health.example")
    with web.session() as s:
        candidates.refresh(s, web.settings, f"case:{newer}")
        s.commit()

    sign_in(page, "olivia")
    _review(page, f"Case CME-{newer}", f"Case CME-{older}")
    _decide_by_keyboard(page)
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"The duplicate was merged into case CME-{older}."
    )
    expect(page).to_have_url(re.compile(rf"/cases/{older}$"))
    check_page(page, "merged-case")
    referrals = page.locator("#referrals")
    expect(referrals).to_contain_text("head@school.example")
    expect(referrals).to_contain_text("gp@health.example")

    page.goto(f"/cases/{newer}")
    expect(page.locator("#case-outcome")).to_contain_text("Duplicate of another case")
    check_page(page, "duplicate-closed")


def test_a_lost_pupil_confirmed_for_a_case_gives_it_the_upn_and_last_school(
    web: WebEnv, page: Page
) -> None:
    web.add_user("olivia")
    case_id = web.add_case("Amelia", "Featherstone", dob="2014-03-07", sex="F")
    pupil = ctf_gen.sample_pupil()
    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    upload = web.app.test_client().post(
        "/lost-pupils/upload",
        data=ctf_gen.ctf_bytes([pupil]),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    assert upload.status_code == 201, upload.get_json()
    # The stored file queued the job that finds the cases its pupils may be: run it.
    jobs.drain(web.engine, web.settings)
    with web.session() as s:
        found = candidates.candidates_for(s, [f"case:{case_id}"])[f"case:{case_id}"]
    target = next(c.target_ref for c in found if c.target_kind == "lost_pupil")
    pupil_id = target.partition(":")[2]

    sign_in(page, "olivia")
    _review(page, f"Case CME-{case_id}", f"Lost pupil {pupil_id}")
    page.get_by_role("link", name=f"Lost pupil {pupil_id}").click()
    expect(page.locator("#record")).to_contain_text(str(pupil.upn))
    check_page(page, "lost-pupil-record")
    page.go_back()
    check_page(page, "review-again")

    page.get_by_label("Yes, the same child").check()
    page.get_by_role("button", name="Save decision").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Case CME-{case_id} now has the UPN and last school from the lost-pupil record."
    )
    check_page(page, "case-with-upn")
    expect(page.locator("#child")).to_contain_text(str(pupil.upn))
    expect(page.locator("main")).to_contain_text("8073000")
