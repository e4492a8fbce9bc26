"""Named reads for the triage queue: the list (urgent first), one referral with its source
and stored candidates. Pages and commands call these; none of them runs the matcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from gateway.intake.content import MessageContent, read_content
from gateway.matching.candidates import CandidateView, candidates_for
from gateway.models.intake import RawMessage
from gateway.models.referral import Referral, TriageStatus, Urgency
from gateway.settings import Settings

#: The child's details a triage row shows (the rest is on the referral's own page).
DRAFT_FIELDS = ("forename", "surname", "dob", "sex", "upn", "postcode", "age_range")

#: Safeguarding first, then urgent, then the rest; oldest first within each.
_URGENCY_ORDER = case(
    (Referral.urgency == Urgency.SAFEGUARDING.value, 0),
    (Referral.urgency == Urgency.URGENT.value, 1),
    else_=2,
)


@dataclass(frozen=True)
class TriageRow:
    id: int
    received: date
    received_at: datetime
    channel: str
    urgency: str
    draft: dict[str, Any]
    gaps: tuple[str, ...]
    candidates: tuple[CandidateView, ...]

    @property
    def urgent(self) -> bool:
        return self.urgency != Urgency.ROUTINE.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received": self.received.isoformat(),
            "channel": self.channel,
            "urgency": self.urgency,
            "urgent": self.urgent,
            "draft": {k: self.draft.get(k) for k in DRAFT_FIELDS},
            "gaps": list(self.gaps),
            "candidates": [c.as_dict() for c in self.candidates],
        }


def _row(referral: Referral, cands: list[CandidateView]) -> TriageRow:
    return TriageRow(
        id=referral.id,
        received=referral.received_on,
        received_at=referral.created_at,
        channel=referral.channel,
        urgency=referral.urgency,
        draft=dict(referral.details or {}),
        gaps=tuple(referral.gaps or ()),
        candidates=tuple(cands),
    )


def count_awaiting(session: Session) -> int:
    return int(
        session.execute(
            select(func.count(Referral.id)).where(
                Referral.triage_status == TriageStatus.AWAITING.value
            )
        ).scalar_one()
    )


def list_awaiting(session: Session, *, limit: int = 50, offset: int = 0) -> list[TriageRow]:
    """Referrals awaiting triage, safeguarding and urgent first, each with its candidates."""
    referrals = list(
        session.execute(
            select(Referral)
            .where(Referral.triage_status == TriageStatus.AWAITING.value)
            .order_by(_URGENCY_ORDER, Referral.received_on, Referral.id)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )
    found = candidates_for(session, [f"referral:{r.id}" for r in referrals])
    return [_row(r, found[f"referral:{r.id}"]) for r in referrals]


@dataclass(frozen=True)
class TriageItem:
    """One referral for the triage page: the row, the referral and what its message says."""

    row: TriageRow
    referral: Referral
    raw: RawMessage | None
    content: MessageContent | None


def get_referral(session: Session, referral_id: int) -> Referral | None:
    return session.get(Referral, referral_id)


def triage_item(
    session: Session, settings: Settings, engine: Engine, referral_id: int
) -> TriageItem | None:
    """A referral (in the queue or already decided) with its source message and candidates."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        return None
    found = candidates_for(session, [f"referral:{referral.id}"])
    raw = session.get(RawMessage, referral.raw_id) if referral.raw_id else None
    content = read_content(settings, engine, raw) if raw is not None else None
    return TriageItem(_row(referral, found[f"referral:{referral.id}"]), referral, raw, content)
