"""The exchange in the console: enquiries to answer (six answers), partners' answers to
approve, dead letters, the exchange quarantine and the partner directory."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import outbox
from gateway.db import utcnow
from gateway.exchange import working
from gateway.models.case import Case, TimelineEntry
from gateway.models.exchange import ExchangeMessage, Monitoring, Proposal, QuarantinedMessage
from gateway.models.matching import RegisterEntry
from gateway.models.ops import OutboxMessage
from parsers.exchange import DocType, Outcome, ReplyStatus, parse_document
from tests.fixtures import ctf_gen
from tests.web import exchange_support as ex
from tests.web.conftest import Page, WebClient, WebEnv

UPN = "R807300024001"


@pytest.fixture
def exchange(web: WebEnv) -> WebEnv:
    ex.set_up_exchange(web)
    ex.add(web, "806")
    return web


def _pending(web: WebEnv) -> list[Proposal]:
    with web.session() as s:
        return working.pending(s)


def _one_pending(web: WebEnv, kind: str) -> Proposal:
    [p] = [p for p in _pending(web) if p.kind == kind]
    return p


def _replies(web: WebEnv) -> list[Any]:
    """Our queued replies, as their documents."""
    with web.session() as s:
        rows = s.execute(
            select(ExchangeMessage.document).where(
                ExchangeMessage.direction == "out", ExchangeMessage.doc_type == "reply"
            )
        ).scalars()
        return [parse_document(d) for d in rows]


def _summary(page: Page, dl_id: str) -> dict[str, str]:
    rows = page.doc.xpath(f"//dl[@id='{dl_id}']/div")
    return {
        " ".join(r.xpath("string(dt)").split()): " ".join(r.xpath("string(dd)").split())
        for r in rows
    }


# -- the landing page and the navigation ---------------------------------------------------


def test_the_landing_page_counts_what_waits(exchange: WebEnv, officer: WebClient) -> None:
    page = officer.get("/exchange")
    assert page.h1 == "Exchange"
    assert page.text("//a[@id='nav-exchange']") == "Exchange (0 waiting)"
    ex.their_enquiry(exchange)
    page = officer.get("/exchange")
    assert "Enquiries from other authorities to answer: 1" in page.text(
        "//*[@id='count-enquiries']"
    )
    assert "awaiting your approval: 0" in page.text("//*[@id='count-answers']")
    assert page.text("//a[@id='nav-exchange']") == "Exchange (1 waiting)"
    assert page.text("//a[@id='nav-lost-pupils']") == "Lost pupils"
    for href in page.doc.xpath("//ul[@id='exchange-counts']//a/@href"):
        officer.get(href.split("#")[0])


# -- a partner's enquiry, answered -----------------------------------------------------------


def _what_we_hold(web: WebEnv) -> int:
    """Our case of the child, a school roll entry and a lost-pupil record."""
    case_id = web.add_case("Amelia", "Testington", upn=UPN, dob="2014-05-06")
    with web.session() as s:
        s.add(
            RegisterEntry(
                register="roll", batch_sha256="0" * 64, source_name="roll.csv", line=2,
                imported_by="test", upn=UPN, surname="Testington", forename="Amelia",
                dob=date(2014, 5, 6), school_laestab="8073001", from_date=date(2025, 9, 3),
            )
        )  # fmt: skip
        s.commit()
    from lost_pupil.tokens import issue_token

    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    resp = web.app.test_client().post(
        "/lost-pupils/upload",
        data=ctf_gen.ctf_bytes([ctf_gen.sample_pupil()]),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    assert resp.status_code == 201
    return case_id


def test_an_enquiry_shows_what_they_sent_and_what_we_found(
    exchange: WebEnv, officer: WebClient
) -> None:
    case_id = _what_we_hold(exchange)
    ex.their_enquiry(exchange)
    listing = officer.get("/exchange/answers")
    [row] = listing.doc.xpath("//table[@id='enquiries-table']/tbody/tr")
    text = " ".join(row.text_content().split())
    assert "Amelia Testington" in text and "Test LA 806 (806)" in text
    assert "Enquiry; suggested answer: On roll at a school" in text
    assert listing.text("//*[@id='no-partner-answers']")
    [entry] = exchange.audit("exchange.answers.list")
    assert entry.actor == "olivia"

    page = officer.get(row.xpath(".//a/@href")[0])
    assert page.h1 == "Enquiry about Amelia Testington"
    assert page.title.startswith("Enquiry from Test LA 806 – ")
    assert _summary(page, "asked") == {
        "First name": "Amelia",
        "Last name": "Testington",
        "Date of birth": "6 May 2014",
        "Sex": "Female",
        "UPN": UPN,
        "Address": "9 Faraway Close, Middlesbrough, TS1 9ZZ",
    }
    message = _summary(page, "message")
    assert (
        message["From"] == "Test LA 806 (LA 806)" and message["Their reference"] == "LA806-CME-55"
    )
    assert " at " in message["Received"]  # "6 May 2026 at 2:05pm"
    assert page.text("//pre[@id='their-note']").startswith("Family thought to have moved")
    found = {r.get("data-source"): " ".join(r.text_content().split())
             for r in page.doc.xpath("//table[@id='found']/tbody/tr")}  # fmt: skip
    assert set(found) == {"case", "roll", "lost_pupil"}
    assert f"CME-{case_id}: Amelia Testington, born 6 May 2014" in found["case"]
    assert "Same UPN" in found["case"]
    assert "On roll at school 8073001 from 3 September 2025" in found["roll"]
    assert "Featherstone" in found["lost_pupil"]
    assert page.doc.xpath(f"//table[@id='found']//a[@href='/cases/{case_id}']")
    assert page.doc.xpath("//table[@id='found']//a[starts-with(@href, '/lost-pupils/')]")
    # The suggested answer is chosen, with the school and the start date from the roll.
    assert page.doc.xpath("//input[@name='status'][@value='on-roll']")[0].get("checked") is not None
    assert page.doc.xpath("//input[@id='laestab']/@value") == ["8073001"]
    assert page.doc.xpath("//input[@id='start-year']/@value") == ["2025"]
    [viewed] = exchange.audit("exchange.answer.view")
    assert viewed.actor == "olivia"


SIX_ANSWERS: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"status": "not-known"}, {}),
    (
        {"status": "on-roll", "laestab": "8073001", "school_name": "Example Academy",
         "start-day": "3", "start-month": "9", "start-year": "2025"},
        {"laestab": "8073001", "school_name": "Example Academy", "start_date": date(2025, 9, 3)},
    ),
    ({"status": "application-in-progress"}, {}),
    ({"status": "ehe-notified"}, {}),
    (
        {"status": "known-at-address", "address_line1": "4 Invented Road", "town": "Redcar",
         "postcode": "TS10 4ZZ"},
        {"address_postcode": "TS10 4ZZ"},
    ),
    (
        {"status": "moved-on", "moved_to_la": "808", "destination": "Staying with family"},
        {"moved_to_la": "808", "destination": "Staying with family"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("form", "expected"), SIX_ANSWERS, ids=lambda v: v.get("status", ""))
def test_each_of_the_six_answers_is_sent(
    exchange: WebEnv, officer: WebClient, form: dict[str, str], expected: dict[str, Any]
) -> None:
    ex.their_enquiry(exchange)
    proposal = _one_pending(exchange, "reply")
    done = officer.post(
        f"/exchange/answers/{proposal.id}/approve", {**form, "note": "Checked our rolls."}
    )
    assert done.response.headers["Location"] == "/exchange/answers"
    [reply] = _replies(exchange)
    o = reply.outcome
    assert o.status is ReplyStatus(form["status"])
    assert reply.note == "Checked our rolls."
    assert reply.header.recipient_la == "806"
    for key, value in expected.items():
        if key == "address_postcode":
            assert o.address.postcode == value and o.address.lines == ("4 Invented Road", "Redcar")
        else:
            assert getattr(o, key) == value
    assert _pending(exchange) == []
    page = officer.get(f"/exchange/answers/{proposal.id}")
    assert "Approved by olivia" in page.text("//*[@id='decided']")
    assert not page.doc.xpath("//button[@id='approve']")


def test_an_answer_that_needs_more_says_what(exchange: WebEnv, officer: WebClient) -> None:
    ex.their_enquiry(exchange)
    proposal = _one_pending(exchange, "reply")
    url = f"/exchange/answers/{proposal.id}/approve"
    page = officer.post(url, {"status": ""}, status=400)
    assert page.error_links() == {"status": "Choose the answer to send"}
    page = officer.post(url, {"status": "on-roll"}, status=400)
    assert page.error_links() == {
        "laestab": "Enter the school's LAESTAB",
        "start-day": "Enter the start date",
    }
    future = date.today() + timedelta(days=30)
    page = officer.post(
        url,
        {"status": "on-roll", "laestab": "80730", "start-day": str(future.day),
         "start-month": str(future.month), "start-year": str(future.year)},
        status=400,
    )  # fmt: skip
    assert page.error_links() == {
        "laestab": "The LAESTAB must be 7 digits: the LA code, then the school",
        "start-day": "The start date must be today or in the past",
    }
    # The officer's boxes come back as they typed them, under the answer they chose.
    assert page.doc.xpath("//input[@id='laestab']/@value") == ["80730"]
    page = officer.post(url, {"status": "known-at-address"}, status=400)
    assert page.error_links() == {"address_line1": "Enter the address the child is known at"}
    page = officer.post(url, {"status": "moved-on", "moved_to_la": "8"}, status=400)
    assert page.error_links() == {"moved_to_la": "The authority's code must be 3 digits, like 806"}
    assert _replies(exchange) == [] and len(_pending(exchange)) == 1


def test_an_enquiry_rejected_sends_nothing(exchange: WebEnv, officer: WebClient) -> None:
    ex.their_enquiry(exchange)
    proposal = _one_pending(exchange, "reply")
    page = officer.post(f"/exchange/answers/{proposal.id}/reject", {"reason": ""}, status=400)
    assert page.error_links() == {"reason": "Enter why you reject it"}
    officer.post(f"/exchange/answers/{proposal.id}/reject", {"reason": "Sent to us in error"})
    assert _replies(exchange) == [] and _pending(exchange) == []
    page = officer.get(f"/exchange/answers/{proposal.id}")
    assert "Rejected by olivia" in page.text("//*[@id='decided']")
    assert "Sent to us in error" in page.text("//*[@id='decided']")
    # Deciding twice is refused, in words, on the page.
    page = officer.post(f"/exchange/answers/{proposal.id}/approve", {"status": "not-known"},
                        status=400)  # fmt: skip
    assert page.error_links() == {"decision": f"Proposal {proposal.id} was already rejected"}


def test_a_status_request_is_answered_the_same_way(exchange: WebEnv, officer: WebClient) -> None:
    ex.their_enquiry(exchange, doc_type=DocType.STATUS_REQUEST, note=None)
    proposal = _one_pending(exchange, "reply")
    page = officer.get(f"/exchange/answers/{proposal.id}")
    assert page.h1 == "Status request about Amelia Testington"
    assert page.text("//*[@id='nothing-found']").startswith("Nothing found")
    officer.post(f"/exchange/answers/{proposal.id}/approve", {"status": "not-known"})
    assert [r.outcome.status for r in _replies(exchange)] == [ReplyStatus.NOT_KNOWN]


# -- a partner's answer to our enquiry -------------------------------------------------------


def _our_enquiry(web: WebEnv) -> tuple[int, str]:
    case_id = web.add_case("Ava", "Testmover", upn=UPN)
    with web.session() as s:
        sent = working.send_enquiry(s, web.settings, case_id, "806", "olivia")
        s.commit()
        return case_id, sent.message_id


def test_an_on_roll_answer_approved_closes_the_case(exchange: WebEnv, officer: WebClient) -> None:
    case_id, message_id = _our_enquiry(exchange)
    ex.their_answer(exchange, "806", message_id, ex.ON_ROLL, note="Started in January.")
    listing = officer.get("/exchange/answers")
    [row] = listing.doc.xpath("//table[@id='partner-answers-table']/tbody/tr")
    assert "They say: On roll at a school" in row.text_content()
    assert "Ava Testmover" in row.text_content()
    page = officer.get(row.xpath(".//a/@href")[0])
    assert page.h1 == "Answer about Ava Testmover"
    assert _summary(page, "said") == {
        "Their answer": "On roll at a school",
        "School": "8063001 (Example Primary)",
        "Start date": "6 January 2025",
    }
    assert page.doc.xpath(f"//a[@id='our-case'][@href='/cases/{case_id}']")
    assert f"Case CME-{case_id} closes: on roll at school 8063001" in page.text(
        "//*[@id='consequence']"
    )
    assert page.text("//pre[@id='their-note']") == "Started in January."
    proposal = _one_pending(exchange, "case_update")
    done = officer.post(f"/exchange/answers/{proposal.id}/approve", {})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    with exchange.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == ("closed", "on_roll_other_la")
        assert case.outcome_detail["school"] == "8063001"
    page = officer.get(f"/cases/{case_id}")
    assert "was applied to case" in page.text("//div[contains(@class,'govuk-notification-banner')]")


def test_an_answer_in_progress_puts_the_child_on_the_monitoring_list(
    exchange: WebEnv, officer: WebClient
) -> None:
    case_id, message_id = _our_enquiry(exchange)
    ex.their_answer(exchange, "806", message_id, Outcome(ReplyStatus.APPLICATION_IN_PROGRESS))
    proposal = _one_pending(exchange, "case_update")
    page = officer.get(f"/exchange/answers/{proposal.id}")
    assert "goes on the monitoring list with Test LA 806" in page.text("//*[@id='consequence']")
    officer.post(f"/exchange/answers/{proposal.id}/approve", {})
    with exchange.session() as s:
        row = s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()
        assert (row.status, row.partner_la) == ("active", "806")


def test_a_partner_answer_rejected_changes_nothing(exchange: WebEnv, officer: WebClient) -> None:
    case_id, message_id = _our_enquiry(exchange)
    ex.their_answer(exchange, "806", message_id, ex.ON_ROLL)
    proposal = _one_pending(exchange, "case_update")
    officer.post(f"/exchange/answers/{proposal.id}/reject", {"reason": "Not the same child"})
    with exchange.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status != "closed"
    [entry] = exchange.audit("exchange.reject")
    assert entry.detail["reason"] == "Not the same child"


def test_an_answer_to_nothing_we_sent_can_only_be_rejected(
    exchange: WebEnv, officer: WebClient
) -> None:
    ex.their_answer(exchange, "806", str(uuid.uuid4()), ex.ON_ROLL)
    proposal = _one_pending(exchange, "case_update")
    page = officer.get(f"/exchange/answers/{proposal.id}")
    assert "not linked to one of our cases" in page.text("//*[@id='problem']")
    assert not page.doc.xpath("//button[@id='approve']")
    assert page.doc.xpath("//button[@id='reject']")


# -- dead letters ---------------------------------------------------------------------------


def _dead_enquiry(web: WebEnv, case_id: int, channel: str = "https") -> int:
    with web.session() as s:
        from gateway.exchange.records import Channel

        row = working.send_enquiry(
            s, web.settings, case_id, "806", "olivia", channel=Channel(channel)
        )
        row.status, row.attempts, row.next_attempt_at = "dead", 12, None
        row.last_error = "OSError: partner answered HTTP 503 (gave up: dead letter)"
        s.commit()
        return row.id


def _dead_email(web: WebEnv, case_id: int) -> int:
    with web.session() as s:
        item = outbox.queue(
            s, web.settings, kind="progress_update", to=["head@school.example"],
            subject="[CME] Referral progress update", body="text", case_id=case_id,
        )  # fmt: skip
        item.status, item.attempts = "dead", 8
        item.last_error = "SMTPRecipientsRefused: {'head@school.example': (550, b'User unknown')}"
        s.commit()
        return item.id


def _timeline(web: WebEnv, case_id: int) -> list[str]:
    with web.session() as s:
        return list(
            s.execute(
                select(TimelineEntry.summary)
                .where(TimelineEntry.case_id == case_id)
                .order_by(TimelineEntry.id)
            ).scalars()
        )


def test_dead_letters_are_listed_with_their_error_in_words(
    exchange: WebEnv, officer: WebClient
) -> None:
    case_id = exchange.add_case()
    message = _dead_enquiry(exchange, case_id)
    email = _dead_email(exchange, case_id)
    page = officer.get("/exchange/dead")
    assert page.h1 == "Dead letters"
    assert page.text("//*[@id='dead-count']") == "2 messages could not be delivered"
    card = page.text(f"//div[@id='dead-exchange-{message}']")
    assert "Enquiry to Test LA 806 (LA 806) by HTTPS" in card
    assert "Their server refused the message (HTTP 503). It was tried 12 times" in card
    assert f"CME-{case_id}" in card
    card = page.text(f"//div[@id='dead-outbox-{email}']")
    assert "Letter to the referrer: progress update to head@school.example" in card
    assert "The mail server refused the recipient's address." in card
    assert page.text("//a[@id='nav-exchange']") == "Exchange (2 waiting)"
    [entry] = exchange.audit("dead_letter.list")
    assert entry.detail == {"items": [f"exchange:{message}", f"outbox:{email}"]}


def test_resend_puts_a_dead_letter_back_in_the_queue(exchange: WebEnv, officer: WebClient) -> None:
    case_id = exchange.add_case()
    message = _dead_enquiry(exchange, case_id)
    email = _dead_email(exchange, case_id)
    officer.post(f"/exchange/dead/exchange/{message}/resend", {})
    officer.post(f"/exchange/dead/outbox/{email}/resend", {})
    with exchange.session() as s:
        row = s.get(ExchangeMessage, message)
        assert row is not None
        assert (row.status, row.attempts, row.last_error) == ("queued", 0, None)
        assert row.next_attempt_at is not None and row.next_attempt_at <= utcnow()
        item = s.get(OutboxMessage, email)
        assert item is not None and (item.status, item.attempts) == ("pending", 0)
    assert sum("sent again" in t for t in _timeline(exchange, case_id)) == 2
    assert [e.actor for e in exchange.audit("dead_letter.resend")] == ["olivia", "olivia"]
    page = officer.get("/exchange/dead")
    assert page.text("//*[@id='no-dead']")
    # Gone from the list: a second resend (an old page) is refused in words.
    page = officer.post(f"/exchange/dead/exchange/{message}/resend", {}, status=400)
    assert "no longer a dead letter" in page.error_links()["dead-count"]


def test_a_dead_letter_by_mail_is_mailed_once_more(exchange: WebEnv, officer: WebClient) -> None:
    case_id = exchange.add_case()
    message = _dead_enquiry(exchange, case_id, channel="mail")
    officer.post(f"/exchange/dead/exchange/{message}/resend", {})
    with exchange.session() as s:
        row = s.get(ExchangeMessage, message)
        assert row is not None and (row.status, row.attempts) == ("awaiting_receipt", 13)
        [mail] = s.execute(select(OutboxMessage).where(OutboxMessage.kind == "exchange")).scalars()
        assert mail.status == "pending" and ".13@" in mail.message_id


def test_abandon_needs_a_reason_and_the_case_says_so(exchange: WebEnv, officer: WebClient) -> None:
    case_id = exchange.add_case()
    message = _dead_enquiry(exchange, case_id)
    url = f"/exchange/dead/exchange/{message}/abandon"
    page = officer.get(url)
    assert page.h1 == "Abandon the enquiry"
    page = officer.post(url, {"reason": "  "}, status=400)
    assert page.error_links() == {"reason": "Enter why the message is abandoned"}
    officer.post(url, {"reason": "Phoned their CME lead instead"})
    with exchange.session() as s:
        row = s.get(ExchangeMessage, message)
        assert row is not None and row.status == "abandoned"
    assert (
        "Enquiry to Test LA 806 (LA 806) by HTTPS could not be delivered and was abandoned: "
        "Phoned their CME lead instead"
    ) in _timeline(exchange, case_id)
    [entry] = exchange.audit("dead_letter.abandon")
    assert entry.detail == {"case_id": case_id, "reason": "Phoned their CME lead instead"}
    officer.get(url, status=404)


def test_nothing_is_resent_about_a_closed_case(exchange: WebEnv, officer: WebClient) -> None:
    from gateway.cases.service import close_case

    case_id = exchange.add_case()
    message = _dead_enquiry(exchange, case_id)
    with exchange.session() as s:
        close_case(s, exchange.settings, case_id, "left_england", {}, "test")
        s.commit()
    page = officer.post(f"/exchange/dead/exchange/{message}/resend", {}, status=400)
    assert "is closed" in page.error_links()[f"dead-exchange-{message}"]
    officer.get("/exchange/dead/other/1/abandon", status=404)


# -- the exchange quarantine ----------------------------------------------------------------

HOSTILE = b"<script>alert('owned')</script>\x00\x1b[31m\\ \xff" + b"\x30\x82" + b"\xab" * 400


def test_a_refused_message_shows_the_real_reason_and_escaped_bytes(
    exchange: WebEnv, officer: WebClient
) -> None:
    answer = officer.raw.post(
        "/exchange", data=HOSTILE, content_type="application/pkcs7-mime",
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    )  # fmt: skip
    assert answer.status_code == 400
    generic = answer.get_data(as_text=True).strip()
    with exchange.session() as s:
        [held] = s.execute(select(QuarantinedMessage)).scalars()
        reason = held.reason
    assert reason != generic  # the sender learnt nothing; the officer sees why
    listing = officer.get("/exchange/quarantine")
    assert listing.h1 == "Exchange quarantine"
    row = listing.text(f"//tr[@id='refused-{held.id}']")
    assert reason[:40] in row and "Not authenticated" in row and "192.0.2.99" in row
    page = officer.get(f"/exchange/quarantine/{held.id}")
    assert page.text("//*[@id='reason']") == " ".join(reason.split())
    details = _summary(page, "refused")
    assert details["Sent from"] == "192.0.2.99"
    assert details["Signed by"].startswith("Not known")
    assert details["Kept whole"] == "No: only its first 256 bytes are kept"
    assert details["Size"] == f"{len(HOSTILE)} bytes"
    assert page.text("//code[@id='sha256']") == hashlib.sha256(HOSTILE).hexdigest()
    # Shown as inert text: no script element, the bytes escaped, the hex readable.
    assert not page.doc.xpath("//main//script")
    text = page.doc.xpath("string(//pre[@id='prefix-text'])")
    assert max(len(line) for line in text.splitlines()) <= 32 * 4  # a line per 32 bytes
    text = text.replace("\n", "")
    assert text.startswith("<script>alert('owned')</script>\\x00\\x1b[31m\\\\ \\xff0\\x82\\xab")
    assert "<script>" not in page.response.get_data(as_text=True).split("prefix-text")[1][:200]
    hexed = page.doc.xpath("string(//pre[@id='prefix-hex'])")
    assert hexed.startswith("00000000  3c 73 63 72 69 70 74 3e")
    assert [e.action for e in exchange.audit("exchange_quarantine.list")] == [
        "exchange_quarantine.list"
    ]
    [viewed] = exchange.audit("exchange_quarantine.view")
    assert (viewed.actor, viewed.entity_id) == ("olivia", str(held.id))


def test_a_refusal_after_the_signature_verified_names_the_signer(
    exchange: WebEnv, officer: WebClient
) -> None:
    import dataclasses

    from gateway.exchange.envelope import seal
    from gateway.exchange.keys import load_identity
    from parsers.exchange import Document, Pupil, render_document

    doc = Document(
        DocType.ENQUIRY, ex._header("806"), case_ref="X", lawful_basis="basis",
        pupil=Pupil("Testington", "Amelia"),
    )  # fmt: skip
    doc = dataclasses.replace(doc, header=dataclasses.replace(doc.header, recipient_la="805"))
    sealed = seal(
        render_document(doc), "x", sender=ex.partner_identity("806"),
        recipient=load_identity(exchange.settings.keys_dir).certificate,
    )  # fmt: skip
    answer = officer.raw.post("/exchange", data=sealed.der, content_type="application/pkcs7-mime")
    assert answer.status_code == 400
    with exchange.session() as s:
        [held] = s.execute(select(QuarantinedMessage)).scalars()
    page = officer.get(f"/exchange/quarantine/{held.id}")
    assert page.text("//*[@id='reason']") == "document is addressed to LA 805, not us"
    details = _summary(page, "refused")
    assert details["Signed by"] == "Test LA 806 (LA 806)"
    assert details["Kept whole"].startswith("Yes")


def test_the_quarantine_when_empty_and_out_of_range(exchange: WebEnv, officer: WebClient) -> None:
    page = officer.get("/exchange/quarantine")
    assert page.text("//*[@id='none-refused']")
    officer.get("/exchange/quarantine?page=0", status=404)
    officer.get("/exchange/quarantine?page=2", status=404)
    officer.get("/exchange/quarantine/999", status=404)
    with exchange.session() as s:
        assert s.execute(select(func.count(QuarantinedMessage.id))).scalar_one() == 0


# -- the partner directory ------------------------------------------------------------------


def test_the_directory_warns_of_certificates_expiring_or_expired(
    exchange: WebEnv, officer: WebClient
) -> None:
    ex.add(exchange, "805", "soon", url=False)
    ex.add(exchange, "808", "expired")
    page = officer.get("/exchange/partners")
    assert page.h1 == "Partner directory"
    rows = page.doc.xpath("//table[@id='partners']/tbody/tr/@id")
    assert rows == ["partner-805", "partner-806", "partner-808"]
    row = page.text("//tr[@id='partner-806']")
    assert "Test LA 806" in row and "cme@la806.example" in row
    assert "https://la806.example/exchange" in row
    assert "secure email only" in page.text("//tr[@id='partner-805']")
    pin = ex.partner_identity("806").certificate
    from gateway.exchange.keys import fingerprint

    shown = page.doc.xpath("//tr[@id='partner-806']//code/@data-fingerprint")
    assert shown == [fingerprint(pin)]
    assert not page.doc.xpath("//tr[@id='partner-806']//*[@data-cert]")
    assert page.doc.xpath("//tr[@id='partner-805']//*[@data-cert='expires-soon']")
    assert page.doc.xpath("//tr[@id='partner-808']//*[@data-cert='expired']")
    soon = page.text("//div[@id='warning-805']")
    assert "expires in 9 days" in soon or "expires in 10 days" in soon
    assert "Ask them for their new one" in soon
    assert "expired on" in page.text("//div[@id='warning-808']")
    assert not page.doc.xpath("//div[@id='warning-806']")
    home = officer.get("/exchange")
    assert "2 partner certificates have expired or expire soon" in home.text(
        "//*[@id='certificate-warning']"
    )
