"""Every console page in a real browser: each one axe-checked and screenshotted on the way."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pyotp
import pytest

from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel
from gateway.users import Role
from lost_pupil.tokens import issue_token
from tests.fixtures import ctf_gen, mail
from tests.support.browser import check_page, expect, expect_errors_described, sign_in
from tests.web.conftest import WebEnv, totp_now

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """What the browser sees does not depend on the engine (the view tests run on both)."""
    return sqlite_url


def _held_message(web: WebEnv) -> int:
    """A message held for its executable attachment, stored and dispatched as intake does."""
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(
            mail.with_attachment("setup.exe", b"MZ\x90\x00synthetic, not a program"),
            Arrival(IntakeChannel.SMTP, mail_from="office@school-805.example"),
        )
    finally:
        store.close()
    with web.session() as s:
        dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
    return stored.raw_id


def _lost_pupil(web: WebEnv) -> None:
    """A school uploads one CTF through its endpoint (the sample pupil is Amelia Featherstone)."""
    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    resp = web.app.test_client().post(
        "/lost-pupils/upload",
        data=ctf_gen.ctf_bytes([ctf_gen.sample_pupil()]),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    assert resp.status_code == 201, resp.get_json()


def _not_a_code_now(secret: str) -> str:
    """A code that is wrong for the steps the server accepts now and a minute either side."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    near = {totp.at(now + 30 * k) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def test_sign_in_mistakes_then_cases_move_and_close(web: WebEnv, page: Page) -> None:
    web.add_user("olivia")
    for n in range(26):  # one more than a page: the list paginates
        web.add_case("Amelia" if n == 0 else f"Child{n}", "Testwell")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    check_page(page)
    page.locator("#sign-in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your username")
    check_page(page, "sign-in-empty", status=400)
    expect_errors_described(page)
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill("not the password")
    page.locator("#sign-in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a correct username")
    check_page(page, "sign-in-wrong", status=401)
    expect_errors_described(page)
    sign_in(page, "olivia")
    _heading(page, "Dashboard")
    page.get_by_role("link", name="Cases", exact=True).click()
    _heading(page, "Cases")
    check_page(page)
    expect(page.locator("#case-count")).to_have_text("26 cases")
    page.get_by_role("link", name="Page 2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    check_page(page, "cases-page-2")
    page.get_by_label("Status").select_option(label="Logged")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#case-count")).to_have_text("26 cases with status Logged")
    check_page(page, "cases-logged")
    page.get_by_role("link", name="Page 1", exact=True).click()
    check_page(page, "cases-logged-page-1")
    page.get_by_role("link", name="CME-1", exact=True).click()
    _heading(page, "Amelia Testwell")
    check_page(page)

    page.get_by_role("button", name="Move case").click()
    _heading(page, "Move the case to")
    check_page(page)
    page.get_by_role("button", name="Move case").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "move-empty", status=400)
    expect_errors_described(page)
    page.get_by_label("Checking educational status").check()
    page.get_by_role("button", name="Move case").click()
    expect(page.locator("#case-status")).to_have_text("Checking educational status")
    check_page(page, "moved")

    page.get_by_role("button", name="Close case").click()
    _heading(page, "Why is the case closing?")
    check_page(page)
    page.get_by_label("On roll at a school in this LA").check()
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("2026")
    page.get_by_label("Other local authority's code").fill("80")
    page.get_by_role("button", name="Close case").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "close-errors", status=400)
    expect_errors_described(page)
    page.get_by_label("Elective home education notified").check()
    page.get_by_label("Day").fill("")
    page.get_by_label("Month").fill("")
    page.get_by_label("Year").fill("")
    page.get_by_label("Other local authority's code").fill("")
    page.get_by_role("button", name="Close case").click()
    expect(page.locator("#case-outcome")).to_contain_text("Elective home education")
    check_page(page, "closed")

    # The account page (web/account.py) is in the service navigation of every console page.
    page.get_by_role("link", name="Change password").click()
    _heading(page, "Change your password")
    check_page(page)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "change-password-empty", status=400)

    page.goto("/cases/9999")
    _heading(page, "Page not found")
    check_page(page, "case-not-found", status=404)
    page.goto("/no-such-page")
    _heading(page, "Page not found")
    check_page(page, "not-found", status=404)
    page.goto("/admin/users")
    _heading(page, "You do not have permission to see this page")
    check_page(page, "forbidden", status=403)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out.")
    check_page(page, "signed-out")


