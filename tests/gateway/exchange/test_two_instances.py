"""Two gateway instances, LA 807 and LA 806, exchanging over HTTPS and over SMTP."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from gateway import outbox
from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.db import session_scope, utcnow
from gateway.exchange import service, working
from gateway.exchange.documents import new_header, plain_text
from gateway.exchange.envelope import seal
from gateway.exchange.keys import load_identity
from gateway.exchange.outbound import deliver_due
from gateway.exchange.partners import add_partner
from gateway.exchange.records import LAWFUL_BASIS, Channel, OutStatus, Verdict
from gateway.exchange.transport_http import poster
from gateway.models.case import Case
from gateway.models.exchange import (
    Disclosure,
    ExchangeMessage,
    Monitoring,
    Proposal,
    QuarantinedMessage,
)
from parsers.exchange import DocType, Document, Pupil, render_document
from tests.gateway.exchange.conftest import Mailbox, make_identity
from tests.gateway.exchange.instances import (
    Instance,
    env_for,
    make_instance,
    running,
    serve,
    tls_files,
)


@pytest.fixture
def pair(tmp_path: Path, mailbox: tuple[Mailbox, str]) -> Iterator[tuple[Instance, Instance]]:
    _box, relay = mailbox
    tls = tls_files(tmp_path)
    extra = {"CME_EXCHANGE_MAX_ATTEMPTS": "3", "CME_EXCHANGE_RETRY_BASE_SECONDS": "60"}
    a = make_instance(
        "807", tmp_path, f"sqlite:///{tmp_path / 'la807.db'}",
        env_for("807", tmp_path / "home807", f"sqlite:///{tmp_path / 'la807.db'}", relay, **extra),
    )  # fmt: skip
    b = make_instance(
        "806", tmp_path, f"sqlite:///{tmp_path / 'la806.db'}",
        env_for("806", tmp_path / "home806", f"sqlite:///{tmp_path / 'la806.db'}", relay, **extra),
    )  # fmt: skip
    with running(a, b):
        for inst in (a, b):
            serve(inst, tls)
            shutil.copy(tls[0], inst.home / "exchange" / "https-ca.pem")
        for me, other in ((a, b), (b, a)):
            with session_scope(me.engine) as s:
                add_partner(
                    s, me.settings, la_code=other.la, name=f"Test LA {other.la}",
                    email=f"cme@la{other.la}.example", cert_bytes=other.cert_pem(), url=other.url,
                )  # fmt: skip
        yield a, b


def _case(inst: Instance) -> int:
    data = build_referral_input(
        {
            "forename": "Amelia",
            "surname": "Testington",
            "dob": "2014-05-06",
            "sex": "F",
            "upn": "R807300024001",
            "address_line1": "1 Imaginary Row",
            "town": "Redcar",
            "postcode": "TS10 1AA",
            "reason": "moved, destination unknown",
            "channel": "other_la",
        },
        today=date.today(),
    )
    with session_scope(inst.engine) as s:
        return log_referral(s, inst.settings, data, "test:officer").id


def _one(inst: Instance, model: type, **where: object) -> object:
    with session_scope(inst.engine) as s:
        return s.execute(select(model).filter_by(**where)).scalar_one()


def _count(inst: Instance, model: type, **where: object) -> int:
    with session_scope(inst.engine) as s:
        return int(s.execute(select(func.count()).select_from(model).filter_by(**where)).scalar())


def _pending(inst: Instance) -> list[Proposal]:
    with session_scope(inst.engine) as s:
        return working.pending(s)


def test_enquiry_reply_over_https_closes_the_case(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    case_id = _case(a)
    with session_scope(a.engine) as s:
        sent = working.send_enquiry(s, a.settings, case_id, "806", "test:officer")
        enquiry_id = sent.message_id
    report = deliver_due(a.engine, a.settings)
    assert report.delivered == 1
    out = _one(a, ExchangeMessage, message_id=enquiry_id, direction="out")
    assert out.status == OutStatus.DELIVERED  # type: ignore[attr-defined]
    # 806 holds the enquiry and proposes an answer to its own officer.
    [proposal] = _pending(b)
    assert proposal.detail["proposed"]["status"] == "not-known"
    with session_scope(b.engine) as s:
        working.approve(
            s, b.settings, proposal.id, "test:806-officer",
            override={"status": "on-roll", "laestab": "8063001", "start_date": "2025-01-06"},
        )  # fmt: skip
    assert deliver_due(b.engine, b.settings).delivered == 1
    # 807 sees the reply as a proposed outcome; the officer confirms and the case closes.
    [update] = _pending(a)
    assert update.case_id == case_id and update.detail["status"] == "on-roll"
    with session_scope(a.engine) as s:
        working.approve(s, a.settings, update.id, "test:officer")
    case = _one(a, Case, id=case_id)
    assert case.status == "closed"  # type: ignore[attr-defined]
    assert case.outcome == "on_roll_other_la"  # type: ignore[attr-defined]
    assert case.outcome_detail["school"] == "8063001"  # type: ignore[attr-defined]
    # Every disclosure recorded on both sides, with basis and channel.
    d = _one(a, Disclosure, message_id=enquiry_id)
    assert d.recipient_la == "806" and d.channel == "https"  # type: ignore[attr-defined]
    assert (d.kind, d.basis) == ("enquiry", "public_task")  # type: ignore[attr-defined]
    assert "dob" in d.data_items  # type: ignore[attr-defined]
    assert _count(b, Disclosure, recipient_la="807") == 1


def test_monitoring_status_requests_until_placed(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    case_id = _case(a)
    with session_scope(a.engine) as s:
        working.send_enquiry(s, a.settings, case_id, "806", "test:officer")
    deliver_due(a.engine, a.settings)
    [p] = _pending(b)
    with session_scope(b.engine) as s:
        working.approve(s, b.settings, p.id, "o806", override={"status": "application-in-progress"})
    deliver_due(b.engine, b.settings)
    [update] = _pending(a)
    with session_scope(a.engine) as s:
        working.approve(s, a.settings, update.id, "test:officer")
    mon = _one(a, Monitoring, case_id=case_id)
    assert mon.status == "active" and mon.partner_la == "806"  # type: ignore[attr-defined]
    # Nothing due yet; after the interval a status request goes out by itself.
    assert service.tick(a.engine, a.settings)["status_requests"] == 0
    later = utcnow() + timedelta(days=a.settings.exchange.monitoring_interval_days, hours=1)
    from gateway.exchange.monitoring import send_due_status_requests

    assert send_due_status_requests(a.engine, a.settings, later) == 1
    assert deliver_due(a.engine, a.settings).delivered == 1
    [status_request] = _pending(b)
    assert status_request.detail["doc_type"] == "status-request"
    with session_scope(b.engine) as s:
        working.approve(
            s, b.settings, status_request.id, "o806",
            override={"status": "on-roll", "laestab": "8062002", "start_date": "2025-02-03"},
        )  # fmt: skip
    deliver_due(b.engine, b.settings)
    [confirm] = _pending(a)
    with session_scope(a.engine) as s:
        working.approve(s, a.settings, confirm.id, "test:officer")
    mon = _one(a, Monitoring, case_id=case_id)
    assert mon.status == "closed"  # type: ignore[attr-defined]
    assert _one(a, Case, id=case_id).outcome == "on_roll_other_la"  # type: ignore[attr-defined]


def test_partner_down_retries_then_dead_letter(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    case_id = _case(a)
    b.stop_server()
    with session_scope(a.engine) as s:
        msg_id = working.send_enquiry(s, a.settings, case_id, "806", "test:officer").message_id
    now = utcnow()
    assert deliver_due(a.engine, a.settings, now=now).retrying == 1
    assert deliver_due(a.engine, a.settings, now=now).retrying == 0  # backing off
    now += timedelta(seconds=61)
    assert deliver_due(a.engine, a.settings, now=now).retrying == 1
    now += timedelta(seconds=121)
    assert deliver_due(a.engine, a.settings, now=now).retrying == 1
    now += timedelta(seconds=241)
    assert deliver_due(a.engine, a.settings, now=now).dead == 1
    row = _one(a, ExchangeMessage, message_id=msg_id)
    assert row.status == OutStatus.DEAD and row.attempts == 3  # type: ignore[attr-defined]


def test_duplicate_replay_tamper_wrong_signer_expired(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    post = poster(a.settings)
    case_id = _case(a)
    with session_scope(a.engine) as s:
        sent = working.send_enquiry(s, a.settings, case_id, "806", "test:officer")
        wire, msg_id, document = sent.wire, sent.message_id, sent.document
    first = post(b.url, wire)
    second = post(b.url, wire)
    assert first == second  # the stored receipt, byte for byte
    assert _count(b, ExchangeMessage, direction="in", message_id=msg_id) == 1
    assert len(_pending(b)) == 1  # processed once

    def refused(body: bytes) -> None:
        with pytest.raises(OSError, match="HTTP 400"):
            post(b.url, body)

    me = load_identity(a.settings.keys_dir)
    partner_cert = load_identity(b.settings.keys_dir).certificate
    # Replay: the same message id, sealed again (other bytes).
    refused(seal(document, "x", sender=me, recipient=partner_cert).der)
    # Outside the time window.
    old = Document(
        DocType.ENQUIRY,
        new_header(a.settings, "806"),
        case_ref="CME-1",
        lawful_basis=LAWFUL_BASIS,
        pupil=Pupil("Testington", "Amelia"),
    )
    old = dataclasses.replace(
        old, header=dataclasses.replace(old.header, created_at=utcnow() - timedelta(days=3))
    )
    refused(seal(render_document(old), plain_text(old, a.settings), sender=me,
                 recipient=partner_cert).der)  # fmt: skip
    # Tampered ciphertext.
    bad = bytearray(wire)
    bad[len(bad) // 2] ^= 0x01
    refused(bytes(bad))
    # Wrong signer: a key that is not the one LA 806 pinned for 807.
    fresh = dataclasses.replace(old, header=new_header(a.settings, "806"))
    impostor = make_identity("807")
    refused(seal(render_document(fresh), "x", sender=impostor, recipient=partner_cert).der)
    # Expired certificate, pinned by 806 as LA 808.
    expired = make_identity("808", expired=True)
    with session_scope(b.engine) as s:
        add_partner(
            s, b.settings, la_code="808", name="Expired LA", email="cme@la808.example",
            cert_bytes=expired.certificate.public_bytes(serialization.Encoding.PEM),
        )  # fmt: skip
    from_808 = dataclasses.replace(
        fresh, header=dataclasses.replace(new_header(a.settings, "806"), sender_la="808")
    )
    refused(seal(render_document(from_808), "x", sender=expired, recipient=partner_cert).der)
    # Every refusal is quarantined with its reason; nothing else was processed.
    assert _count(b, QuarantinedMessage) == 5
    assert len(_pending(b)) == 1


def _mail_enquiry(a: Instance) -> tuple[int, str]:
    """A new case at A and an enquiry about it to LA 806, sealed for mail: (case, message)."""
    case_id = _case(a)
    with session_scope(a.engine) as s:
        sent = working.send_enquiry(
            s, a.settings, case_id, "806", "test:officer", channel=Channel.MAIL
        )
        return case_id, sent.message_id


def _mail_client_reply(a: Instance, b: Instance, msg_id: str, tmp_path: Path) -> bytes:
    """B's CME lead answers A's message in words from a mail client (openssl plays it)."""
    text = tmp_path / "reply.txt"
    text.write_bytes(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"She started at Example Primary on 6 Jan.\r\n"
    )
    ib = load_identity(b.settings.keys_dir)
    (tmp_path / "b.crt").write_bytes(ib.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "b.key").write_bytes(
        ib.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "a.crt").write_bytes(a.cert_pem())
    signed = subprocess.run(
        ["openssl", "cms", "-sign", "-in", str(text), "-signer", str(tmp_path / "b.crt"),
         "-inkey", str(tmp_path / "b.key")],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    enc = subprocess.run(
        ["openssl", "cms", "-encrypt", "-aes256", "-from", "cme@la806.example",
         "-to", "cme@la807.example", "-subject", "RE: CME secure exchange",
         str(tmp_path / "a.crt")],
        input=signed, capture_output=True, check=True,
    ).stdout  # fmt: skip
    reply = f"In-Reply-To: <exchange.{msg_id}.1@la807.example>\r\n".encode() + enc.replace(
        b"\r\n", b"\n"
    ).replace(b"\n", b"\r\n")
    return reply


def test_smtp_both_ways_and_a_mail_client_reply(
    pair: tuple[Instance, Instance], mailbox: tuple[Mailbox, str], tmp_path: Path
) -> None:
    a, b = pair
    box, _relay = mailbox
    case_id, msg_id = _mail_enquiry(a)
    assert deliver_due(a.engine, a.settings).sent_by_mail == 1
    assert outbox.send_due(a.engine, a.settings).sent == 1
    [mail] = box.messages
    assert b"Amelia" not in mail and b"Testington" not in mail  # nothing in clear
    assert service.is_smime(mail)
    with session_scope(b.engine) as s:
        outcome = service.handle_inbound_mail(s, b.settings, mail)
    assert outcome.verdict is Verdict.ACCEPTED
    with session_scope(b.engine) as s:  # the same mail again: processed once
        assert service.handle_inbound_mail(s, b.settings, mail).verdict is Verdict.DUPLICATE
    assert outbox.send_due(b.engine, b.settings).sent == 1  # the receipt goes back by mail
    receipt_mail = box.messages[1]
    with session_scope(a.engine) as s:
        assert service.handle_inbound_mail(s, a.settings, receipt_mail).verdict is Verdict.RECEIPT
    assert _one(a, ExchangeMessage, message_id=msg_id, direction="out").status == "delivered"  # type: ignore[attr-defined]

    # A CME lead with only a mail client answers in words.
    reply = _mail_client_reply(a, b, msg_id, tmp_path)
    with session_scope(a.engine) as s:
        assert service.handle_inbound_mail(s, a.settings, reply).verdict is Verdict.ACCEPTED
    [free] = [p for p in _pending(a) if p.kind == "free_text"]
    assert free.case_id == case_id
    assert "Example Primary" in free.detail["text"]


def test_a_mail_client_reply_stops_the_resending(
    pair: tuple[Instance, Instance], mailbox: tuple[Mailbox, str], tmp_path: Path
) -> None:
    """A partner with only a mailbox sends no receipts: its signed answer is the proof that
    our enquiry arrived, so it is not mailed again."""
    a, b = pair
    _case_id, msg_id = _mail_enquiry(a)
    assert deliver_due(a.engine, a.settings).sent_by_mail == 1
    reply = _mail_client_reply(a, b, msg_id, tmp_path)
    with session_scope(a.engine) as s:
        assert service.handle_inbound_mail(s, a.settings, reply).verdict is Verdict.ACCEPTED
    assert _one(a, ExchangeMessage, message_id=msg_id, direction="out").status == "delivered"  # type: ignore[attr-defined]
    later = utcnow() + timedelta(days=3)
    assert deliver_due(a.engine, a.settings, now=later).sent_by_mail == 0


def test_mail_is_sent_again_after_days_not_minutes_then_dead_lettered(
    pair: tuple[Instance, Instance],
) -> None:
    a, _b = pair
    _mail_enquiry(a)
    start = utcnow()
    assert deliver_due(a.engine, a.settings, now=start).sent_by_mail == 1
    hours = [1, 47, 49, 140, 146, 400]  # resent after 48 h, then 96 h more; 3 sends in all
    got = [deliver_due(a.engine, a.settings, now=start + timedelta(hours=h)) for h in hours]
    assert [r.sent_by_mail for r in got] == [0, 0, 1, 0, 1, 0]
    assert got[-1].dead == 1
