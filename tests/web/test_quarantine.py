"""The quarantine pages: list and view (audited), retry, and a manager's confirmed release."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP

from sqlalchemy import func, select

from gateway.intake.dispatch import dispatch_safely
from gateway.intake.quarantine import Reason
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import Case
from gateway.models.intake import IntakeChannel, QuarantineEntry, RawMessage
from gateway.models.referral import Referral
from gateway.users import Role
from tests.fixtures import mail
from tests.web.conftest import Page, WebClient, WebEnv
from web.quarantine import REASON_LABELS

EXE = b"MZ\x90\x00synthetic, not a real program"


def _store(web: WebEnv, data: bytes) -> int:
    """Store bytes as the SMTP listener would and dispatch them as the job would."""
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(
            data, Arrival(IntakeChannel.SMTP, mail_from="office@school-805.example")
        )
    finally:
        store.close()
    with web.session() as s:
        dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
    return stored.raw_id


def _held_exe(web: WebEnv) -> int:
    return _store(web, mail.with_attachment("setup.exe", EXE))


def _referral_with_exe(web: WebEnv) -> int:
    """A readable referral that is held only for its executable attachment."""
    msg = EmailMessage()
    msg["From"] = "attendance@school-807.example"
    msg["To"] = mail.INBOX
    msg["Subject"] = "CME referral"
    msg["Message-ID"] = "<referral-exe@school-807.example>"
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    msg.set_content("Child: Ava Testperson\nDOB: 2015-03-01\nPostcode: TS10 1AA\n")
    msg.add_attachment(EXE, maintype="application", subtype="octet-stream", filename="tool.exe")
    return _store(web, msg.as_bytes(policy=SMTP))


def _entries(web: WebEnv, raw_id: int) -> list[tuple[str, str]]:
    with web.session() as s:
        rows = s.execute(
            select(QuarantineEntry.reason, QuarantineEntry.status)
            .where(QuarantineEntry.raw_id == raw_id)
            .order_by(QuarantineEntry.id)
        ).all()
    return [(r.reason, r.status) for r in rows]


def _cases(web: WebEnv) -> int:
    with web.session() as s:
        return int(s.execute(select(func.count()).select_from(Case)).scalar_one())


def _banner(page: Page) -> str:
    return page.text("//p[contains(@class,'govuk-notification-banner__heading')]")


def _links(page: Page) -> list[str]:
    return [str(u) for u in page.doc.xpath("//a/@href | //form/@action")]


def _manager(web: WebEnv, client: WebClient) -> WebClient:
    web.add_user("maggie", Role.MANAGER)
    client.sign_in("maggie")
    return client


def test_every_reason_has_a_plain_english_label() -> None:
    assert set(REASON_LABELS) == set(Reason)
    assert REASON_LABELS[Reason.EXECUTABLE_ATTACHMENT] == "Executable attachment"


def test_list_shows_held_messages_and_is_audited(web: WebEnv, officer: WebClient) -> None:
    raw_id = _held_exe(web)
    page = officer.get("/quarantine")
    assert page.h1 == "Quarantine"
    assert page.doc.xpath("//nav//a[@href='/quarantine']")
    rows = page.doc.xpath("//table[@id='held']/tbody/tr")
    assert len(rows) == 1
    cells = [" ".join(td.text_content().split()) for td in rows[0].xpath("td")]
    assert cells[0] == f"Raw {raw_id}"
    assert cells[1] == "Executable attachment"
    assert cells[2] == "Email (SMTP)"
    assert cells[5] == "executable attachment 'setup.exe'"
    assert rows[0].xpath(f".//a[@href='/quarantine/{raw_id}']")
    entries = web.audit("quarantine.list")
    assert [(e.actor, e.detail["raw_ids"]) for e in entries] == [("olivia", [raw_id])]


def test_empty_quarantine(officer: WebClient) -> None:
    page = officer.get("/quarantine")
    assert page.text("//p[@id='empty']") == "No messages are held."
    assert not page.doc.xpath("//table[@id='held']")


def test_view_shows_the_hold_and_the_message_and_is_audited(
    web: WebEnv, officer: WebClient
) -> None:
    raw_id = _held_exe(web)
    page = officer.get(f"/quarantine/{raw_id}")
    assert page.title.startswith(f"Held message {raw_id}")
    assert page.h1 == "Executable attachment"
    hold = page.text("//dl[@id='hold']")
    assert "executable attachment 'setup.exe'" in hold
    assert "office@school-805.example" in hold
    message = page.text("//dl[@id='message']")
    assert "Form attached" in message and "office@school-805.example" in message
    assert page.text("//pre[@id='message-text']") == "Please see the attached form."
    attachments = page.doc.xpath("//table[@id='attachments']/tbody/tr")
    assert len(attachments) == 1
    assert "setup.exe" in attachments[0].text_content()
    assert "Executable" in attachments[0].text_content()
    # No way to open the attachment from the console.
    assert not page.doc.xpath("//table[@id='attachments']//a")
    assert not any("setup.exe" in link for link in _links(page))
    assert page.response.headers["Cache-Control"] == "no-store"
    views = web.audit("quarantine.view")
    assert [(v.actor, v.entity, v.entity_id) for v in views] == [
        ("olivia", "raw_message", str(raw_id))
    ]
    # An officer may retry, but only a manager sees the release form.
    assert page.doc.xpath(f"//form[@action='/quarantine/{raw_id}/retry']")
    assert not page.doc.xpath(f"//form[@action='/quarantine/{raw_id}/release']")


def test_message_html_is_never_rendered(web: WebEnv, officer: WebClient) -> None:
    msg = EmailMessage()
    msg["From"] = "office@school-805.example"
    msg["To"] = mail.INBOX
    msg["Subject"] = "<b>Subject</b>"
    msg.set_content("<script>alert(1)</script> <b>plain</b>\n")
    msg.add_alternative(
        "<html><body><img src='https://tracker.example/x.gif'></body></html>", subtype="html"
    )
    msg.add_attachment(EXE, maintype="application", subtype="octet-stream", filename="a.exe")
    raw_id = _store(web, msg.as_bytes(policy=SMTP))
    page = officer.get(f"/quarantine/{raw_id}")
    body = page.response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert page.text("//pre[@id='message-text']") == "<script>alert(1)</script> <b>plain</b>"
    assert not page.doc.xpath("//pre//b | //main//script | //img")
    assert "tracker.example" not in body
    assert "<b>Subject</b>" in page.text("//dl[@id='message']")


def test_unknown_or_not_held_message_is_404(web: WebEnv, officer: WebClient) -> None:
    officer.get("/quarantine/99999", status=404)
    dispatched = _store(web, mail.referral(1))
    assert _entries(web, dispatched) == []
    officer.get(f"/quarantine/{dispatched}", status=404)
    officer.post(f"/quarantine/{dispatched}/retry", {}, status=404)


def test_retry_of_a_still_bad_message_holds_it_again(web: WebEnv, officer: WebClient) -> None:
    raw_id = _held_exe(web)
    officer.get(f"/quarantine/{raw_id}")
    page = officer.post(f"/quarantine/{raw_id}/retry", {})
    assert page.response.headers["Location"] == "/quarantine"
    listing = officer.get("/quarantine")
    assert _banner(listing) == "Held again: Executable attachment"
    assert _entries(web, raw_id) == [
        ("executable_attachment", "retried"),
        ("executable_attachment", "open"),
    ]
    assert [e.actor for e in web.audit("quarantine.retried")] == ["olivia"]
    assert len(listing.doc.xpath("//table[@id='held']/tbody/tr")) == 1
    everything = officer.get("/quarantine?all=1")
    statuses = everything.doc.xpath("//table[@id='held']/tbody/tr/td[last()]/text()")
    assert [s.strip() for s in statuses] == ["Retried", "Held"]
    # Only the open hold links to its page.
    assert len(everything.doc.xpath(f"//table[@id='held']//a[@href='/quarantine/{raw_id}']")) == 1


def test_officer_cannot_release(web: WebEnv, officer: WebClient) -> None:
    raw_id = _referral_with_exe(web)
    officer.post(f"/quarantine/{raw_id}/release", {"confirm-safe": "yes"}, status=403)
    assert _entries(web, raw_id) == [("executable_attachment", "open")]
    assert _cases(web) == 0


def test_manager_releases_a_message_into_a_case(web: WebEnv, client: WebClient) -> None:
    raw_id = _referral_with_exe(web)
    manager = _manager(web, client)
    view = manager.get(f"/quarantine/{raw_id}")
    assert view.doc.xpath(f"//form[@action='/quarantine/{raw_id}/release']")
    assert "I have checked this message is safe" in view.text("//label[@for='confirm-safe']")
    assert view.doc.xpath("//div[contains(@class,'govuk-warning-text')]")
    page = manager.post(f"/quarantine/{raw_id}/release", {"confirm-safe": "yes"})
    with web.session() as s:
        row = s.get(RawMessage, raw_id)
        assert row is not None and row.case_id is not None
        case_id = row.case_id
    assert page.response.headers["Location"] == f"/cases/{case_id}"
    case_page = manager.get(f"/cases/{case_id}")
    assert _banner(case_page) == f"Dispatched: case CME-{case_id}"
    assert _entries(web, raw_id) == [("executable_attachment", "released")]
    assert [e.actor for e in web.audit("quarantine.released")] == ["maggie"]
    assert manager.get("/quarantine").text("//p[@id='empty']") == "No messages are held."


def test_release_without_the_tick_is_an_error_and_changes_nothing(
    web: WebEnv, client: WebClient
) -> None:
    raw_id = _referral_with_exe(web)
    manager = _manager(web, client)
    page = manager.post(f"/quarantine/{raw_id}/release", {}, status=400)
    assert page.title.startswith("Error: ")
    assert page.error_links() == {"confirm-safe": "Confirm you have checked this message is safe"}
    assert page.doc.xpath("//p[@id='confirm-safe-error']")
    assert _entries(web, raw_id) == [("executable_attachment", "open")]
    assert web.audit("quarantine.released") == []
    assert _cases(web) == 0


def test_posts_without_a_csrf_token_are_refused(web: WebEnv, client: WebClient) -> None:
    raw_id = _referral_with_exe(web)
    manager = _manager(web, client)
    manager.post(f"/quarantine/{raw_id}/retry", {}, status=400, csrf=False)
    manager.post(f"/quarantine/{raw_id}/release", {"confirm-safe": "yes"}, status=400, csrf=False)
    manager.post(
        f"/quarantine/{raw_id}/release",
        {"confirm-safe": "yes", "csrf_token": "forged"},
        status=400,
    )
    assert _entries(web, raw_id) == [("executable_attachment", "open")]
    assert _cases(web) == 0


def test_no_child_data_in_urls(web: WebEnv, client: WebClient) -> None:
    raw_id = _referral_with_exe(web)
    manager = _manager(web, client)
    pages = [manager.get("/quarantine"), manager.get(f"/quarantine/{raw_id}")]
    assert "Testperson" in pages[1].text("//pre[@id='message-text']")
    for page in pages:
        for link in _links(page):
            assert re.fullmatch(r"[/\w.#=?-]*", link), link
            assert "Testperson" not in link and "TS10" not in link and "2015" not in link
    done = manager.post(f"/quarantine/{raw_id}/release", {"confirm-safe": "yes"})
    assert re.fullmatch(r"/cases/\d+", done.response.headers["Location"])


def test_an_officer_makes_a_held_message_a_referral(web: WebEnv, officer: WebClient) -> None:
    raw_id = _referral_with_exe(web)
    view = officer.get(f"/quarantine/{raw_id}")
    assert view.doc.xpath(f"//form[@action='/quarantine/{raw_id}/referral']//button")
    done = officer.post(f"/quarantine/{raw_id}/referral", {})
    with web.session() as s:
        referral = s.execute(select(Referral).where(Referral.raw_id == raw_id)).scalar_one()
        assert referral.triage_status == "awaiting" and referral.case_id is None
        assert any("held in the quarantine" in g for g in referral.gaps)
        referral_id = referral.id
    assert done.response.headers["Location"] == f"/triage/{referral_id}"
    assert _entries(web, raw_id) == [("executable_attachment", "referral")]
    [entry] = web.audit("quarantine.referral")
    assert (entry.actor, entry.detail["referral_id"]) == ("olivia", referral_id)
    assert _cases(web) == 0
    # Gone from the quarantine: a second post finds nothing held.
    officer.post(f"/quarantine/{raw_id}/referral", {}, status=404)
    everything = officer.get("/quarantine?all=1")
    assert "Made a referral" in everything.text("//table[@id='held']")


def test_discard_needs_a_reason_and_keeps_the_bytes(web: WebEnv, officer: WebClient) -> None:
    raw_id = _held_exe(web)
    view = officer.get(f"/quarantine/{raw_id}")
    assert view.doc.xpath(f"//form[@action='/quarantine/{raw_id}/discard']//textarea")
    empty = officer.post(f"/quarantine/{raw_id}/discard", {"discard-reason": "  "}, status=400)
    assert empty.error_links() == {
        "discard-reason": "Enter why the message is discarded, for example spam"
    }
    assert empty.doc.xpath("//textarea[@id='discard-reason']/@aria-describedby") == [
        "discard-reason-hint discard-reason-error"
    ]
    assert _entries(web, raw_id) == [("executable_attachment", "open")]
    assert web.audit("quarantine.discarded") == []
    done = officer.post(f"/quarantine/{raw_id}/discard", {"discard-reason": "Spam"})
    assert done.response.headers["Location"] == "/quarantine"
    listing = officer.get("/quarantine")
    assert _banner(listing) == f"Message {raw_id} discarded. Its bytes stay in the raw store."
    assert _entries(web, raw_id) == [("executable_attachment", "discarded")]
    with web.session() as s:
        entry = s.execute(
            select(QuarantineEntry).where(QuarantineEntry.raw_id == raw_id)
        ).scalar_one()
        assert (entry.resolution, entry.resolved_by) == ("Spam", "olivia")
        row = s.get(RawMessage, raw_id)
        assert row is not None
    store = RawStore(web.settings.home, web.engine)
    try:
        assert b'filename="setup.exe"' in store.read(row)
    finally:
        store.close()
    assert [e.actor for e in web.audit("quarantine.discarded")] == ["olivia"]
    officer.post(f"/quarantine/{raw_id}/discard", {"discard-reason": "Spam"}, status=404)


def test_an_html_only_message_is_shown_as_text(web: WebEnv, officer: WebClient) -> None:
    msg = EmailMessage()
    msg["From"] = "office@school-805.example"
    msg["To"] = mail.INBOX
    msg["Subject"] = "Form"
    msg.set_content(
        "<html><body><p>Please call <b>Ava's</b> mother.</p>"
        "<img src='https://tracker.example/x.gif'><script>alert(1)</script></body></html>",
        subtype="html",
    )
    msg.add_attachment(EXE, maintype="application", subtype="octet-stream", filename="a.exe")
    raw_id = _store(web, msg.as_bytes(policy=SMTP))
    page = officer.get(f"/quarantine/{raw_id}")
    assert "Please call Ava's mother." in page.text("//pre[@id='message-text']")
    assert page.doc.xpath("//p[@id='message-from-html']")
    body = page.response.get_data(as_text=True)
    assert "tracker.example" not in body and "alert(1)" not in body
    assert not page.doc.xpath("//main//img | //main//script | //pre//b")
