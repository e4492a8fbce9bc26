"""Enums and small records shared by the exchange's services."""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: The lawful basis stated in every document that carries a child's data.
LAWFUL_BASIS = (
    "UK GDPR Art 6(1)(e) public task and 6(1)(c) legal obligation "
    "(Education Act 1996 s.436A); Art 9(2)(g) with DPA 2018 Sch 1"
)


class Channel(enum.StrEnum):
    HTTPS = "https"
    MAIL = "mail"


class Direction(enum.StrEnum):
    OUT = "out"
    IN = "in"


class OutStatus(enum.StrEnum):
    QUEUED = "queued"
    AWAITING_RECEIPT = "awaiting_receipt"
    DELIVERED = "delivered"
    DEAD = "dead"
    #: Never sent: the case it was about closed first (no timer discloses a closed case).
    WITHDRAWN = "withdrawn"
    #: A dead letter an officer gave up on, with a reason (gateway.exchange.dead_letters).
    ABANDONED = "abandoned"


class MonitoringStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class InStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    RECEIPT = "receipt"


class ProposalKind(enum.StrEnum):
    REPLY = "reply"  # answer a partner's enquiry or status request
    CASE_UPDATE = "case_update"  # a partner's reply proposes an outcome for our case
    FREE_TEXT = "free_text"  # a partner answered from a mail client, in words


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    RECEIPT = "receipt"
    REFUSED = "refused"


@dataclass(frozen=True)
class InboundOutcome:
    """What happened to one inbound message, and the sealed receipt to answer with."""

    verdict: Verdict
    message_id: str | None = None
    receipt: bytes | None = None
    partner_la: str | None = None
    detail: str = ""
