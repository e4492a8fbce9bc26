"""One disclosure register: every time a child's data leaves the system, one row saying
what data (fields), to whom, on which lawful basis (from a fixed list), by which channel,
who approved it and when. Letters, enquiries, replies, onward referrals, CTF downloads,
report exports and subject access archives all write here, in the same transaction as
the act that discloses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import UserError
from gateway.models.exchange import Disclosure


class LawfulBasis(enum.StrEnum):
    """UK GDPR Article 6 bases this service discloses under (consent is never the basis);
    each is paired with Article 9(2)(g) and DPA 2018 Schedule 1 for special category data."""

    PUBLIC_TASK = "public_task"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    SUBJECT_ACCESS = "subject_access"


BASES = {
    LawfulBasis.PUBLIC_TASK: "Public task: UK GDPR Art 6(1)(e) (Education Act 1996 s.436A); "
    "Art 9(2)(g) with DPA 2018 Sch 1",
    LawfulBasis.LEGAL_OBLIGATION: "Legal obligation: UK GDPR Art 6(1)(c); "
    "Art 9(2)(g) with DPA 2018 Sch 1",
    LawfulBasis.VITAL_INTERESTS: "Vital interests: UK GDPR Art 6(1)(d); Art 9(2)(c)",
    LawfulBasis.SUBJECT_ACCESS: "Subject access: UK GDPR Art 15 (the data subject's right)",
}

KINDS = {
    "letter": "Letter to the referrer",
    "enquiry": "Enquiry to another authority",
    "reply": "Reply to another authority",
    "status_request": "Status request to another authority",
    "exchange": "Secure exchange message",
    "onward_referral": "Onward referral",
    "ctf_download": "Lost-pupil file downloaded",
    "report_export": "Report exported",
    "sar_archive": "Subject access archive",
}


def record(
    session: Session,
    *,
    kind: str,
    recipient: str,
    basis: LawfulBasis,
    channel: str,
    fields: list[str],
    actor: str,
    case_id: int | None = None,
    recipient_la: str | None = None,
    approved_by: str | None = None,
    message_id: str | None = None,
) -> Disclosure:
    """Write one row of the register (and its audit entry) in the caller's transaction."""
    if kind not in KINDS:  # pragma: no cover - a programming error, not input
        raise ValueError(f"unknown disclosure kind {kind!r}")
    row = Disclosure(
        kind=kind, case_id=case_id, recipient=recipient[:500], recipient_la=recipient_la,
        basis=basis.value, lawful_basis=BASES[basis][:200], channel=channel[:10],
        data_items=list(fields), actor=actor, approved_by=approved_by or actor,
        message_id=message_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action=f"disclosure.{kind}",
        entity="case" if case_id else "disclosure", entity_id=case_id or row.id,
        detail={"disclosure_id": row.id, "channel": channel, "fields": list(fields)},
    )  # fmt: skip
    return row


@dataclass(frozen=True)
class DisclosureRow:
    id: int
    at: datetime
    kind: str
    case_id: int | None
    recipient: str
    basis: str
    channel: str
    fields: tuple[str, ...]
    approved_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at.isoformat(), "kind": self.kind, "case": self.case_id,
            "recipient": self.recipient, "lawful_basis": self.basis, "channel": self.channel,
            "fields": list(self.fields), "approved_by": self.approved_by,
        }  # fmt: skip


def _row(d: Disclosure) -> DisclosureRow:
    return DisclosureRow(
        d.id, d.at, d.kind, d.case_id, d.recipient, d.basis or "public_task", d.channel,
        tuple(d.data_items or ()), d.approved_by or d.actor,
    )  # fmt: skip


def list_disclosures(
    session: Session, *, case_id: int | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[DisclosureRow], int]:
    """Newest first, optionally for one case; with the total."""
    base = select(Disclosure)
    if case_id is not None:
        if case_id < 1:
            raise UserError("a case number is a positive whole number")
        base = base.where(Disclosure.case_id == case_id)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(Disclosure.at.desc(), Disclosure.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return [_row(d) for d in rows], int(total)
