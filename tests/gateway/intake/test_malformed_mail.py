"""Malformed and odd mail through the real listeners (aiosmtpd with smtplib, Dovecot over
IMAP): the listener keeps taking mail, and every message ends in a case or the quarantine."""

from __future__ import annotations

import dataclasses
import random
import smtplib

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.intake import dispatch  # noqa: F401 (registers the dispatch job)
from gateway.intake.imap import ImapPoller
from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.models.intake import QuarantineEntry, RawMessage
from gateway.settings import Settings
from tests.fixtures import mail
from tests.support.dovecot import Dovecot

FRAGMENTS = [
    b"From: a@school-806.example\r\n", b"Subject: x\r\n", b"\r\n", b"--q\r\n", b"--q--\r\n",
    b'Content-Type: multipart/mixed; boundary="q"\r\n', b"Content-Type: text/html\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"=?utf-8?b?////?=\r\n", b"body text\r\n",
    b"Content-Disposition: attachment; filename*=utf-8''%FF%FE\r\n", b"<p>unclosed\r\n",
    b"Content-Type: message/rfc822\r\n", b"\xff\xfe not utf-8\r\n",
]  # fmt: skip
EIGHT_BIT = "Subject: Référence élève\r\nFrom: é@school-806.example\r\n\r\nx\r\n".encode()
TNEF = b"\x78\x9f\x3e\x22\x01\x00\x01\x06\x90\x08\x00" + bytes(range(256)) * 4


def _fuzz(seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30))) + b"\r\n"


def _corpus() -> dict[str, bytes]:
    corpus = {
        "no headers": b"\x00\x00 not a message at all \x00\r\n",
        "NUL bytes": mail.referral(71).replace(b"Postcode:", b"Post\x00code:"),
        "nested 200 deep": mail.nested(200),
        "winmail.dat": mail.with_attachment("winmail.dat", TNEF, "application/ms-tnef"),
        "executable": mail.with_attachment("invoice.pdf.exe", b"MZ\x90\x00" + b"\x00" * 512),
        "8-bit header": EIGHT_BIT,
    }
    corpus.update({f"fuzz {seed}": _fuzz(seed) for seed in range(20)})
    return corpus


FIFTY_MB = mail.with_attachment("scan.pdf", b"%PDF-1.7\n" + b"\x00" * 50_000_000)


def _outcomes(engine: Engine) -> list[tuple[str, str | None, str | None]]:
    """(outcome, case_id, open quarantine reason) of every raw message."""
    with Session(engine) as s:
        rows = s.execute(select(RawMessage).order_by(RawMessage.id)).scalars().all()
        held = {q.raw_id: q.reason for q in s.execute(select(QuarantineEntry)).scalars()}
        return [(r.outcome or "", r.case_id and str(r.case_id), held.get(r.id)) for r in rows]


def _assert_each_in_a_case_or_quarantine(engine: Engine, expected: int) -> set[str]:
    outcomes = _outcomes(engine)
    assert len(outcomes) == expected
    for outcome, case_id, reason in outcomes:
        assert (
            (outcome == "case" and case_id)
            or (outcome == "triage" and not case_id)
            or (outcome == "quarantined" and reason)
        ), outcomes
    return {reason for _, _, reason in outcomes if reason}


def test_smtp_listener_survives_malformed_mail_and_each_ends_in_a_case_or_quarantine(
    intake_settings: Settings, store: RawStore, engine: Engine
) -> None:
    listener = SmtpListener(intake_settings, store, port=0)  # the default 25 MiB size limit
    host, port = listener.start()
    corpus = _corpus()
    try:
        with smtplib.SMTP(host, port, timeout=60) as client:
            for name, data in corpus.items():
                assert client.sendmail("a@school-806.example", [mail.INBOX], data) == {}, name
            with pytest.raises(smtplib.SMTPException) as refused:
                client.sendmail("a@school-806.example", [mail.INBOX], FIFTY_MB)
        assert getattr(refused.value, "smtp_code", None) == 552  # over the limit: a clear no
        with smtplib.SMTP(host, port, timeout=60) as client:  # and the listener still serves
            assert client.sendmail("a@school-806.example", [mail.INBOX], mail.referral(72)) == {}
    finally:
        listener.stop(grace=1)
    store.close()
    jobs.drain(engine, intake_settings)
    reasons = _assert_each_in_a_case_or_quarantine(engine, len(corpus) + 1)
    assert {"no_headers", "mime_too_deep", "executable_attachment"} <= reasons


def test_imap_poller_takes_malformed_and_oversized_mail_and_each_ends_in_a_case_or_quarantine(
    intake_settings: Settings,
    store: RawStore,
    engine: Engine,
    dovecot: Dovecot,
    mailbox: IMAPClient,
) -> None:
    settings = dataclasses.replace(
        intake_settings,
        imap=dataclasses.replace(
            intake_settings.imap, enabled=True, host="127.0.0.1", port=dovecot.port, ssl=False,
            user=dovecot.user, password=dovecot.password,
        ),
    )  # fmt: skip
    # IMAP APPEND carries no NUL bytes (RFC 3501 literals); the SMTP test sends those.
    corpus = {k: v for k, v in _corpus().items() if b"\x00" not in v}
    corpus["50 MB attachment"] = FIFTY_MB
    for data in corpus.values():
        mailbox.append("INBOX", data)
    poller = ImapPoller(settings, engine, store)
    report = poller.poll_once()
    poller.disconnect()
    assert (report.fetched, report.stored) == (len(corpus), len(corpus))
    mailbox.select_folder("Quarantine", readonly=True)
    assert len(mailbox.search()) == 1  # the oversized one, kept where the officer can see it
    jobs.drain(engine, settings)
    reasons = _assert_each_in_a_case_or_quarantine(engine, len(corpus))
    assert {"message_too_large", "mime_too_deep", "executable_attachment"} <= reasons