def test_totp_sign_in_quarantine_users_and_lost_pupils(web: WebEnv, page: Page) -> None:
    secret = web.add_user("maggie", Role.ADMIN, totp=True)
    assert secret
    raw_id = _held_message(web)
    _lost_pupil(web)

    page.goto("/sign-in")
    check_page(page)
    page.get_by_label("Username").fill("maggie")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.locator("#sign-in").click()
    _heading(page, "Enter your security code")
    check_page(page, "code")
    wrong = _not_a_code_now(secret)
    page.get_by_label("Enter your security code").fill(wrong)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a correct code")
    check_page(page, "code-wrong", status=401)
    expect_errors_described(page)
    # The server accepts the code of the step before and after too: 30 s at the very least.
    page.get_by_label("Enter your security code").fill(totp_now(secret))
    page.get_by_role("button", name="Continue").click()
    _heading(page, "Dashboard")
    check_page(page, "dashboard")
    page.get_by_role("link", name="Cases", exact=True).click()
    _heading(page, "Cases")
    expect(page.locator("#case-count")).to_have_text("0 cases")
    check_page(page, "cases-empty")

    page.get_by_role("link", name="Users").click()
    _heading(page, "Users")
    expect(page.locator("#users")).to_contain_text("Authenticator app")
    check_page(page)

    page.get_by_role("link", name="Quarantine").click()
    _heading(page, "Quarantine")
    check_page(page)
    page.get_by_role("link", name=f"Raw {raw_id}").click()
    expect(page.locator("#attachments")).to_contain_text("setup.exe")
    check_page(page, "held-message")
    page.get_by_role("button", name="Release").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "release-unconfirmed", status=400)
    expect_errors_described(page)
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    check_page(page, "retried")
    page.goto("/quarantine?all=1")
    expect(page.locator("#held")).to_be_visible()
    check_page(page, "quarantine-all")

    page.goto("/lost-pupils")
    _heading(page, "Search lost pupils")
    check_page(page)
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "lost-pupils-empty-search", status=400)
    expect_errors_described(page)
    page.get_by_label("Forename").fill("Amelia")
    page.get_by_label("Surname").fill("Fetherstone")
    page.get_by_label("Date of birth").fill("2014-07-03")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#candidates")).to_contain_text("Featherstone")
    check_page(page, "lost-pupils-results")
    page.locator("#candidates tbody tr").first.get_by_role("link").click()
    expect(page.locator("#record")).to_contain_text("R807300024001")
    check_page(page, "lost-pupil-record")


def test_public_referral_form_and_done_page(web: WebEnv, page: Page) -> None:
    page.goto("/refer")
    _heading(page, "Refer a child who may be missing education")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    check_page(page)
    page.get_by_label("First name").fill("Zara")
    page.get_by_label("Postcode").fill("nonsense")
    page.get_by_role("button", name=re.compile("Send")).click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check_page(page, "refer-errors", status=400)
    # The error summary links to the first field in error (GOV.UK Frontend moves focus).
    page.locator(".govuk-error-summary__list a").first.click()
    expect(page.get_by_label("Last name")).to_be_focused()

    page.get_by_label("Last name").fill("Inventedson")
    page.get_by_label("Day").fill("14")
    page.get_by_label("Month").fill("6")
    page.get_by_label("Year").fill("2014")
    page.get_by_label("Address (if you know it)").fill("22 Madeup Road")
    page.get_by_label("Town").fill("Redcar")
    page.get_by_label("Postcode").fill("TS10 1AB")
    page.get_by_label("Why do you think").fill("Not seen since half term; house looks empty.")
    page.get_by_label("Urgent", exact=True).check()
    page.get_by_label("Your name").fill("Nora Neighbour")
    page.get_by_label("Email address").fill("nora@example.org")
    page.get_by_role("button", name=re.compile("Send")).click()
    expect(page.locator("#reference")).to_have_text(re.compile(r"^WEB-[0-9A-F]{8}$"))
    check_page(page, "refer-done", status=201)


