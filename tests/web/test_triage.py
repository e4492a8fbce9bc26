"""The triage pages: the queue (safeguarding first), one referral beside its source with
where each value came from, and the officer's three decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from sqlalchemy import select, text

from gateway.db import is_sqlite, utcnow
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import Case
from gateway.models.intake import IntakeChannel
from gateway.models.referral import Referral
from gateway.triage import service as triage
from gateway.triage.service import TriageError
from tests.fixtures import mail
from tests.fixtures.referrals.docx_forms import FORMS
from tests.fixtures.referrals.make_docx import build_docx
from tests.web.conftest import Page, WebClient, WebEnv

MAISIE = (
    "Hello, there's a girl called Maisie at 12 Coast Road, Redcar TS10 1AB, about 11, never "
    "at school. Please don't say it was me. <script>alert('hi')</script>\n\nThanks\nNora\n"
)
OLIVER = {
    "forename": "Oliver", "surname": "Testbrook", "dob": "2014-06-02", "sex": "M",
    "address_line1": "7 Synthetic Row", "town": "Redcar", "postcode": "TS10 2AB",
    "reason": "Not at school since October", "referrer_name": "Ann Head",
    "referrer_email": "head@school-807.example", "channel": "email", "received": "2026-11-20",
}  # fmt: skip
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_seq = iter(range(1, 10_000))


def _message(
    body: str,
    *,
    sender: str = "Nora Neighbour <nora@example.org>",
    subject: str = "A girl who is not at school",
    html: str | None = None,
    attach: tuple[str, bytes, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.INBOX
    msg["Subject"] = subject
    msg["Message-ID"] = f"<triage-{next(_seq)}@example.org>"
    msg["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    if attach is not None:
        name, data, ctype = attach
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP)


def _arrive(web: WebEnv, data: bytes) -> int:
    """Store a message as the SMTP listener does, dispatch it as the job does: the referral."""
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(data, Arrival(IntakeChannel.SMTP, mail_from="nora@example.org"))
    finally:
        store.close()
    with web.session() as s:
        dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
        return s.execute(select(Referral.id).where(Referral.raw_id == stored.raw_id)).scalar_one()


def _receive(web: WebEnv, **values: Any) -> int:
    with web.session() as s:
        routed = triage.receive(s, web.settings, values, actor="test", today=date(2026, 11, 27))
        s.commit()
    return routed.referral_id


def _referral(web: WebEnv, referral_id: int) -> Referral:
    with web.session() as s:
        found = s.get(Referral, referral_id)
        assert found is not None
        return found


def _banner(page: Page) -> str:
    return page.text("//p[contains(@class,'govuk-notification-banner__heading')]")


def _decision_forms(page: Page, referral_id: int) -> list[str]:
    prefix = f"/triage/{referral_id}/"
    return [str(a) for a in page.doc.xpath("//form/@action") if str(a).startswith(prefix)]


def test_the_queue_puts_safeguarding_and_urgent_first_and_is_audited(
    web: WebEnv, officer: WebClient
) -> None:
    routine = _receive(web, forename="Ava", reason="Left without notice", channel="form")
    urgent = _receive(web, forename="Bea", reason="Please act urgently", urgency="urgent")
    worried = _arrive(web, _message("There's a boy called Sam, about 9. He has bruises.\n"))
    page = officer.get("/triage")
    assert page.title.startswith("Triage – ")
    rows = [int(r) for r in page.doc.xpath("//table[@id='referrals']//tr/@data-referral")]
    assert rows == [worried, urgent, routine]
    first = page.text(f"//tr[@data-referral='{worried}']")
    assert "Safeguarding concern" in first and "Sam" in first and "by email" in first
    assert "About 9 years old" in first or "Between 8 and 10 years old" in first
    assert "Urgent" in page.text(f"//tr[@data-referral='{urgent}']")
    last = page.text(f"//tr[@data-referral='{routine}']")
    assert "the online referral form" in last and "No name" not in last
    assert "27 November 2026" in last
    assert page.text("//a[@id='nav-triage']") == "Triage (3)"
    [entry] = web.audit("triage.list")
    assert entry.actor == "olivia" and entry.detail["referrals"] == [worried, urgent, routine]


def test_the_queue_names_the_best_candidate_and_paginates(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case("Oliver", "Testbrook", dob="2014-06-02", postcode="TS10 2AB")
    ollie = _receive(web, **{**OLIVER, "forename": "Ollie", "referrer_email": "nurse@x.example"})
    page = officer.get("/triage")
    best = page.text(f"//tr[@data-referral='{ollie}']/td[5]")
    assert best.startswith(f"May be case CME-{case_id}, ") and best.endswith("match")
    for n in range(25):
        _receive(web, forename=f"Child{n}", reason="Not seen")
    page = officer.get("/triage")
    assert page.doc.xpath("//nav[contains(@class,'govuk-pagination')]//a[@aria-label='Page 2']")
    second = officer.get("/triage?page=2")
    assert len(second.doc.xpath("//table[@id='referrals']//tr[@data-referral]")) == 1
    officer.get("/triage?page=3", status=404)
    officer.get("/triage?page=nonsense", status=404)


def test_a_prose_referral_shows_its_source_as_text_and_where_each_value_came_from(
    web: WebEnv, officer: WebClient
) -> None:
    referral_id = _arrive(web, _message(MAISIE))
    page = officer.get(f"/triage/{referral_id}")
    assert page.title.startswith(f"Triage referral {referral_id} – ")
    assert page.h1 == "Maisie"
    # The mail's markup is text on the page, never markup.
    source = page.doc.xpath("//div[@id='source-text']")[0]
    assert "<script>alert('hi')</script>" in source.text_content()
    assert not page.doc.xpath("//div[@id='source']//script")
    raw = page.response.get_data(as_text=True)
    assert "&lt;script&gt;alert(" in raw
    assert "Nora Neighbour <nora@example.org>" in page.text("//dl[@id='source-headers']")
    # Each value with where it came from.
    sentence = (
        "From the text: 'Hello, there's a girl called Maisie at 12 Coast Road, Redcar TS10 1AB, "
        "about 11, never at school.'"
    )
    assert page.text("//*[@id='draft-forename']//*[@data-origin]") == sentence
    assert page.text("//*[@id='draft-sex']//dd").startswith("Female")
    assert "Between 10 and 12 years old" in page.text("//*[@id='draft-age_range']")
    assert "12 Coast Road, Redcar" in page.text("//*[@id='draft-address_line1']")
    assert page.text("//*[@id='draft-referrer_email']//*[@data-origin]") == (
        "From the sender of the email"
    )
    assert "From the sign-off" in page.text("//*[@id='draft-referrer_name']")
    assert "Not known" in page.text("//*[@id='draft-surname']")
    assert "not to be named" in page.text("//div[@id='anonymous']")
    assert "From the text: 'Please don't say it was me.'" in page.text("//*[@id='draft-anonymous']")
    gaps = page.text("//ul[@id='gaps']")
    assert "Child's surname is missing" in gaps and "Date of birth is missing" in gaps
    assert "by email" in page.text("//p[@id='received']")
    # The pre-filled form, the three decisions and their actions.
    assert page.doc.xpath("//input[@id='forename']/@value") == ["Maisie"]
    assert page.doc.xpath("//input[@id='postcode']/@value") == ["TS10 1AB"]
    assert page.doc.xpath("//input[@id='sex']/@checked") is not None
    assert sorted(_decision_forms(page, referral_id)) == [
        f"/triage/{referral_id}/attach",
        f"/triage/{referral_id}/dismiss",
        f"/triage/{referral_id}/open",
    ]
    [entry] = web.audit("referral.view")
    assert (entry.actor, entry.entity, entry.entity_id) == ("olivia", "referral", str(referral_id))
    # No child data in the page's addresses.
    assert all("Maisie" not in str(u) for u in page.doc.xpath("//a/@href | //form/@action"))


def test_safeguarding_words_are_shown_with_their_sentence(web: WebEnv, officer: WebClient) -> None:
    body = "A boy called Sam, about 9, is never at school. I'm worried, he has bruises.\n"
    referral_id = _arrive(web, _message(body))
    page = officer.get(f"/triage/{referral_id}")
    assert "Safeguarding concern" in page.text("//p[@id='received']")
    cue = page.text("//*[@id='draft-safeguarding']")
    assert "'bruises'" in cue and "In: 'I'm worried, he has bruises.'" in cue
    assert page.doc.xpath("//input[@id='urgency-safeguarding']/@checked")


def test_html_only_mail_is_shown_as_text_and_a_word_form_as_its_fields(
    web: WebEnv, officer: WebClient
) -> None:
    html = (
        "<html><body><p>There's a girl called Poppy, about 8, never at school.</p>"
        '<p onclick="alert(1)"><b>Please help</b> <img src=x onerror=alert(1)></p></body></html>'
    )
    referral_id = _arrive(web, _message("", html=html))
    page = officer.get(f"/triage/{referral_id}")
    assert page.doc.xpath("//p[@id='source-from-html']")
    assert "Please help" in page.text("//div[@id='source-text']")
    assert not page.doc.xpath("//div[@id='source']//img | //div[@id='source']//b")

    form = FORMS["41-email-with-form-attached"]
    docx = build_docx(form["spec"])
    data = _message(
        form["email"]["body"],
        sender=form["email"]["from"],
        attach=("CME referral.docx", docx, DOCX),
    )
    referral_id = _arrive(web, data)
    page = officer.get(f"/triage/{referral_id}")
    fields = page.text("//dl[@id='source-form']")
    assert "Date of birth" in fields or "DOB" in fields
    attachments = page.doc.xpath("//ul[@id='source-attachments']")[0]
    assert "CME referral.docx" in attachments.text_content() and not attachments.xpath(".//a")
    assert "From the form field '" in page.text("//*[@id='draft-forename']//*[@data-origin]")


def test_opening_a_case_with_the_officers_correction(web: WebEnv, officer: WebClient) -> None:
    referral_id = _arrive(web, _message(MAISIE))
    page = officer.get(f"/triage/{referral_id}")
    done = officer.post(
        f"/triage/{referral_id}/open",
        {
            "forename": "Maisie", "surname": "Rowe", "dob-day": "", "dob-month": "",
            "dob-year": "", "sex": "F", "upn": "", "address_line1": "12 Coast Road",
            "town": "Redcar", "postcode": "ts10 1ab", "school": "Redcar Primary",
            "reason": "Never at school", "urgency": "urgent", "csrf_token": page.csrf(),
        },
    )  # fmt: skip
    location = done.response.headers["Location"]
    with web.session() as s:
        referral = s.get(Referral, referral_id)
        assert referral is not None and referral.triage_status == "opened"
        case = s.get(Case, referral.case_id)
        assert case is not None and location.endswith(f"/cases/{case.id}")
        assert (case.child.forenames, case.child.surname) == ("Maisie", "Rowe")
        assert referral.triaged_by == "olivia" and referral.anonymous
        case_id = case.id
    shown = officer.get(location)
    assert _banner(shown) == f"Case CME-{case_id} opened from referral {referral_id}."
    [entry] = web.audit("triage.open")
    assert entry.actor == "olivia" and entry.detail == {"referral_id": referral_id}


def test_opening_without_a_surname_shows_the_error_summary(web: WebEnv, officer: WebClient) -> None:
    referral_id = _arrive(web, _message(MAISIE))
    page = officer.post(
        f"/triage/{referral_id}/open",
        {"forename": "Maisie", "surname": "", "town": "Redcar", "urgency": "routine"},
        status=400,
    )
    assert page.title.startswith("Error: ")
    assert page.error_links() == {"surname": "Enter the child's last name"}
    assert page.doc.xpath("//input[@id='surname']/@aria-describedby") == ["surname-error"]
    assert page.doc.xpath("//input[@id='town']/@value") == ["Redcar"]
    assert _referral(web, referral_id).triage_status == "awaiting"
    page = officer.post(
        f"/triage/{referral_id}/open",
        {"forename": "Maisie", "surname": "Rowe", "dob-day": "31", "dob-month": "2",
         "dob-year": "2015", "urgency": "routine"},
        status=400,
    )  # fmt: skip
    assert page.error_links() == {"dob-day": "Date of birth must be a real date, like 3 4 2015"}
    page = officer.post(
        f"/triage/{referral_id}/open",
        {"forename": "Maisie", "surname": "Rowe", "postcode": "nowhere", "urgency": "routine"},
        status=400,
    )
    assert page.error_links() == {
        "postcode": "Enter a real postcode, like TS10 1AB, or leave it empty"
    }
    assert not web.audit("triage.open")


def test_attaching_to_a_candidate_case_or_a_typed_case_number(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case("Oliver", "Testbrook", dob="2014-06-02", postcode="TS10 2AB")
    ollie = _receive(web, **{**OLIVER, "forename": "Ollie", "referrer_email": "nurse@x.example"})
    page = officer.get(f"/triage/{ollie}")
    card = page.doc.xpath("//div[@id='candidates']/div[contains(@class,'govuk-summary-card')]")[0]
    review = card.xpath(".//a[starts-with(@href,'/matches/')]/@href")
    assert len(review) == 1 and review[0].removeprefix("/matches/").isdigit()
    assert f"Case CME-{case_id}" in card.text_content()
    assert "First name" in card.text_content()
    assert page.doc.xpath("//input[@name='case_id']/@value")[0] == str(case_id)
    nothing = officer.post(f"/triage/{ollie}/attach", {"offered": "yes"}, status=400)
    assert nothing.error_links() == {"case_id": "Select the case to add this referral to"}
    unknown = officer.post(
        f"/triage/{ollie}/attach",
        {"offered": "yes", "case_id": "other", "case_ref": "CME-9999"},
        status=400,
    )
    assert unknown.error_links() == {"case_ref": "There is no case CME-9999"}
    both = officer.post(
        f"/triage/{ollie}/attach",
        {"offered": "yes", "case_id": str(case_id), "case_ref": "CME-12"},
        status=400,
    )
    assert both.error_links() == {
        "case_ref": "Select 'Another case' to use this case number, or clear it"
    }
    typed = officer.post(
        f"/triage/{ollie}/attach", {"offered": "yes", "case_id": "other", "case_ref": "x"}, 400
    )
    assert typed.error_links() == {"case_ref": "Enter the case number, like CME-12"}
    done = officer.post(f"/triage/{ollie}/attach", {"offered": "yes", "case_id": str(case_id)})
    assert done.response.headers["Location"].endswith(f"/cases/{case_id}")
    referral = _referral(web, ollie)
    assert (referral.triage_status, referral.case_id) == ("attached", case_id)
    assert _banner(officer.get(f"/cases/{case_id}")) == (
        f"Referral {ollie} added to case CME-{case_id}."
    )
    [entry] = web.audit("triage.attach")
    assert entry.actor == "olivia" and entry.detail == {"referral_id": ollie}

    # No candidate case: the case number alone.
    other = _receive(web, forename="Zed", reason="Not seen")
    page = officer.get(f"/triage/{other}")
    assert not page.doc.xpath("//input[@name='case_id']")
    officer.post(f"/triage/{other}/attach", {"case_ref": f"{case_id}"})
    assert _referral(web, other).case_id == case_id


def test_not_cme_with_a_reason(web: WebEnv, officer: WebClient) -> None:
    referral_id = _receive(web, forename="Ava", reason="On roll at Hilltop")
    page = officer.post(f"/triage/{referral_id}/dismiss", {"dismiss_note": "x"}, status=400)
    assert page.error_links() == {
        "dismiss_reason": "Select why this referral is not about a child missing education"
    }
    assert page.doc.xpath("//textarea[@id='dismiss_note']")[0].text == "x"
    labels = page.doc.xpath("//input[@name='dismiss_reason']/following-sibling::label/text()")
    assert "On a school roll" in labels and "on_roll" not in labels
    done = officer.post(
        f"/triage/{referral_id}/dismiss",
        {"dismiss_reason": "on_roll", "dismiss_note": "Started at Hilltop Primary on Monday"},
    )
    assert done.response.headers["Location"].endswith("/triage")
    assert _banner(officer.get("/triage")) == (
        f"Referral {referral_id} marked not CME: On a school roll."
    )
    referral = _referral(web, referral_id)
    assert (referral.triage_status, referral.triage_reason) == ("dismissed", "on_roll")
    [entry] = web.audit("triage.dismiss")
    assert entry.actor == "olivia" and entry.detail == {"reason": "on_roll"}


def test_a_decided_referral_shows_the_decision_and_no_forms(
    web: WebEnv, officer: WebClient
) -> None:
    referral_id = _receive(web, forename="Ava", reason="On roll at Hilltop")
    officer.post(
        f"/triage/{referral_id}/dismiss", {"dismiss_reason": "ehe", "dismiss_note": "Home ed"}
    )
    page = officer.get(f"/triage/{referral_id}")
    decision = page.text("//div[@id='decision']")
    assert "Not CME" in decision and "Decided by olivia on " in decision
    assert "Reason: Electively home educated" in decision and "Note: Home ed" in decision
    assert _decision_forms(page, referral_id) == []
    twice = officer.post(f"/triage/{referral_id}/dismiss", {"dismiss_reason": "ehe"}, status=409)
    assert twice.error_links() == {
        "decision": "You have already decided this referral: nothing more was changed."
    }
    # A complete referral the intake opened at once shows its case.
    auto = _arrive(web, mail.referral(3))
    page = officer.get(f"/triage/{auto}")
    assert "Decided by the gateway, automatically" in page.text("//div[@id='decision']")
    assert page.doc.xpath("//div[@id='decision']//a[starts-with(@href,'/cases/')]")


def test_the_second_of_two_officers_is_told_someone_else_decided(
    web: WebEnv, officer: WebClient
) -> None:
    referral_id = _arrive(web, _message(MAISIE))
    web.add_user("oscar")
    second = WebClient(web.app)
    second.sign_in("oscar")
    stale = second.get(f"/triage/{referral_id}")  # both have the page open
    officer.post(f"/triage/{referral_id}/dismiss", {"dismiss_reason": "not_resident"})
    page = second.post(
        f"/triage/{referral_id}/open",
        {"forename": "Maisie", "surname": "Rowe", "urgency": "routine",
         "csrf_token": stale.csrf()},
        status=409,
    )  # fmt: skip
    [(target, message)] = page.error_links().items()
    assert target == "decision" and message.startswith("Someone else decided this referral")
    assert "Decided by olivia" in page.text("//div[@id='decision']")
    assert _decision_forms(page, referral_id) == []
    again = second.post(f"/triage/{referral_id}/dismiss", {"dismiss_reason": "ehe"}, status=409)
    assert "decision" in again.error_links()
    assert _referral(web, referral_id).triage_reason == "not_resident"
    with web.session() as s:
        assert s.execute(select(Case)).first() is None


def test_two_decisions_at_the_same_moment_make_one(web: WebEnv) -> None:
    """The service locks the referral: the second waits for the first, then finds it decided."""
    referral_id = _receive(web, forename="Ava", reason="Not seen")
    first = web.session()
    triage.dismiss(first, web.settings, referral_id, "ehe", "olivia")  # holds the row
    outcome: dict[str, str] = {}

    def second() -> None:
        with web.session() as s:
            try:
                triage.open_case(s, web.settings, referral_id, "oscar", {"surname": "Rowe"})
                s.commit()
                outcome["result"] = "opened"
            except TriageError as exc:
                outcome["result"] = str(exc)

    thread = threading.Thread(target=second)
    thread.start()
    if not is_sqlite(web.engine):
        _wait_for_a_lock_wait(web)
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["result"] == f"referral {referral_id} was already triaged (dismissed by olivia)"
    with web.session() as s:
        assert s.execute(select(Case)).first() is None


def _wait_for_a_lock_wait(web: WebEnv) -> None:
    """Until another backend waits on a row lock (PostgreSQL), so the race really happens."""
    deadline = utcnow().timestamp() + 30
    with web.engine.connect() as conn:
        while utcnow().timestamp() < deadline:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            threading.Event().wait(0.02)
    pytest.fail("the second decision never waited on the first")


def test_unknown_referrals_are_not_found(web: WebEnv, officer: WebClient) -> None:
    officer.get("/triage/99999", status=404)
    officer.post("/triage/99999/open", {"forename": "A", "surname": "B", "urgency": "routine"}, 404)
    officer.post("/triage/99999/attach", {"case_ref": "1"}, status=404)
    officer.post("/triage/99999/dismiss", {"dismiss_reason": "ehe"}, status=404)
    assert not web.audit("referral.view")


def test_triage_needs_a_signed_in_officer(web: WebEnv, client: WebClient) -> None:
    page = client.get("/triage", status=302)
    assert "/sign-in" in page.response.headers["Location"]
    page = client.get("/triage/1", status=302)
    assert "/sign-in" in page.response.headers["Location"]
