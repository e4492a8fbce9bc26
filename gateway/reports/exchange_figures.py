"""The exchange in a period: moves in and out by partner LA, and how long enquiries waited
for their first reply (ours to other LAs, theirs to us)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gateway.models.exchange import ExchangeMessage, Monitoring
from gateway.reports import sources
from gateway.reports.figures import Count, distribution, median

#: Upper bounds (days) of the exchange response-time bands.
RESPONSE_BANDS = (1, 3, 7, 14)
NO_REPLY = "No reply yet"


@dataclass(frozen=True)
class PartnerMoves:
    la_code: str
    name: str
    moves_in: int
    moves_out: int


@dataclass(frozen=True)
class PartnerResponse:
    la_code: str
    name: str
    sent: int
    replied: int
    median_days: float | None


@dataclass(frozen=True)
class Responses:
    """Enquiries in the period and the replies to them."""

    sent: int
    replied: int
    median_days: float | None
    bands: tuple[Count, ...]  # the last band: no reply yet
    by_partner: tuple[PartnerResponse, ...]


def moves(
    session: Session, partners: dict[str, str], start_at: datetime, end_at: datetime
) -> tuple[PartnerMoves, ...]:
    moves_out = dict(
        session.execute(
            select(Monitoring.partner_la, func.count(Monitoring.id))
            .where(Monitoring.started_at >= start_at, Monitoring.started_at < end_at)
            .group_by(Monitoring.partner_la)
        ).all()
    )
    moves_in = dict(
        session.execute(
            select(ExchangeMessage.partner_la, func.count(ExchangeMessage.id))
            .where(
                ExchangeMessage.direction == "in",
                ExchangeMessage.doc_type.in_(("enquiry", "case-transfer")),
                ExchangeMessage.created_at >= start_at,
                ExchangeMessage.created_at < end_at,
            )
            .group_by(ExchangeMessage.partner_la)
        ).all()
    )
    codes = sorted(set(moves_in) | set(moves_out))
    return tuple(
        PartnerMoves(
            c, sources.partner_name(partners, c), int(moves_in.get(c, 0)), int(moves_out.get(c, 0))
        )
        for c in codes
    )


def responses(
    session: Session, partners: dict[str, str], start_at: datetime, end_at: datetime, ask: str
) -> Responses:
    """Enquiries sent in the period in direction `ask` and the first reply to each."""
    answer = "in" if ask == "out" else "out"
    reply = (
        select(
            ExchangeMessage.in_reply_to,
            ExchangeMessage.partner_la,
            func.min(ExchangeMessage.created_at).label("at"),
        )
        .where(
            ExchangeMessage.direction == answer,
            ExchangeMessage.doc_type == "reply",
            ExchangeMessage.in_reply_to.is_not(None),
        )
        .group_by(ExchangeMessage.in_reply_to, ExchangeMessage.partner_la)
        .subquery()
    )
    rows = session.execute(
        select(ExchangeMessage.partner_la, ExchangeMessage.created_at, reply.c.at)
        .outerjoin(
            reply,
            and_(
                reply.c.in_reply_to == ExchangeMessage.message_id,
                reply.c.partner_la == ExchangeMessage.partner_la,
            ),
        )
        .where(
            ExchangeMessage.direction == ask,
            ExchangeMessage.doc_type == "enquiry",
            ExchangeMessage.created_at >= start_at,
            ExchangeMessage.created_at < end_at,
        )
    )
    waits: list[float] = []
    per: dict[str, list[float | None]] = {}
    for la, sent_at, replied_at in rows:
        wait = None
        if replied_at is not None:
            wait = max(0.0, (replied_at - sent_at).total_seconds() / 86400)
            waits.append(wait)
        per.setdefault(la, []).append(wait)
    dist = distribution(waits, RESPONSE_BANDS, whole=False)
    sent = sum(len(v) for v in per.values())
    bands = (*dist.bands, Count("no_reply", NO_REPLY, sent - len(waits)))
    return Responses(
        sent=sent,
        replied=len(waits),
        median_days=dist.median_days,
        bands=bands,
        by_partner=tuple(
            PartnerResponse(
                la,
                sources.partner_name(partners, la),
                len(w),
                sum(x is not None for x in w),
                median([x for x in w if x is not None]),
            )
            for la, w in sorted(per.items())
        ),
    )