def _held(web: WebEnv, filename: str) -> int:
    """A message held for its executable attachment (the name keeps each one distinct)."""
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(
            mail.with_attachment(
                filename, b"MZ\x90\x00synthetic, not a program " + filename.encode()
            ),
            Arrival(IntakeChannel.SMTP, mail_from="office@school-805.example"),
        )
    finally:
        store.close()
    with web.session() as s:
        dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
    return stored.raw_id


def test_case_page_reply_fact_child_edit_and_quarantine_actions(web: WebEnv, page: Page) -> None:
    from tests.web.test_case_facts import UPN, later_referral
    from tests.web.test_case_replies import arrive, case_with_letter, hostile_reply

    web.add_user("olivia")
    case_id, letter_id = case_with_letter(web, urgency="safeguarding", anonymous=True)
    arrive(web, hostile_reply(letter_id))
    later_referral(web, case_id, forename="Ava", surname="Testperson", upn=UPN)
    discard_id = _held(web, "setup.exe")
    referral_id = _held(web, "tool.exe")

    sign_in(page, "olivia")
    page.goto("/cases")
    _heading(page, "Cases")
    check_page(page, "cases-with-a-reply")
    row = page.locator(f"#case-{case_id}")
    expect(row.locator("[data-marker='new-reply']")).to_have_text("New reply")
    expect(row.locator("[data-urgency]")).to_have_text("Safeguarding concern")
    row.get_by_role("link", name=f"CME-{case_id}", exact=True).click()
    _heading(page, "Ava Testperson")
    expect(page.locator("#timeline .govuk-tag")).to_have_text("New")
    expect(page.locator("#timeline pre")).to_contain_text("<script>alert('x')</script>")
    expect(page.locator("#anonymous-warning")).to_contain_text("asked not to be named")
    expect(page.locator("#case-urgency")).to_contain_text("Safeguarding concern")
    check_page(page, "case-with-reply")

    page.get_by_role("button", name=f"Accept UPN {UPN}").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("UPN added to the case")
    expect(page.locator("#child")).to_contain_text(UPN)
    expect(page.locator("#facts")).to_have_count(0)
    expect(page.locator("#timeline .govuk-tag")).to_have_count(0)
    check_page(page, "fact-accepted")

    page.get_by_role("link", name="Change year group").click()
    _heading(page, "Change the child's details")
    check_page(page, "child-form")
    page.get_by_label("First name").fill("")
    page.get_by_label("Unique pupil number (UPN)").fill("H807300024124")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the child's first name")
    check_page(page, "child-form-errors", status=400)
    expect_errors_described(page)
    page.locator(".govuk-error-summary__list a").first.click()
    expect(page.get_by_label("First name")).to_be_focused()
    page.get_by_label("First name").fill("Ava")
    page.get_by_label("Unique pupil number (UPN)").fill(UPN)
    page.get_by_label("Year group").select_option(label="Year 4")
    page.get_by_label("Female").check()
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Changed: Sex, Year group.")
    expect(page.locator("#child")).to_contain_text("Year 4")
    check_page(page, "child-changed")

    page.get_by_role("link", name="Quarantine").click()
    _heading(page, "Quarantine")
    check_page(page)
    page.get_by_role("link", name=f"Raw {discard_id}").click()
    expect(page.locator("#attachments")).to_contain_text("setup.exe")
    check_page(page, "held-to-discard")
    page.get_by_role("button", name="Discard").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter why the message is discarded"
    )
    check_page(page, "discard-without-reason", status=400)
    expect_errors_described(page)
    page.get_by_label("Why is it discarded?").fill("Spam")
    page.get_by_role("button", name="Discard").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        f"Message {discard_id} discarded"
    )
    check_page(page, "discarded")

    page.get_by_role("link", name=f"Raw {referral_id}").click()
    check_page(page, "held-to-refer")
    page.get_by_role("button", name="Make it a referral").click()
    expect(page).to_have_url(re.compile(r"/triage/\d+$"))
    check_page(page, "made-a-referral")
