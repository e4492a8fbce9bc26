"""A referrer's reply on the case page: it arrives through real dispatch, its text is shown
escaped with its attachments listed (never linked), and it is marked new once."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from sqlalchemy import select

from gateway import outbox
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import TimelineEntry
from gateway.models.intake import IntakeChannel
from tests.fixtures import mail
from tests.web.conftest import Page, WebClient, WebEnv

REFERRER = "attendance@school-807.example"


def case_with_letter(web: WebEnv, **extra: Any) -> tuple[int, str]:
    """A case whose referrer we wrote to: their reply threads back to it."""
    case_id = web.add_case("Ava", "Testperson", referrer_email=REFERRER, **extra)
    with web.session() as s:
        letter = outbox.queue(
            s, web.settings, kind="enquiry", to=[REFERRER], subject=f"[CME-{case_id}] Enquiry",
            body="Please tell us more.", case_id=case_id,
        )  # fmt: skip
        s.commit()
        return case_id, letter.message_id


def arrive(web: WebEnv, data: bytes) -> int:
    """Store the message as the SMTP listener would and dispatch it as the job would."""
    store = RawStore(web.settings.home, web.engine)
    try:
        stored = store.store(data, Arrival(IntakeChannel.SMTP, mail_from=REFERRER))
    finally:
        store.close()
    with web.session() as s:
        result = dispatch_safely(s, web.settings, stored.raw_id)
        s.commit()
    assert result.outcome.value == "reply", result
    return stored.raw_id


def hostile_reply(in_reply_to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ann Head <{REFERRER}>"
    msg["To"] = mail.INBOX
    msg["Subject"] = "Re: <b>your enquiry</b>"
    msg["Message-ID"] = "<reply-hostile@school-807.example>"
    msg["In-Reply-To"] = in_reply_to
    msg.set_content(
        "She started at <b>Hilltop</b> Primary.\n<script>alert('x')</script>\n"
        '<a href="https://evil.example/">click</a>\n'
    )
    msg.add_attachment(
        b"%PDF-1.4 synthetic", maintype="application", subtype="pdf", filename="roll-letter.pdf"
    )
    return msg.as_bytes(policy=SMTP)


def _reply_entries(web: WebEnv, case_id: int) -> list[TimelineEntry]:
    with web.session() as s:
        return list(
            s.execute(
                select(TimelineEntry).where(
                    TimelineEntry.case_id == case_id, TimelineEntry.kind == "email_reply"
                )
            ).scalars()
        )


def _new_tags(page: Page) -> list[str]:
    return [
        t.strip() for t in page.doc.xpath("//ol[@id='timeline']//strong[@class='govuk-tag']/text()")
    ]


def test_a_reply_is_readable_and_new_only_until_an_officer_reads_it(
    web: WebEnv, officer: WebClient
) -> None:
    case_id, letter_id = case_with_letter(web)
    arrive(web, mail.reply(letter_id))
    [entry] = _reply_entries(web, case_id)
    assert entry.unread

    listing = officer.get("/cases")
    row = f"//tr[@id='case-{case_id}']"
    assert listing.text(row + "//strong[@data-marker='new-reply']") == "New reply"

    page = officer.get(f"/cases/{case_id}")
    assert _new_tags(page) == ["New"]
    reply = f"//div[@id='reply-{entry.id}']"
    assert page.text(f"//pre[@id='reply-text-{entry.id}']") == (
        "She started at Hilltop Primary on Monday."
    )
    assert REFERRER in page.text(reply)
    assert "1 new reply" in page.text("//div[@id='new-replies']")
    assert page.doc.xpath(f"//div[@id='new-replies']//a[@href='#reply-{entry.id}']")

    # Read now: the marker is gone from the case page and from the list.
    again = officer.get(f"/cases/{case_id}")
    assert _new_tags(again) == []
    assert not again.doc.xpath("//div[@id='new-replies']")
    assert "She started at Hilltop Primary" in again.text(reply)
    assert not officer.get("/cases").doc.xpath(row + "//strong[@data-marker='new-reply']")
    [entry] = _reply_entries(web, case_id)
    assert (entry.unread, entry.read_by) == (False, "olivia")
    assert [v.actor for v in web.audit("case.view")] == ["olivia", "olivia"]


def test_a_reply_is_shown_escaped_with_its_attachments_listed_not_linked(
    web: WebEnv, officer: WebClient
) -> None:
    case_id, letter_id = case_with_letter(web)
    arrive(web, hostile_reply(letter_id))
    [entry] = _reply_entries(web, case_id)
    page = officer.get(f"/cases/{case_id}")
    body = page.response.get_data(as_text=True)
    text = page.text(f"//pre[@id='reply-text-{entry.id}']")
    assert "<script>alert('x')</script>" in text and "<b>Hilltop</b>" in text
    assert "&lt;script&gt;" in body and "<script>alert" not in body
    reply = f"//div[@id='reply-{entry.id}']"
    assert not page.doc.xpath(f"{reply}//a | {reply}//b | //main//script")
    assert "evil.example" not in " ".join(page.doc.xpath("//a/@href"))
    assert "Ann Head <attendance@school-807.example>" in page.text(reply)
    assert "Re: <b>your enquiry</b>" in page.text(reply)
    attachments = page.text(f"//ul[@id='reply-attachments-{entry.id}']")
    assert "roll-letter.pdf" in attachments and "application/pdf" in attachments
    assert not any("roll-letter" in href for href in page.doc.xpath("//a/@href"))
