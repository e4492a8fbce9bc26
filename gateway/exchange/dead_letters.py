"""Dead letters: exchange messages and emails that could not be delivered, resent or
abandoned by an officer (audited; the case's timeline says which, and why)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.workflow import CLOSED
from gateway.db import utcnow
from gateway.exchange import transport_mail
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import DOC_TYPES, label, outbox_kind
from gateway.exchange.outbound import dead_letters as dead_exchange_messages
from gateway.exchange.outbound import mail_backoff
from gateway.exchange.partners import get_partner
from gateway.exchange.records import Channel, OutStatus
from gateway.models.case import Case, TimelineEntry
from gateway.models.exchange import ExchangeMessage, ExchangePartner
from gateway.models.ops import OutboxMessage
from gateway.settings import Settings

#: The outbox's own statuses (gateway.outbox), as strings there.
OUTBOX_DEAD = "dead"
OUTBOX_PENDING = "pending"
REASON_MAX = 500


class Source(enum.StrEnum):
    EXCHANGE = "exchange"  # an exchange message (HTTPS, or the mail it became)
    OUTBOX = "outbox"  # an email: a letter, an onward referral, an exchange message by mail


@dataclass(frozen=True)
class DeadLetter:
    source: Source
    id: int
    what: str
    to: str
    case_id: int | None
    attempts: int
    created_at: datetime
    error: str
    error_words: str

    @property
    def case_tag(self) -> str | None:
        return f"CME-{self.case_id}" if self.case_id is not None else None

    @property
    def title(self) -> str:
        return f"{self.what} to {self.to}"


#: Known causes, most specific first: (pattern in the stored error, what it means).
_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), words)
    for p, words in (
        (r"not a valid receipt", "Their server answered, but not with a valid signed receipt."),
        (r"receipt is for another|not a receipt from", "Their server answered with a receipt "
         "that is not for this message."),
        (r"HTTP (\d{3})", "Their server refused the message (HTTP {0})."),
        (r"certificate verify failed|SSLCertVerification|CERTIFICATE_VERIFY",
         "Their HTTPS certificate could not be trusted, so nothing was sent."),
        (r"timed out|TimeoutError", "Their server did not answer in time."),
        (r"Connection refused|ConnectionRefused", "Their server refused the connection: it "
         "may be down."),
        (r"Name or service not known|nodename nor servname|getaddrinfo|gaierror",
         "Their server's address could not be found."),
        (r"Network is unreachable|No route to host", "Their server could not be reached."),
        (r"SMTPRecipientsRefused|Recipient address rejected|User unknown|5\.1\.1",
         "The mail server refused the recipient's address."),
        (r"SMTP", "The mail server would not take the message."),
        (r"gave up: dead letter", "Every attempt failed."),
    )
)  # fmt: skip


def error_in_words(error: str | None, attempts: int) -> str:
    """What went wrong, as an officer would say it (the stored error is shown beside it)."""
    if not error:
        return f"It was sent {attempts} times with no receipt or answer, so sending stopped."
    for pattern, words in _CAUSES:
        found = pattern.search(error)
        if found:
            said = words.format(*found.groups())
            return f"{said} It was tried {attempts} times, then sending stopped."
    return f"It could not be delivered after {attempts} attempts."


def _partner_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(ExchangePartner.la_code, ExchangePartner.name)).all())


def _from_exchange(row: ExchangeMessage, names: dict[str, str]) -> DeadLetter:
    la = row.partner_la
    how = "HTTPS" if row.channel == Channel.HTTPS.value else "secure email"
    return DeadLetter(
        Source.EXCHANGE, row.id, label(DOC_TYPES, row.doc_type),
        f"{names.get(la, 'LA ' + la)} (LA {la}) by {how}",
        row.case_id, row.attempts, row.created_at, row.last_error or "",
        error_in_words(row.last_error, row.attempts),
    )  # fmt: skip


def _from_outbox(row: OutboxMessage) -> DeadLetter:
    return DeadLetter(
        Source.OUTBOX, row.id, outbox_kind(row.kind), ", ".join(row.to_addrs or []) or "nobody",
        row.case_id, row.attempts, row.created_at, row.last_error or "",
        error_in_words(row.last_error, row.attempts),
    )  # fmt: skip


def count_dead(session: Session) -> int:
    exchange = session.execute(
        select(func.count(ExchangeMessage.id)).where(ExchangeMessage.status == OutStatus.DEAD)
    ).scalar_one()
    mail = session.execute(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status == OUTBOX_DEAD)
    ).scalar_one()
    return int(exchange) + int(mail)


def list_dead(session: Session) -> list[DeadLetter]:
    """Every message that could not be delivered: exchange messages, then emails."""
    names = _partner_names(session)
    mail = session.execute(
        select(OutboxMessage).where(OutboxMessage.status == OUTBOX_DEAD).order_by(OutboxMessage.id)
    ).scalars()
    return [_from_exchange(r, names) for r in dead_exchange_messages(session)] + [
        _from_outbox(r) for r in mail
    ]


def _dead_row(session: Session, source: Source, item_id: int) -> ExchangeMessage | OutboxMessage:
    row: ExchangeMessage | OutboxMessage | None
    if source is Source.EXCHANGE:
        row = session.get(ExchangeMessage, item_id)
        dead = row is not None and row.direction == "out" and row.status == OutStatus.DEAD
    else:
        row = session.get(OutboxMessage, item_id)
        dead = row is not None and row.status == OUTBOX_DEAD
    if row is None or not dead:
        raise ExchangeError(
            "that message is no longer a dead letter: someone resent or abandoned it"
        )
    return row


def get_dead(session: Session, source: Source, item_id: int) -> DeadLetter:
    row = _dead_row(session, source, item_id)
    if isinstance(row, ExchangeMessage):
        return _from_exchange(row, _partner_names(session))
    return _from_outbox(row)


def _timeline(session: Session, case_id: int | None, summary: str, actor: str, ref: str) -> None:
    if case_id is not None:
        session.add(
            TimelineEntry(case_id=case_id, kind="exchange", summary=summary, actor=actor, ref=ref)
        )


def resend(
    session: Session, settings: Settings, source: Source, item_id: int, actor: str
) -> DeadLetter:
    """Put a dead letter back in the queue, from now: an HTTPS message and an email get
    their retries again; an exchange message by mail is mailed once more at once (a person
    may read it: it is not sent over and over), then waits for the receipt as before."""
    row = _dead_row(session, source, item_id)
    letter = get_dead(session, source, item_id)
    if row.case_id is not None:
        case = session.get(Case, row.case_id)
        if case is not None and case.status == CLOSED:
            # Nothing goes out about a closed case (as no timer sends one).
            raise ExchangeError(
                f"case {letter.case_tag} is closed, so nothing more is sent about it: "
                "abandon the message, or reopen the case first"
            )
    now = utcnow()
    row.last_error = None
    if isinstance(row, OutboxMessage):
        row.status, row.attempts, row.next_attempt_at = OUTBOX_PENDING, 0, now
    elif row.channel == Channel.MAIL.value:
        # Each send has its own Message-ID (by attempt), so the count goes on, not back.
        row.attempts += 1
        transport_mail.queue_mail(
            session, settings, row, get_partner(session, row.partner_la).email
        )
        row.status = OutStatus.AWAITING_RECEIPT.value
        row.next_attempt_at = now + mail_backoff(settings, row.attempts)
    else:
        row.status, row.attempts, row.next_attempt_at = OutStatus.QUEUED.value, 0, now
    _timeline(session, row.case_id, f"{letter.title}: sent again", actor, f"{source}:{item_id}")
    audit.record(
        session, actor=actor, action="dead_letter.resend", entity=f"{source}_message",
        entity_id=item_id, detail={"case_id": row.case_id, "error": letter.error},
    )  # fmt: skip
    session.flush()
    return letter


def abandon(session: Session, source: Source, item_id: int, reason: str, actor: str) -> DeadLetter:
    """Give up on a dead letter, with the reason: it is never sent, and the case says so."""
    reason = " ".join(reason.split())
    if not reason:
        raise ExchangeError("say why the message is abandoned")
    if len(reason) > REASON_MAX:
        raise ExchangeError(f"the reason must be {REASON_MAX} characters or fewer")
    row = _dead_row(session, source, item_id)
    letter = get_dead(session, source, item_id)
    row.status = OutStatus.ABANDONED.value
    if isinstance(row, ExchangeMessage):
        row.next_attempt_at = None
    _timeline(
        session, row.case_id, f"{letter.title} could not be delivered and was abandoned: {reason}",
        actor, f"{source}:{item_id}",
    )  # fmt: skip
    audit.record(
        session, actor=actor, action="dead_letter.abandon", entity=f"{source}_message",
        entity_id=item_id, detail={"case_id": row.case_id, "reason": reason},
    )  # fmt: skip
    session.flush()
    return letter
