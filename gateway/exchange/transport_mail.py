"""S/MIME mail transport: the sealed message as application/pkcs7-mime through the outbox."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.utils import formatdate

from sqlalchemy.orm import Session

from gateway import outbox
from gateway.models.exchange import ExchangeMessage
from gateway.settings import Settings

_THREAD_ID = re.compile(r"<exchange\.([0-9a-f-]{36})(?:\.\d+)?@")


def mail_message_id(settings: Settings, message_id: str, attempt: int) -> str:
    domain = settings.outbox.from_address.rpartition("@")[2] or "cme.invalid"
    return f"<exchange.{message_id}.{attempt}@{domain}>"


def build_mail(
    settings: Settings, row: ExchangeMessage, to: str, *, attempt: int
) -> tuple[str, str, bytes]:
    """(Message-ID, Subject, bytes): the Subject names no child, only the message type."""
    mid = mail_message_id(settings, row.message_id, attempt)
    subject = f"CME secure exchange: {row.doc_type} from LA {settings.core.la_code}"
    headers = [
        f"From: {settings.outbox.from_address}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {formatdate(localtime=False, usegmt=True)}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="smime.p7m"',
        "X-CME-Exchange: 1",
    ]
    if row.in_reply_to:
        ref = f"<exchange.{row.in_reply_to}@{to.rpartition('@')[2]}>"
        headers += [f"In-Reply-To: {ref}", f"References: {ref}"]
    body = base64.encodebytes(row.wire).replace(b"\n", b"\r\n")
    return mid, subject, "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + body


def queue_mail(session: Session, settings: Settings, row: ExchangeMessage, to: str) -> None:
    """Put one attempt of this message in the outbox (same S/MIME bytes every time)."""
    mid, subject, raw = build_mail(settings, row, to, attempt=row.attempts)
    outbox.queue(
        session,
        settings,
        kind="exchange",
        to=[to],
        subject=subject,
        body="",
        case_id=row.case_id,
        raw=raw,
        message_id=mid,
    )


def is_smime(raw: bytes) -> bool:
    """True for a message the exchange should read: application/pkcs7-mime or multipart/signed."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg.get_content_type() in {
        "application/pkcs7-mime",
        "application/x-pkcs7-mime",
        "multipart/signed",
    }


def threaded_exchange_id(raw: bytes) -> str | None:
    """The exchange message id a mail reply answers, from In-Reply-To or References."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for header in ("In-Reply-To", "References"):
        value = str(msg.get(header, ""))
        found = _THREAD_ID.search(value)
        if found:
            return found.group(1)
    return None
